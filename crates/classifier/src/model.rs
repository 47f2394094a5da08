//! `keyword-rules-v1`: a transparent keyword model. Each intent has phrases in several languages;
//! the intent with the most matched weight wins. It stands until the trainable model replaces it.

use switchboard_proto::events::v1::IntentScore;

pub const MODEL_VERSION: &str = "keyword-rules-v1";
/// Intent given when no phrase matches.
pub const UNKNOWN_INTENT: &str = "unknown";

/// (intent, phrases). Latin-script phrases match whole words; CJK phrases match anywhere.
const INTENTS: &[(&str, &[&str])] = &[
    (
        "human_agent",
        &[
            "human",
            "agent",
            "real person",
            "a person",
            "representative",
            "speak to someone",
            "talk to someone",
            "operator",
            "人工",
            "客服",
            "真人",
            "專人",
            "hablar con una persona",
            "agente",
            "conseiller",
            "mit einem menschen",
            "mitarbeiter",
        ],
    ),
    (
        "order_status",
        &[
            "where is my order",
            "order status",
            "track",
            "tracking",
            "my order",
            "has my order",
            "when will my order",
            "not arrived yet",
            "我的订单",
            "订单状态",
            "我的訂單",
            "訂單狀態",
            "物流",
            "dónde está mi pedido",
            "mi pedido",
            "où est ma commande",
            "ma commande",
            "wo ist meine bestellung",
            "meine bestellung",
            "sendungsverfolgung",
        ],
    ),
    (
        "cancel_order",
        &[
            "cancel my order",
            "cancel the order",
            "cancel order",
            "cancel",
            "取消订单",
            "取消訂單",
            "cancelar",
            "annuler",
            "stornieren",
        ],
    ),
    (
        "return_refund",
        &[
            "refund",
            "return",
            "money back",
            "send it back",
            "退款",
            "退货",
            "退貨",
            "reembolso",
            "devolver",
            "remboursement",
            "retourner",
            "rückerstattung",
            "zurückgeben",
        ],
    ),
    (
        "billing_invoice",
        &[
            "invoice",
            "bill",
            "billing",
            "charged twice",
            "receipt",
            "发票",
            "發票",
            "账单",
            "帳單",
            "factura",
            "facture",
            "rechnung",
        ],
    ),
    (
        "payment_problem",
        &[
            "payment failed",
            "card declined",
            "declined",
            "payment",
            "can't pay",
            "cannot pay",
            "支付失败",
            "付款",
            "pago",
            "paiement",
            "zahlung",
        ],
    ),
    (
        "account_access",
        &[
            "password",
            "reset my password",
            "log in",
            "login",
            "locked out",
            "sign in",
            "account access",
            "密码",
            "密碼",
            "登录",
            "登入",
            "contraseña",
            "mot de passe",
            "passwort",
        ],
    ),
    (
        "delivery_problem",
        &[
            "damaged",
            "wrong item",
            "missing item",
            "late delivery",
            "never arrived",
            "delivery",
            "破损",
            "送错",
            "dañado",
            "endommagé",
            "beschädigt",
        ],
    ),
    (
        "complaint",
        &[
            "complaint",
            "unacceptable",
            "terrible",
            "angry",
            "disappointed",
            "worst",
            "投诉",
            "投訴",
            "queja",
            "plainte",
            "beschwerde",
        ],
    ),
    (
        "sales_lead",
        &[
            "pricing", "price", "quote", "buy", "purchase", "how much", "报价", "價格", "价格", "precio",
            "prix", "preis", "angebot",
        ],
    ),
    (
        "book_demo",
        &[
            "demo",
            "book a call",
            "schedule a call",
            "appointment",
            "预约",
            "預約",
            "cita",
            "rendez-vous",
            "termin",
        ],
    ),
    (
        "technical_problem",
        &[
            "not working",
            "doesn't work",
            "error",
            "crash",
            "broken",
            "bug",
            "outage",
            "故障",
            "无法",
            "無法",
            "no funciona",
            "ne fonctionne pas",
            "funktioniert nicht",
        ],
    ),
    ("greeting", &["hello", "hi", "hey", "good morning", "你好", "您好", "hola", "bonjour", "hallo"]),
    ("thanks", &["thank you", "thanks", "谢谢", "謝謝", "gracias", "merci", "danke"]),
];

/// What the model reads in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub intent: String,
    pub confidence: f32,
    pub alternatives: Vec<IntentScore>,
    pub language: String,
    pub model_version: String,
}

/// Classifies a text: intent with a confidence in 0..1, other candidates, and language.
pub fn classify(text: &str) -> Reading {
    let normalized = format!(" {} ", normalize(text));
    let mut scores: Vec<(&str, f32)> = INTENTS
        .iter()
        .map(|(intent, phrases)| (*intent, score(&normalized, phrases)))
        .filter(|(_, score)| *score > 0.0)
        .collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f32 = scores.iter().map(|(_, score)| score).sum();
    let confidence = |score: f32| (score / (total + 0.5)).min(0.95);
    let (intent, best) = scores.first().copied().unwrap_or((UNKNOWN_INTENT, 0.0));
    Reading {
        intent: intent.to_string(),
        confidence: if best > 0.0 { confidence(best) } else { 0.0 },
        alternatives: scores
            .iter()
            .skip(1)
            .map(|(intent, score)| IntentScore {
                intent: (*intent).to_string(),
                confidence: confidence(*score),
            })
            .collect(),
        language: crate::language::detect(text),
        model_version: MODEL_VERSION.to_string(),
    }
}

/// Matched weight: longer phrases weigh more, so "cancel my order" beats "my order".
fn score(normalized: &str, phrases: &[&str]) -> f32 {
    phrases.iter().filter(|phrase| matches(normalized, phrase)).map(|phrase| weight(phrase)).sum()
}

/// Words in a phrase; for scripts written without spaces, one word per two characters.
fn weight(phrase: &str) -> f32 {
    let words = if phrase.chars().any(is_cjk) {
        phrase.chars().count().div_ceil(2)
    } else {
        phrase.split_whitespace().count()
    };
    words as f32
}

fn matches(normalized: &str, phrase: &str) -> bool {
    if phrase.chars().any(is_cjk) {
        normalized.contains(phrase)
    } else {
        normalized.contains(&format!(" {phrase} "))
    }
}

/// Lower case, punctuation to spaces (apostrophes kept), spaces collapsed.
fn normalize(text: &str) -> String {
    let spaced: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' || is_cjk(c) { c } else { ' ' })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_order_status_question() {
        let reading = classify("Where is my order 12345?");
        assert_eq!(reading.intent, "order_status");
        assert!(reading.confidence > 0.5, "{reading:?}");
        assert_eq!(reading.model_version, MODEL_VERSION);
    }

    #[test]
    fn a_request_for_a_human_wins_over_the_topic() {
        assert_eq!(classify("I want to talk to a human about my refund").intent, "human_agent");
    }

    #[test]
    fn reads_chinese_simplified_and_traditional() {
        assert_eq!(classify("我的订单在哪里？").intent, "order_status");
        assert_eq!(classify("我要退貨").intent, "return_refund");
    }

    #[test]
    fn longer_phrases_outweigh_their_parts() {
        assert_eq!(classify("please cancel my order").intent, "cancel_order");
    }

    #[test]
    fn says_unknown_with_zero_confidence_when_nothing_matches() {
        let reading = classify("qwerty zxcv");
        assert_eq!(reading.intent, UNKNOWN_INTENT);
        assert_eq!(reading.confidence, 0.0);
    }
}
