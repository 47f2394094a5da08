//! Text to sparse features: hashed word n-grams and character n-grams within word boundaries,
//! weighted by sublinear TF-IDF and L2-normalised per group. Character n-grams carry typos and
//! scripts written without spaces (Chinese, Japanese, Thai).

use serde::{Deserialize, Serialize};

/// How a text becomes n-grams. Stored in the model: inference must use the training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Word n-gram orders, inclusive.
    pub word_ngrams: (usize, usize),
    /// Character n-gram orders within padded words, inclusive.
    pub char_ngrams: (usize, usize),
    /// Weight of the character group relative to the word group (each is L2-normalised).
    pub char_weight: f32,
    /// Word n-grams read a run of a script written without spaces (Chinese, Japanese, Thai) and
    /// a Hangul word as its overlapping character pairs, as word units. Without it (models
    /// trained before it) such a run is one word, so the word group of those texts is mostly
    /// empty.
    #[serde(default)]
    pub cjk_bigrams: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self { word_ngrams: (1, 2), char_ngrams: (1, 5), char_weight: 1.0, cjk_bigrams: true }
    }
}

/// A hashed n-gram with its group, before weighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gram(pub u64);

/// The maps keyed by [`Gram`]: a gram is already a hash, so it is only mixed (one multiply)
/// instead of hashed again with SipHash. The vocabulary lookups are the n-gram models' inner loop
/// (several hundred a text, for each model), and a vocabulary is fixed by training, so lookups
/// of grams from untrusted text cannot grow its chains.
pub type GramMap<V> = std::collections::HashMap<Gram, V, std::hash::BuildHasherDefault<GramHasher>>;

/// The [`GramMap`] hasher: a gram's `u64` times an odd constant, its high half folded into the
/// low one (the table indexes by the low bits). Other keys hash with FNV-1a.
#[derive(Debug, Default, Clone, Copy)]
pub struct GramHasher(u64);

impl std::hash::Hasher for GramHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes
            .iter()
            .fold(self.0 ^ WORD_SEED, |state, &byte| (state ^ u64::from(byte)).wrapping_mul(FNV_PRIME));
    }

    fn write_u64(&mut self, n: u64) {
        let mixed = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

const WORD_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const CHAR_SEED: u64 = 0x8422_2325_cbf2_9ce4;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over the UTF-8 of `parts`, separated. Stable across versions: models store these.
fn hash<'a>(seed: u64, parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut state = seed;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0x1f)) {
            state ^= u64::from(byte);
            state = state.wrapping_mul(FNV_PRIME);
        }
    }
    state
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xac00..=0xd7af | 0x0e00..=0x0e7f)
}

/// Lowercased words: runs of letters and digits. A run of CJK or Thai is one word; the
/// character n-grams then cut it.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut current_cjk = false;
    for c in text.chars() {
        let keep = c.is_alphanumeric() || (c == '\'' && !current.is_empty());
        if !keep || (!current.is_empty() && is_cjk(c) != current_cjk) {
            flush(&mut words, &mut current);
        }
        if keep {
            current_cjk = is_cjk(c);
            current.extend(c.to_lowercase());
        }
    }
    flush(&mut words, &mut current);
    words
}

fn flush(words: &mut Vec<String>, current: &mut String) {
    let word = current.trim_end_matches('\'');
    if !word.is_empty() {
        words.push(word.to_owned());
    }
    current.clear();
}

/// The units word n-grams are made of: the words, with each run of a script written without
/// spaces (and each Hangul word) read as its overlapping character pairs when `cjk_bigrams`.
fn word_units(words: &[String], cjk_bigrams: bool) -> Vec<String> {
    if !cjk_bigrams {
        return words.to_vec();
    }
    let mut units = Vec::with_capacity(words.len());
    for word in words {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < 3 || !chars.first().is_some_and(|c| is_cjk(*c)) {
            units.push(word.clone());
            continue;
        }
        units.extend(chars.windows(2).map(|pair| pair.iter().collect::<String>()));
    }
    units
}

