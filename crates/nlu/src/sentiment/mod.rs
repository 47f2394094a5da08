//! Sentiment (a score in -1..1 and a label) and urgency (low, normal, high, critical), in English
//! and Chinese (Simplified and Traditional): trained n-gram heads ([`trained`]) with lexicons and
//! rules beside them. In the lexicon, negation flips a cue that follows it closely; intensifiers,
//! capitals and exclamation marks strengthen.

mod lexicon;
pub mod trained;

use serde::Serialize;

use crate::intent::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    Negative,
    Neutral,
    Positive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Low,
    Normal,
    High,
    Critical,
}

impl Sentiment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Negative => "negative",
            Self::Neutral => "neutral",
            Self::Positive => "positive",
        }
    }
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Feeling {
    pub score: f32,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
}

/// Scores at or beyond this magnitude are labelled negative or positive.
const LABEL_AT: f32 = 0.25;

/// The trained heads' reading where they are sure, the lexicon's elsewhere (and alone should the
/// heads not train).
pub fn read(text: &Text<'_>) -> Feeling {
    let lexicon = read_lexicon(text.as_str());
    match trained::heads() {
        Ok(heads) => heads.read(text, lexicon),
        Err(_) => lexicon,
    }
}

/// Trains the heads now rather than at the first message; says why if they cannot train.
pub fn warm() -> Result<(), String> {
    trained::heads().map(|_| ()).map_err(|error| error.to_string())
}

/// The lexicon's reading alone.
pub fn read_lexicon(text: &str) -> Feeling {
    let lower = text.to_lowercase();
    let mut score = score(text, &lower);
    let urgency = urgency(text, &lower, score);
    // Nobody writes about fraud, danger or a business that is down feeling neutral.
    if urgency == Urgency::Critical {
        score = score.min(-0.5);
    }
    let sentiment = match score {
        s if s <= -LABEL_AT => Sentiment::Negative,
        s if s >= LABEL_AT => Sentiment::Positive,
        _ => Sentiment::Neutral,
    };
    Feeling { score, sentiment, urgency }
}

/// Latin-script phrases match at word boundaries; CJK phrases anywhere.
fn find_all<'a>(lower: &'a str, phrase: &'a str) -> impl Iterator<Item = usize> + 'a {
    lower.match_indices(phrase).map(|(at, _)| at).filter(move |&at| stands_alone(lower, phrase, at))
}

/// Whether `phrase`, found in `lower` at byte `at`, counts there: a CJK phrase anywhere, a
/// Latin-script one only between word boundaries.
fn stands_alone(lower: &str, phrase: &str, at: usize) -> bool {
    if !phrase.is_ascii() {
        return true;
    }
    let before = lower[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
    let after = lower[at + phrase.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
    before && after
}

/// A list of phrases and an automaton that finds every occurrence of any of them in one pass
/// (rather than one substring search per phrase).
struct Phrases {
    phrases: &'static [&'static str],
    finder: Option<aho_corasick::AhoCorasick>,
}

impl Phrases {
    fn new(phrases: &'static [&'static str]) -> Self {
        Self { phrases, finder: aho_corasick::AhoCorasick::new(phrases).ok() }
    }

    /// Whether any of the phrases occurs in `lower` where it counts ([`stands_alone`]).
    fn any_in(&self, lower: &str) -> bool {
        let Some(finder) = &self.finder else {
            return self.phrases.iter().any(|phrase| find_all(lower, phrase).next().is_some());
        };
        finder
            .find_overlapping_iter(lower)
            .any(|found| stands_alone(lower, self.phrases[found.pattern().as_usize()], found.start()))
    }
}

/// The urgency lists of the lexicon, in the order [`urgency`] asks them.
struct UrgencyCues {
    critical: Phrases,
    not_urgent: Phrases,
    high: Phrases,
    low: Phrases,
}

fn urgency_cues() -> &'static UrgencyCues {
    static CUES: std::sync::OnceLock<UrgencyCues> = std::sync::OnceLock::new();
    CUES.get_or_init(|| UrgencyCues {
        critical: Phrases::new(lexicon::CRITICAL),
        not_urgent: Phrases::new(lexicon::NOT_URGENT),
        high: Phrases::new(lexicon::HIGH),
        low: Phrases::new(lexicon::LOW),
    })
}

