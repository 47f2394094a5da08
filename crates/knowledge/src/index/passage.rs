//! The passage of an article that answers a question: the paragraph (or, in a long paragraph,
//! the run of sentences) holding most of the question's terms.

use std::collections::HashSet;

use super::{ArticleIndex, IndexError};

/// Passages longer than this are cut at sentence ends.
const MAX_PASSAGE_CHARS: usize = 600;

impl ArticleIndex {
    /// The passage of `body` (an article in `locale`) that best answers `question`.
    pub fn passage(&self, locale: &str, question: &str, body: &str) -> Result<String, IndexError> {
        let analyzer = self.analyzer_for(locale);
        let wanted: HashSet<String> = self.terms(analyzer, question)?.into_iter().collect();
        let mut failure = None;
        let passage = best_passage(body, |text| {
            let terms = self.terms(analyzer, text).unwrap_or_else(|error| {
                failure = Some(error);
                Vec::new()
            });
            terms.iter().filter(|term| wanted.contains(*term)).count()
        });
        match failure {
            Some(error) => Err(error),
            None => Ok(passage),
        }
    }
}

/// The passage of `body` with the highest `matches` (the first on ties); the first passage
/// when none matches.
pub fn best_passage(body: &str, mut matches: impl FnMut(&str) -> usize) -> String {
    let passages = passages(body);
    let mut best: Option<(usize, &str)> = None;
    for passage in &passages {
        let found = matches(passage);
        if best.is_none_or(|(most, _)| found > most) {
            best = Some((found, passage));
        }
    }
    best.map(|(_, passage)| passage.to_string()).unwrap_or_default()
}

/// Paragraphs, each with the heading above it; long ones in runs of whole sentences.
fn passages(body: &str) -> Vec<String> {
    let mut passages = Vec::new();
    let mut heading = String::new();
    for paragraph in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if paragraph.starts_with('#') && !paragraph.contains('\n') {
            heading = paragraph.to_string();
            continue;
        }
        for run in sentence_runs(paragraph) {
            passages.push(if heading.is_empty() { run } else { format!("{heading}\n\n{run}") });
        }
        heading.clear();
    }
    if passages.is_empty() && !heading.is_empty() {
        passages.push(heading);
    }
    passages
}

/// The paragraph whole, or cut after sentence ends into runs of at most `MAX_PASSAGE_CHARS`.
fn sentence_runs(paragraph: &str) -> Vec<String> {
    if paragraph.chars().count() <= MAX_PASSAGE_CHARS {
        return vec![paragraph.to_string()];
    }
    let mut runs = Vec::new();
    let mut run = String::new();
    for sentence in sentences(paragraph) {
        if !run.is_empty() && run.chars().count() + sentence.chars().count() > MAX_PASSAGE_CHARS {
            runs.push(std::mem::take(&mut run).trim().to_string());
        }
        run.push_str(sentence);
    }
    if !run.trim().is_empty() {
        runs.push(run.trim().to_string());
    }
    runs
}

/// Sentences with their end marks and following space (Latin and CJK marks).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let cjk_end = matches!(c, '。' | '！' | '？');
        let latin_end =
            matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|(_, next)| next.is_whitespace());
        if cjk_end || latin_end {
            let mut end = at + c.len_utf8();
            while let Some((next_at, next)) = chars.peek().copied() {
                if !next.is_whitespace() {
                    break;
                }
                end = next_at + next.len_utf8();
                chars.next();
            }
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(words: &'static [&'static str]) -> impl FnMut(&str) -> usize {
        move |text: &str| words.iter().filter(|w| text.to_lowercase().contains(*w)).count()
    }

    #[test]
    fn picks_the_paragraph_with_most_of_the_question() {
        let body = "# Refunds\n\nWe refund to the original card.\n\n## Timing\n\nRefunds take five days after we receive the return.";
        assert_eq!(
            best_passage(body, count(&["refund", "days"])),
            "## Timing\n\nRefunds take five days after we receive the return."
        );
        assert_eq!(best_passage(body, count(&["nothing"])), "# Refunds\n\nWe refund to the original card.");
    }

    #[test]
    fn long_paragraphs_are_cut_at_sentences() {
        let filler = "This sentence says little of use. ".repeat(20);
        let body = format!("{filler}Your parcel ships within two days. {filler}");
        let passage = best_passage(&body, count(&["parcel"]));
        assert!(passage.contains("Your parcel ships within two days."), "{passage}");
        assert!(passage.chars().count() <= MAX_PASSAGE_CHARS, "{}", passage.len());
        let zh = sentences("退貨很簡單。退款五天內到帳！");
        assert_eq!(zh, ["退貨很簡單。", "退款五天內到帳！"]);
    }
}
