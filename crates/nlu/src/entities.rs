//! Facts the automation needs, with their byte spans and normalised values: order, invoice and
//! tracking numbers, email addresses, phone numbers, amounts and dates. Identifiers are taken
//! only beside a word that names them (in several languages), so a price is not an order number.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    OrderNumber,
    InvoiceNumber,
    TrackingNumber,
    Email,
    Phone,
    Amount,
    Date,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderNumber => "order_number",
            Self::InvoiceNumber => "invoice_number",
            Self::TrackingNumber => "tracking_number",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Amount => "amount",
            Self::Date => "date",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entity {
    pub kind: Kind,
    /// Byte offsets into the text.
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub value: String,
}

struct Patterns {
    rules: Vec<(Kind, Regex)>,
}

const ID: &str = r"#?\s?([A-Za-z]{0,3}[-]?\d[\dA-Za-z-]{2,})";

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let rule = |kind, pattern: &str| Regex::new(pattern).ok().map(|regex| (kind, regex));
        let rules = [
            rule(Kind::Email, r"(?i)\b([a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,})\b"),
            rule(
                Kind::TrackingNumber,
                r"(?i)\b(?:tracking|track|shipment|parcel|package|waybill)\s*(?:number|no\.?|num|id|code|#)?\s*[:#]?\s*([A-Z0-9]{8,30})\b|\b(1Z[0-9A-Z]{16})\b|(?:运单号|運單號|快递单号|快遞單號|物流单号|物流單號)[:：\s]*([A-Z0-9]{8,30})",
            ),
            rule(
                Kind::InvoiceNumber,
                &format!(r"(?i)\b(?:invoice|bill|receipt|factura|facture|rechnung)s?\s*(?:number|no\.?|num|id)?\s*[:]?\s*{ID}|(?:发票|發票|账单|帳單)[号號]?[:：\s]*{ID}"),
            ),
            rule(
                Kind::OrderNumber,
                &format!(r"(?i)\b(?:order|purchase|pedido|commande|bestellung|ordine|bestelling|sipariş|pesanan|đơn hàng)s?\s*(?:number|no\.?|num|id|nummer|número|numéro)?\s*[:]?\s*{ID}|(?:订单|訂單|注文|주문)[号號]?(?:番号|번호)?[:：\s]*{ID}"),
            ),
            rule(Kind::Amount, r"(?i)([$€£¥])\s?(\d{1,3}(?:[,.]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)|(\d+(?:[.,]\d{1,2})?)\s?(dollars?|usd|eur|euros?|pounds?|gbp|yuan|rmb|cny|元|块|塊|円|yen)"),
            rule(
                Kind::Date,
                r"(?i)\b(\d{4})-(\d{1,2})-(\d{1,2})\b|\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b|(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号號]|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b",
            ),
            rule(Kind::Phone, r"(\+?\d[\d\s().-]{6,18}\d)"),
        ];
        Patterns { rules: rules.into_iter().flatten().collect() }
    })
}

/// Entities in `text`, by position; where two overlap, the earlier rule (more specific) wins.
pub fn extract(text: &str) -> Vec<Entity> {
    let mut found: Vec<Entity> = Vec::new();
    for (kind, regex) in &patterns().rules {
        for captures in regex.captures_iter(text) {
            let Some(entity) = entity(*kind, &captures) else { continue };
            if found.iter().all(|e| entity.end <= e.start || e.end <= entity.start) {
                found.push(entity);
            }
        }
    }
    found.sort_by_key(|e| e.start);
    found
}

fn entity(kind: Kind, captures: &regex::Captures<'_>) -> Option<Entity> {
    let groups: Vec<regex::Match<'_>> = captures.iter().skip(1).flatten().collect();
    let whole = captures.get(0)?;
    let (span, value) = match kind {
        Kind::Email => (groups.first()?.to_owned(), groups.first()?.as_str().to_lowercase()),
        Kind::OrderNumber | Kind::InvoiceNumber | Kind::TrackingNumber => {
            let id = groups.first()?;
            if !id.as_str().chars().any(|c| c.is_ascii_digit()) {
                return None;
            }
            (id.to_owned(), id.as_str().trim_start_matches('#').trim().to_uppercase())
        }
        Kind::Phone => {
            let digits: String = whole.as_str().chars().filter(char::is_ascii_digit).collect();
            if !(8..=15).contains(&digits.len()) {
                return None;
            }
            let plus = if whole.as_str().starts_with('+') { "+" } else { "" };
            (whole, format!("{plus}{digits}"))
        }
        Kind::Amount => (whole, amount(captures)?),
        Kind::Date => (whole, date(captures)?),
    };
    Some(Entity { kind, start: span.start(), end: span.end(), text: span.as_str().to_owned(), value })
}

/// `12.50 USD`: decimal point, thousands separators dropped, ISO currency.
fn amount(captures: &regex::Captures<'_>) -> Option<String> {
    let (symbol, number) = match (captures.get(1), captures.get(2), captures.get(3), captures.get(4)) {
        (Some(symbol), Some(number), _, _) => (symbol.as_str().to_lowercase(), number.as_str()),
        (_, _, Some(number), Some(word)) => (word.as_str().to_lowercase(), number.as_str()),
        _ => return None,
    };
    let currency = match symbol.as_str() {
        "$" | "dollar" | "dollars" | "usd" => "USD",
        "€" | "eur" | "euro" | "euros" => "EUR",
        "£" | "pound" | "pounds" | "gbp" => "GBP",
        "¥" | "yuan" | "rmb" | "cny" | "元" | "块" | "塊" => "CNY",
        "円" | "yen" => "JPY",
        _ => return None,
    };
    // "1,299.00" and "1.299,00": the last separator followed by one or two digits is the decimal point.
    let decimal_at = number.rfind([',', '.']).filter(|&at| number.len() - at - 1 <= 2);
    let (whole, fraction) = match decimal_at {
        Some(at) => (&number[..at], &number[at + 1..]),
        None => (number, ""),
    };
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let value = if fraction.is_empty() { whole } else { format!("{whole}.{fraction:0<2}") };
    Some(format!("{value} {currency}"))
}