/// The polarity cues, longer phrases first (so "not bad at all" is not also read as "bad"), and
/// an automaton that finds, in one pass, which of them occur in a text at all.
struct Cues {
    ordered: Vec<&'static (&'static str, f32)>,
    finder: Option<aho_corasick::AhoCorasick>,
}

fn cues() -> &'static Cues {
    static CUES: std::sync::OnceLock<Cues> = std::sync::OnceLock::new();
    CUES.get_or_init(|| {
        let mut ordered: Vec<&(&str, f32)> = lexicon::POLARITY.iter().collect();
        ordered.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
        let finder = aho_corasick::AhoCorasick::new(ordered.iter().map(|(phrase, _)| *phrase)).ok();
        Cues { ordered, finder }
    })
}

fn score(text: &str, lower: &str) -> f32 {
    let mut total = 0.0_f32;
    let mut covered: Vec<(usize, usize)> = Vec::new();
    let cues = cues();
    // Only the cues that occur are looked for at word boundaries (all of them without a finder).
    let mut present = vec![cues.finder.is_none(); cues.ordered.len()];
    if let Some(finder) = &cues.finder {
        finder.find_overlapping_iter(lower).for_each(|found| present[found.pattern().as_usize()] = true);
    }
    let occurring = cues.ordered.iter().zip(&present).filter(|(_, present)| **present);
    for (&&(phrase, weight), _) in occurring {
        add_occurrences(lower, (phrase, weight), &mut covered, &mut total);
    }
    emphasised(text, total)
}

/// Adds to `total` each occurrence of the cue in `lower` that no longer cue already stands on
/// (`covered`), negated or intensified by the words before it.
fn add_occurrences(
    lower: &str,
    (phrase, weight): (&str, f32),
    covered: &mut Vec<(usize, usize)>,
    total: &mut f32,
) {
    for at in find_all(lower, phrase) {
        let end = at + phrase.len();
        if covered.iter().any(|&(s, e)| at < e && s < end) {
            continue;
        }
        covered.push((at, end));
        let mut value = weight;
        if negated(&lower[..at]) {
            value *= -0.7;
        }
        if intensified(&lower[..at]) {
            value *= 1.5;
        }
        *total += value;
    }
}

/// The cues' sum, made stronger by exclamation marks and shouting, into -1..1.
fn emphasised(text: &str, total: f32) -> f32 {
    let emphasis = 1.0 + 0.15 * text.matches(['!', '！']).count().min(4) as f32 + 0.3 * shouting(text) as f32;
    (total * emphasis / 2.0).tanh()
}

/// The last few words (or characters, for Chinese) before a cue hold a negation.
fn negated(before: &str) -> bool {
    let tail: String = before.chars().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
    let words: Vec<&str> =
        tail.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let near = words.iter().rev().take(3);
    let latin = near.clone().any(|w| lexicon::NEGATIONS.contains(w));
    let cjk: String = before.chars().rev().take(2).collect();
    latin || cjk.chars().any(|c| lexicon::CJK_NEGATIONS.contains(&c))
}

fn intensified(before: &str) -> bool {
    let last = before.split_whitespace().next_back().unwrap_or_default();
    lexicon::INTENSIFIERS.contains(&last.trim_matches(|c: char| !c.is_alphanumeric()))
        || lexicon::CJK_INTENSIFIERS.iter().any(|i| before.ends_with(i))
}

/// Words of three or more letters written in capitals (shouting), capped.
fn shouting(text: &str) -> usize {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3 && w.chars().all(|c| c.is_uppercase()))
        .count()
        .min(2)
}

