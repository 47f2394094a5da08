//! The model file: `SBINTENT`, format version (u32), header length (u32), JSON header
//! ([`ModelInfo`] and shapes), then little-endian arrays: grams (u64), IDF (f32),
//! weights (f16, rows by classes), bias (f32); then, for a model with a sentence encoder,
//! the full head's weights (f16, rows plus embedding dimensions by classes) and bias (f32). Half-precision weights halve the size;
//! predictions agree with the full-precision model (tested).

use half::f16;
use serde::{Deserialize, Serialize};

use super::features::Gram;
use super::linear::Linear;
use super::model::{IntentModel, ModelInfo};

const MAGIC: &[u8; 8] = b"SBINTENT";
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    info: ModelInfo,
    rows: usize,
    classes: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArtifactError {
    #[error("not a switchboard intent model")]
    NotAModel,
    #[error("model format {0} is not supported (this build reads format {FORMAT})")]
    Format(u32),
    #[error("the model is truncated or corrupt: {0}")]
    Corrupt(String),
}

impl IntentModel {
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header { info: self.info.clone(), rows: self.grams.len(), classes: self.head.classes };
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let mut out =
            Vec::with_capacity(16 + header.len() + self.grams.len() * 12 + self.head.weights.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        self.grams.iter().for_each(|g| out.extend_from_slice(&g.0.to_le_bytes()));
        self.idf.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        self.head.weights.iter().for_each(|w| out.extend_from_slice(&f16::from_f32(*w).to_le_bytes()));
        self.head.bias.iter().for_each(|b| out.extend_from_slice(&b.to_le_bytes()));
        if let Some(full) = &self.full_head {
            full.weights.iter().for_each(|w| out.extend_from_slice(&f16::from_f32(*w).to_le_bytes()));
            full.bias.iter().for_each(|b| out.extend_from_slice(&b.to_le_bytes()));
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArtifactError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(8)? != MAGIC {
            return Err(ArtifactError::NotAModel);
        }
        let format = reader.u32()?;
        if format != FORMAT {
            return Err(ArtifactError::Format(format));
        }
        let header_len = reader.u32()? as usize;
        let header: Header = serde_json::from_slice(reader.take(header_len)?)
            .map_err(|e| ArtifactError::Corrupt(format!("header: {e}")))?;
        let (rows, classes) = (header.rows, header.classes);
        if classes != header.info.labels.len() {
            return Err(ArtifactError::Corrupt("label count differs from the head".into()));
        }
        let grams = reader.array(rows, 8, |b| Gram(u64::from_le_bytes(b.try_into().unwrap_or_default())))?;
        let idf = reader.array(rows, 4, f32_of)?;
        let weights = reader.array(rows.saturating_mul(classes), 2, f16_of)?;
        let bias = reader.array(classes, 4, f32_of)?;
        let full_head = match &header.info.encoder {
            Some(encoder) => {
                let rows = rows.saturating_add(encoder.dimensions);
                let weights = reader.array(rows.saturating_mul(classes), 2, f16_of)?;
                Some(Linear { classes, weights, bias: reader.array(classes, 4, f32_of)? })
            }
            None => None,
        };
        if reader.at != bytes.len() {
            return Err(ArtifactError::Corrupt("trailing bytes".into()));
        }
        Ok(IntentModel::new(header.info, grams, idf, Linear { classes, weights, bias }, full_head))
    }
}

fn f16_of(bytes: &[u8]) -> f32 {
    f16::from_le_bytes(bytes.try_into().unwrap_or_default()).to_f32()
}

fn f32_of(bytes: &[u8]) -> f32 {
    f32::from_le_bytes(bytes.try_into().unwrap_or_default())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ArtifactError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| ArtifactError::Corrupt(format!("{} bytes short", n)))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, ArtifactError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }

    fn array<T>(
        &mut self,
        n: usize,
        width: usize,
        read: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>, ArtifactError> {
        let bytes = self.take(n.checked_mul(width).ok_or_else(|| ArtifactError::Corrupt("size".into()))?)?;
        Ok(bytes.chunks_exact(width).map(read).collect())
    }
}