/// Word n-gram hashes and character n-gram hashes of `text`, with repeats.
pub fn grams(text: &str, config: &FeatureConfig) -> (Vec<Gram>, Vec<Gram>) {
    let words = words(text);
    let units = word_units(&words, config.cjk_bigrams);
    let mut word_grams = Vec::new();
    let (low, high) = config.word_ngrams;
    for n in low.max(1)..=high {
        for window in units.windows(n) {
            word_grams.push(Gram(hash(WORD_SEED, window.iter().map(String::as_str))));
        }
    }
    let mut char_grams = Vec::new();
    for word in &words {
        char_grams_of(word, config.char_ngrams, &mut char_grams);
    }
    (word_grams, char_grams)
}

fn char_grams_of(word: &str, (low, high): (usize, usize), out: &mut Vec<Gram>) {
    let padded: Vec<char> = std::iter::once(' ').chain(word.chars()).chain(std::iter::once(' ')).collect();
    let mut buffer = String::new();
    for n in low.max(1)..=high {
        if n > padded.len() {
            break;
        }
        for window in padded.windows(n) {
            if n == 1 && window[0] == ' ' {
                continue;
            }
            buffer.clear();
            buffer.extend(window);
            out.push(Gram(hash(CHAR_SEED, [buffer.as_str()])));
        }
    }
}

/// Sorted unique grams with their counts.
pub fn counted(mut grams: Vec<Gram>) -> Vec<(Gram, u32)> {
    grams.sort_unstable();
    let mut counted: Vec<(Gram, u32)> = Vec::with_capacity(grams.len());
    for gram in grams {
        match counted.last_mut() {
            Some((last, count)) if *last == gram => *count += 1,
            _ => counted.push((gram, 1)),
        }
    }
    counted
}

/// A text's n-grams under one configuration, counted: the word group and the character group.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedGrams {
    pub words: Vec<(Gram, u32)>,
    pub chars: Vec<(Gram, u32)>,
}

impl CountedGrams {
    pub fn of(text: &str, config: &FeatureConfig) -> Self {
        let (words, chars) = grams(text, config);
        Self { words: counted(words), chars: counted(chars) }
    }
}

/// A text read by several models (the intent model, the sentiment and urgency heads): its
/// n-grams are counted once, for the first configuration asked, and reused by every model
/// with that configuration.
pub struct Text<'a> {
    text: &'a str,
    counted: std::cell::OnceCell<(FeatureConfig, CountedGrams)>,
}

impl<'a> Text<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text, counted: std::cell::OnceCell::new() }
    }

    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The text's counted grams under `config`.
    pub fn grams(&self, config: &FeatureConfig) -> std::borrow::Cow<'_, CountedGrams> {
        let (first, counted) =
            self.counted.get_or_init(|| (config.clone(), CountedGrams::of(self.text, config)));
        if first == config {
            std::borrow::Cow::Borrowed(counted)
        } else {
            std::borrow::Cow::Owned(CountedGrams::of(self.text, config))
        }
    }
}

/// A sparse vector: (feature index, value), indices ascending.
pub type Sparse = Vec<(u32, f32)>;

