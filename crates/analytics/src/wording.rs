//! Grouping questions by similar wording: each question reduced to a key of its content words
//! (lower case, lightly stemmed, stop words and numbers dropped, sorted; CJK text as character
//! pairs), and keys merged when they share most of their words.

use std::collections::BTreeSet;

/// Words that carry no topic in customer questions (English, and a few in other languages).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but",
    "by", "can", "could", "do", "does", "did", "for", "from", "get", "got", "had", "has", "have", "hello",
    "help", "hi", "how", "i", "i'm", "if", "in", "into", "is", "it", "its", "just", "me", "my", "need", "no",
    "not", "of", "on", "or", "our", "please", "should", "so", "some", "than", "thank", "thanks", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "to", "up", "us", "want", "was", "we",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "de", "la", "el",
    "le", "les", "des", "et", "en", "un", "une", "que", "der", "die", "das", "und", "ich", "ist",
];

/// The key a question is grouped by.
pub fn wording(question: &str) -> String {
    let words: BTreeSet<String> = content_words(question).collect();
    if words.is_empty() {
        return question.trim().to_lowercase();
    }
    words.into_iter().collect::<Vec<_>>().join(" ")
}

fn content_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|run| !run.is_empty()).flat_map(|run| {
        if run.chars().any(is_cjk) {
            pairs(run)
        } else {
            let word = run.trim_matches('\'').to_lowercase();
            let keep = !word.is_empty()
                && !STOP_WORDS.contains(&word.as_str())
                && !word.chars().all(|c| c.is_ascii_digit());
            if keep { vec![stem(&word)] } else { Vec::new() }
        }
    })
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// Character pairs of a CJK run (the character itself when alone).
fn pairs(run: &str) -> Vec<String> {
    let chars: Vec<char> = run.chars().collect();
    if chars.len() == 1 {
        return vec![run.to_string()];
    }
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

/// Plural, verb and "-ment" endings off, so "refunds" and "refund", "cancelling" and "cancel",
/// "charged" and "charges", "payments" and "pay" meet.
fn stem(word: &str) -> String {
    let word = word.strip_suffix("'s").unwrap_or(word);
    let n = word.chars().count();
    if n > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    let mut stem = word;
    for (suffix, min) in [("ment", 7), ("ing", 6), ("ed", 5), ("s", 4)] {
        if n >= min && word.ends_with(suffix) && !word.ends_with("ss") {
            // "payments" -> "payment" -> "pay"
            let base = if suffix == "s" { &word[..word.len() - 1] } else { word };
            stem = match base.strip_suffix("ment") {
                Some(root) if base.chars().count() >= 7 => root,
                _ => &word[..word.len() - suffix.len()],
            };
            // "cancelling" -> "cancell" -> "cancel"
            let bytes = stem.as_bytes();
            if suffix != "s" && bytes.len() > 2 && bytes[bytes.len() - 1] == bytes[bytes.len() - 2] {
                stem = &stem[..stem.len() - 1];
            }
            break;
        }
    }
    // A final "e" goes too: "charge", "charged" and "charges" all become "charg".
    match stem.strip_suffix('e') {
        Some(shorter) if shorter.chars().count() >= 3 => shorter.to_string(),
        _ => stem.to_string(),
    }
}

/// Share of words two keys have in common (Jaccard).
pub fn similarity(a: &str, b: &str) -> f32 {
    let a: BTreeSet<&str> = a.split(' ').collect();
    let b: BTreeSet<&str> = b.split(' ').collect();
    let union = a.union(&b).count();
    if union == 0 { 0.0 } else { a.intersection(&b).count() as f32 / union as f32 }
}

/// Keys at least this similar are one gap.
pub const SAME_GAP: f32 = 0.5;

/// Merges `(key, count)` groups, most frequent first: each joins the first earlier group it is
/// similar enough to. Returns, per merged group, the indices of the groups it took in.
pub fn merge(keys: &[(String, u64)]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|a, b| keys[*b].1.cmp(&keys[*a].1).then_with(|| keys[*a].0.cmp(&keys[*b].0)));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for index in order {
        let home = groups.iter_mut().find(|group| similarity(&keys[group[0]].0, &keys[index].0) >= SAME_GAP);
        match home {
            Some(group) => group.push(index),
            None => groups.push(vec![index]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_question_in_other_words_gets_the_same_key() {
        assert_eq!(wording("How do I cancel my subscription?"), wording("cancelling subscriptions, please"));
        assert_eq!(wording("Where is order 12345??"), "order");
        assert_eq!(wording("refund what was charged"), wording("charges refunds"));
        assert_eq!(wording("payments"), wording("pay"));
        assert_eq!(wording("退貨要多久"), "多久 要多 貨要 退貨");
        assert_eq!(wording("?!"), "?!");
    }

    #[test]
    fn similar_keys_merge_into_one_gap() {
        let keys = vec![
            ("cancel subscription".to_string(), 5),
            ("gift wrap".to_string(), 2),
            ("cancel subscription today".to_string(), 3),
        ];
        assert_eq!(merge(&keys), vec![vec![0, 2], vec![1]]);
    }
}
