//! BERT's uncased WordPiece tokenizer (what all-MiniLM-L6-v2 was trained with): clean the text,
//! space out CJK ideographs, lowercase and strip accents, split on whitespace and punctuation,
//! then cut each word into the longest vocabulary pieces, `##`-prefixed after the first.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization as _;

const MAX_WORD_CHARS: usize = 100;

pub struct WordPiece {
    vocabulary: HashMap<String, u32>,
    pub cls: u32,
    pub sep: u32,
    unknown: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("vocabulary lacks {0}")]
pub struct MissingToken(&'static str);

impl WordPiece {
    /// From `vocab.txt`: one token a line, the line number is its id.
    pub fn from_vocabulary(text: &str) -> Result<Self, MissingToken> {
        let vocabulary: HashMap<String, u32> =
            text.lines().enumerate().map(|(id, token)| (token.to_owned(), id as u32)).collect();
        let id = |token: &'static str| vocabulary.get(token).copied().ok_or(MissingToken(token));
        Ok(Self { cls: id("[CLS]")?, sep: id("[SEP]")?, unknown: id("[UNK]")?, vocabulary })
    }

    /// `[CLS] pieces… [SEP]`, at most `max_len` ids.
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let mut ids = vec![self.cls];
        for word in basic_tokens(text) {
            self.pieces(&word, &mut ids);
            if ids.len() >= max_len - 1 {
                ids.truncate(max_len - 1);
                break;
            }
        }
        ids.push(self.sep);
        ids
    }

    fn pieces(&self, word: &str, out: &mut Vec<u32>) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            out.push(self.unknown);
            return;
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let found = (start + 1..=chars.len()).rev().find_map(|end| {
                let piece: String = chars[start..end].iter().collect();
                let key = if start == 0 { piece } else { format!("##{piece}") };
                self.vocabulary.get(&key).map(|id| (*id, end))
            });
            match found {
                Some((id, end)) => {
                    pieces.push(id);
                    start = end;
                }
                None => {
                    out.push(self.unknown);
                    return;
                }
            }
        }
        out.extend(pieces);
    }
}

fn is_cjk_ideograph(c: char) -> bool {
    matches!(c as u32,
        0x4e00..=0x9fff | 0x3400..=0x4dbf | 0x20000..=0x2a6df | 0x2a700..=0x2b73f
        | 0x2b740..=0x2b81f | 0x2b820..=0x2ceaf | 0xf900..=0xfaff | 0x2f800..=0x2fa1f)
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace() && !c.is_control())
}

/// Normalised words and punctuation marks.
fn basic_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let lowered = text.to_lowercase();
    for c in lowered.nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)) {
        if c == '\0' || c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()) {
            continue;
        }
        if c.is_whitespace() || is_punctuation(c) || is_cjk_ideograph(c) {
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> WordPiece {
        let vocabulary = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nwhere\nis\nmy\nor\n##der\n?\ncafe\n退\n款";
        WordPiece::from_vocabulary(vocabulary).expect("special tokens present")
    }

    #[test]
    fn words_split_into_longest_pieces() {
        assert_eq!(tokenizer().encode("Where is my ORDER?", 128), [2, 4, 5, 6, 7, 8, 9, 3]);
    }

    #[test]
    fn accents_are_stripped_and_ideographs_split() {
        assert_eq!(tokenizer().encode("Café 退款", 128), [2, 10, 11, 12, 3]);
    }

    #[test]
    fn unknown_words_and_long_texts_are_bounded() {
        assert_eq!(tokenizer().encode("zzz", 128), [2, 1, 3]);
        assert_eq!(tokenizer().encode("is is is is is", 4), [2, 5, 5, 3]);
    }
}
