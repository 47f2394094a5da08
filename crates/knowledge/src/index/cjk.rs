//! A tokenizer for Chinese, Japanese and Korean mixed with other scripts: runs of CJK characters
//! become overlapping bigrams (a lone character stays a unigram), other runs of letters and digits
//! become lowercased words. Bigrams find words without a dictionary, in both Chinese scripts.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

#[derive(Clone, Default)]
pub struct CjkBigramTokenizer {
    tokens: Vec<Token>,
}

/// Tokens, then one empty sentinel so `token()` always has something to return.
pub struct CjkTokenStream<'a> {
    tokens: &'a mut [Token],
    len: usize,
    at: usize,
    started: bool,
}

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xac00..=0xd7af
        | 0x1100..=0x11ff | 0x3130..=0x318f | 0x20000..=0x2fa1f)
}

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = CjkTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkTokenStream<'a> {
        self.tokens.clear();
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let end_of = |i: usize| chars.get(i + 1).map_or(text.len(), |(offset, _)| *offset);
        let mut i = 0;
        while i < chars.len() {
            let (start, c) = chars[i];
            if is_cjk(c) {
                let run_end = (i..chars.len()).find(|&j| !is_cjk(chars[j].1)).unwrap_or(chars.len());
                if run_end - i == 1 {
                    self.push(start, end_of(i), text);
                }
                for (j, (offset, _)) in chars.iter().enumerate().take(run_end.saturating_sub(1)).skip(i) {
                    self.push(*offset, end_of(j + 1), text);
                }
                i = run_end;
            } else if c.is_alphanumeric() {
                let run_end = (i..chars.len())
                    .find(|&j| !chars[j].1.is_alphanumeric() || is_cjk(chars[j].1))
                    .unwrap_or(chars.len());
                self.push(start, end_of(run_end - 1), text);
                i = run_end;
            } else {
                i += 1;
            }
        }
        let len = self.tokens.len();
        self.tokens.push(Token::default());
        CjkTokenStream { tokens: &mut self.tokens, len, at: 0, started: false }
    }
}

impl CjkBigramTokenizer {
    fn push(&mut self, from: usize, to: usize, text: &str) {
        let position = self.tokens.len();
        self.tokens.push(Token {
            offset_from: from,
            offset_to: to,
            position,
            text: text[from..to].to_lowercase(),
            position_length: 1,
        });
    }
}

impl TokenStream for CjkTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.started {
            self.at = (self.at + 1).min(self.len);
        }
        self.started = true;
        self.at < self.len
    }

    fn token(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut tokenizer = CjkBigramTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push(token.text.clone());
        }
        out
    }

    #[test]
    fn chinese_runs_become_bigrams_and_latin_words_stay_words() {
        assert_eq!(tokens("如何退貨 iPhone15"), ["如何", "何退", "退貨", "iphone15"]);
        assert_eq!(tokens("我"), ["我"]);
        assert_eq!(tokens("訂單A12查詢"), ["訂單", "a12", "查詢"]);
    }
}