/// ISO 8601 (`2026-03-04`), or `--03-04` without a year. Slashed dates are read day first
/// when the first number cannot be a month, month first otherwise.
fn date(captures: &regex::Captures<'_>) -> Option<String> {
    let number = |i: usize| captures.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let (year, month, day) = if let (Some(y), Some(m), Some(d)) = (number(1), number(2), number(3)) {
        (Some(y), m, d)
    } else if let (Some(a), Some(b), Some(y)) = (number(4), number(5), number(6)) {
        let year = if y < 100 { 2000 + y } else { y };
        if a > 12 { (Some(year), b, a) } else { (Some(year), a, b) }
    } else if let (Some(m), Some(d)) = (number(8), number(9)) {
        (number(7), m, d)
    } else {
        let month = captures.get(10)?.as_str().to_lowercase();
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
        let m = months.iter().position(|name| month.starts_with(name))? as u32 + 1;
        (number(12), m, number(11)?)
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(match year {
        Some(year) => format!("{year:04}-{month:02}-{day:02}"),
        None => format!("--{month:02}-{day:02}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(Kind, String)> {
        extract(text).into_iter().map(|e| (e.kind, e.value)).collect()
    }

    #[test]
    fn identifiers_need_their_names() {
        assert_eq!(values("where is order #A10234?"), [(Kind::OrderNumber, "A10234".into())]);
        assert_eq!(values("我的订单号：88213456 还没到"), [(Kind::OrderNumber, "88213456".into())]);
        assert_eq!(values("check invoice #12588"), [(Kind::InvoiceNumber, "12588".into())]);
        assert_eq!(
            values("tracking number 1Z999AA10123456784"),
            [(Kind::TrackingNumber, "1Z999AA10123456784".into())]
        );
        assert!(values("I paid 45 dollars").iter().all(|(kind, _)| *kind == Kind::Amount));
    }

    #[test]
    fn contacts_amounts_and_dates_are_normalised() {
        assert_eq!(
            values("mail me at Ann.Lee@Example.com or call +1 (415) 555-0100"),
            [(Kind::Email, "ann.lee@example.com".into()), (Kind::Phone, "+14155550100".into())]
        );
        assert_eq!(values("refund €1.299,50 please"), [(Kind::Amount, "1299.50 EUR".into())]);
        assert_eq!(values("charged $12 twice"), [(Kind::Amount, "12 USD".into())]);
        assert_eq!(values("退我200元"), [(Kind::Amount, "200 CNY".into())]);
        assert_eq!(values("delivered on 2026-03-04"), [(Kind::Date, "2026-03-04".into())]);
        assert_eq!(values("booked for March 3rd, 2027"), [(Kind::Date, "2027-03-03".into())]);
        assert_eq!(
            values("31/12/26 or 12月5日"),
            [(Kind::Date, "2026-12-31".into()), (Kind::Date, "--12-05".into())]
        );
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = "order 55821 to ann@example.com";
        for entity in extract(text) {
            assert_eq!(&text[entity.start..entity.end], entity.text);
        }
    }
}

/// An annotated entity in a labelled text (character offsets, as annotators count them).
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub kind: Kind,
    pub start_char: usize,
    pub end_char: usize,
    pub value: String,
}

/// Extraction quality for one kind: spans overlap to count as found; values compare without
/// `#`, case or leading zeros.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindScore {
    pub kind: Kind,
    pub annotated: usize,
    pub found: usize,
    pub extracted: usize,
    pub precision: f64,
    pub recall: f64,
    pub value_accuracy: f64,
}

/// Scores extraction over texts with at most their annotations of `kinds`.
pub fn score(texts: &[(String, Vec<Annotation>)], kinds: &[Kind]) -> Vec<KindScore> {
    kinds
        .iter()
        .map(|&kind| {
            let (mut annotated, mut found, mut extracted, mut values) = (0, 0, 0, 0);
            for (text, annotations) in texts {
                let got: Vec<Entity> = extract(text).into_iter().filter(|e| e.kind == kind).collect();
                extracted += got.len();
                for annotation in annotations.iter().filter(|a| a.kind == kind) {
                    annotated += 1;
                    let (start, end) = byte_span(text, annotation.start_char, annotation.end_char);
                    if let Some(hit) = got.iter().find(|e| e.start < end && start < e.end) {
                        found += 1;
                        values += usize::from(comparable(&hit.value) == comparable(&annotation.value));
                    }
                }
            }
            let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            KindScore {
                kind,
                annotated,
                found,
                extracted,
                precision: ratio(found, extracted),
                recall: ratio(found, annotated),
                value_accuracy: ratio(values, found),
            }
        })
        .collect()
}

fn byte_span(text: &str, start_char: usize, end_char: usize) -> (usize, usize) {
    let at = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
    (at(start_char), at(end_char))
}

/// The digits and letters of a value, uppercased, without leading zeros or a currency.
fn comparable(value: &str) -> String {
    let number = value.split_whitespace().next().unwrap_or_default();
    let number = number.strip_suffix(".00").unwrap_or(number);
    let kept: String = number.chars().filter(|c| c.is_alphanumeric() || *c == '.').collect();
    kept.trim_start_matches('0').to_uppercase()
}