fn urgency(text: &str, lower: &str, score: f32) -> Urgency {
    let cues = urgency_cues();
    if cues.critical.any_in(lower) {
        return Urgency::Critical;
    }
    if cues.not_urgent.any_in(lower) {
        return Urgency::Low;
    }
    let angry = score <= -0.6 && (text.contains(['!', '！']) || shouting(text) > 0);
    if cues.high.any_in(lower) || angry {
        return Urgency::High;
    }
    if cues.low.any_in(lower) || score >= LABEL_AT {
        return Urgency::Low;
    }
    Urgency::Normal
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score as it was computed before the cues were prefiltered: every cue looked for.
    fn score_looking_for_every_cue(text: &str, lower: &str) -> f32 {
        let mut total = 0.0_f32;
        let mut covered: Vec<(usize, usize)> = Vec::new();
        let mut cues: Vec<&(&str, f32)> = lexicon::POLARITY.iter().collect();
        cues.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
        for &&cue in &cues {
            add_occurrences(lower, cue, &mut covered, &mut total);
        }
        emphasised(text, total)
    }

    #[test]
    fn prefiltering_the_cues_changes_no_score() {
        let mut texts: Vec<String> = [
            "Thank you so much, that was really helpful!",
            "I am not happy with this service",
            "not bad at all, works fine",
            "Great, another delay. Thanks for nothing.",
            "This is TERRIBLE, worst experience ever!!!",
            "badbad bad, bad. good good-good",
            "我对这次服务很不满意",
            "謝謝你們，服務很好",
            "Das ist nicht gut, sehr schlecht",
            "C'est super, merci beaucoup",
            "",
        ]
        .iter()
        .map(|text| text.to_string())
        .collect();
        // Every cue alone, doubled and negated.
        for (phrase, _) in lexicon::POLARITY {
            texts.extend([phrase.to_string(), format!("{phrase} {phrase}"), format!("not {phrase}!")]);
        }
        for text in texts {
            let lower = text.to_lowercase();
            assert_eq!(score(&text, &lower), score_looking_for_every_cue(&text, &lower), "{text:?}");
        }
    }

    #[test]
    fn finding_urgency_phrases_in_one_pass_finds_what_searching_each_did() {
        let lists = [lexicon::CRITICAL, lexicon::NOT_URGENT, lexicon::HIGH, lexicon::LOW];
        let mut texts: Vec<String> =
            ["", "nothing here", "ASAP please!", "我的账户被盗了", "unhacked", "re-hacked!"]
                .iter()
                .map(|text| text.to_string())
                .collect();
        // Every phrase alone, inside a word, at both ends of a sentence, and twice.
        for phrase in lists.iter().flat_map(|list| list.iter()) {
            texts.extend([
                phrase.to_string(),
                format!("x{phrase}x"),
                format!("{phrase}, then"),
                format!("so {phrase}"),
                format!("{phrase}{phrase} {phrase}"),
            ]);
        }
        for list in lists {
            let phrases = Phrases::new(list);
            assert!(phrases.finder.is_some());
            // Without an automaton, as every list was searched before: one search per phrase.
            let searching_each = Phrases { phrases: list, finder: None };
            for text in &texts {
                let lower = text.to_lowercase();
                assert_eq!(phrases.any_in(&lower), searching_each.any_in(&lower), "{text:?}");
            }
        }
    }

    #[test]
    fn negation_flips_and_sarcasm_is_caught() {
        assert_eq!(
            read_lexicon("Thank you so much, that was really helpful!").sentiment,
            Sentiment::Positive
        );
        assert_eq!(read_lexicon("I am not happy with this service").sentiment, Sentiment::Negative);
        assert_eq!(read_lexicon("not bad at all, works fine").sentiment, Sentiment::Positive);
        assert_eq!(read_lexicon("Great, another delay. Thanks for nothing.").sentiment, Sentiment::Negative);
        assert_eq!(read_lexicon("Where is my order 55821?").sentiment, Sentiment::Neutral);
        assert_eq!(read_lexicon("我对这次服务很不满意").sentiment, Sentiment::Negative);
        assert_eq!(read_lexicon("謝謝你們，服務很好").sentiment, Sentiment::Positive);
    }

    #[test]
    fn urgency_follows_stakes_and_time() {
        assert_eq!(read_lexicon("Someone hacked my account and made purchases").urgency, Urgency::Critical);
        assert_eq!(read_lexicon("I need the invoice today for an audit").urgency, Urgency::High);
        assert_eq!(read_lexicon("How do I change my billing address?").urgency, Urgency::Normal);
        assert_eq!(read_lexicon("No rush, just a suggestion for the app").urgency, Urgency::Low);
        assert_eq!(read_lexicon("我的信用卡被盗刷了！").urgency, Urgency::Critical);
        assert_eq!(read_lexicon("請盡快處理，今天一定要收到").urgency, Urgency::High);
    }
}