/// Weights counted grams by sublinear TF times IDF, keeps those in the vocabulary and
/// normalises to unit length times `scale`.
pub fn weigh(counted: &[(Gram, u32)], lookup: impl Fn(Gram) -> Option<(u32, f32)>, scale: f32) -> Sparse {
    let mut vector: Sparse = counted
        .iter()
        .filter_map(|&(gram, count)| {
            lookup(gram).map(|(index, idf)| (index, (1.0 + (count as f32).ln()) * idf))
        })
        .collect();
    let norm = vector.iter().map(|(_, value)| value * value).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, value) in &mut vector {
            *value *= scale / norm;
        }
    }
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_punctuation_and_script() {
        assert_eq!(words("Where's my ORDER #A123? 我的订单"), ["where's", "my", "order", "a123", "我的订单"]);
        assert_eq!(words("订单123号"), ["订单", "123", "号"]);
    }

    /// FNV-1a of "order\x1f" from the word seed, computed independently.
    const PINNED_ORDER_HASH: u64 = 0x0012_c192_50bf_3538;

    #[test]
    fn hashes_are_stable() {
        // Models store these: changing the hash invalidates every trained model.
        assert_eq!(hash(WORD_SEED, ["order"]), hash(WORD_SEED, ["order"]));
        assert_ne!(hash(WORD_SEED, ["order", "status"]), hash(WORD_SEED, ["orderstatus"]));
        assert_ne!(hash(WORD_SEED, ["a"]), hash(CHAR_SEED, ["a"]));
        assert_eq!(hash(WORD_SEED, ["order"]), PINNED_ORDER_HASH);
    }

    #[test]
    fn character_grams_cover_chinese() {
        let config =
            FeatureConfig { word_ngrams: (1, 1), char_ngrams: (1, 2), char_weight: 1.0, cjk_bigrams: false };
        let (words, chars) = grams("退款", &config);
        assert_eq!(words.len(), 1);
        // 退, 款, " 退", "退款", "款 "
        assert_eq!(chars.len(), 5);
    }

    #[test]
    fn runs_without_spaces_are_read_as_character_pairs_for_word_grams() {
        let words: Vec<String> = ["我要退款", "ok", "退款"].map(String::from).to_vec();
        assert_eq!(word_units(&words, true), ["我要", "要退", "退款", "ok", "退款"]);
        assert_eq!(word_units(&words, false), words);
        let pairs = FeatureConfig { word_ngrams: (1, 1), ..FeatureConfig::default() };
        let runs = FeatureConfig { cjk_bigrams: false, ..pairs.clone() };
        // The character grams are the same either way; only the word units differ.
        assert_eq!(grams("我要退款", &pairs).1, grams("我要退款", &runs).1);
        assert_eq!(grams("我要退款", &pairs).0.len(), 3);
    }

    #[test]
    fn models_trained_before_character_pairs_keep_reading_runs_whole() {
        let stored = r#"{"word_ngrams":[1,2],"char_ngrams":[1,5],"char_weight":1.0}"#;
        let config: FeatureConfig = serde_json::from_str(stored).expect("an older model's settings");
        assert!(!config.cjk_bigrams);
    }

    #[test]
    fn a_text_counts_its_grams_once_and_again_only_for_another_configuration() {
        let text = Text::new("Where's my order? 我的订单");
        let usual = FeatureConfig::default();
        let words_only = FeatureConfig { char_ngrams: (0, 0), ..FeatureConfig::default() };
        assert!(matches!(text.grams(&usual), std::borrow::Cow::Borrowed(_)));
        assert_eq!(*text.grams(&usual), CountedGrams::of(text.as_str(), &usual));
        let other = text.grams(&words_only);
        assert!(matches!(other, std::borrow::Cow::Owned(_)));
        assert_eq!(*other, CountedGrams::of(text.as_str(), &words_only));
        assert_ne!(*other, *text.grams(&usual));
    }

    #[test]
    fn gram_maps_find_what_they_hold() {
        let grams: Vec<Gram> =
            (0..10_000u64).map(|i| Gram(hash(WORD_SEED, [i.to_string().as_str()]))).collect();
        let map: GramMap<u32> = grams.iter().enumerate().map(|(row, gram)| (*gram, row as u32)).collect();
        assert_eq!(map.len(), grams.len());
        assert!(grams.iter().enumerate().all(|(row, gram)| map.get(gram) == Some(&(row as u32))));
        assert_eq!(map.get(&Gram(hash(WORD_SEED, ["not there"]))), None);
    }

    #[test]
    fn weighted_vectors_have_unit_length() {
        let counted = counted(vec![Gram(1), Gram(2), Gram(2)]);
        let vector = weigh(&counted, |gram| Some((gram.0 as u32, 1.0)), 1.0);
        let norm: f32 = vector.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(vector[1].1 > vector[0].1);
    }
}
