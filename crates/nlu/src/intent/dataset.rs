//! Labelled data sets from files: CSV with a header row, or JSON lines, chosen by extension.
//! Every refusal names the file and line, so nothing is dropped silently.

use std::path::{Path, PathBuf};

use super::{Example, MAX_TEXT_BYTES};

#[derive(Debug, Clone)]
pub struct Columns {
    pub text: String,
    pub label: String,
}

impl Default for Columns {
    fn default() -> Self {
        Self { text: "text".into(), label: "label".into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: unknown format; use .csv (with a header row) or .jsonl")]
    UnknownFormat { path: PathBuf },
    #[error("{path}:{line}: invalid UTF-8")]
    Utf8 { path: PathBuf, line: u64 },
    #[error("{path}:{line}: {message}")]
    Malformed { path: PathBuf, line: u64, message: String },
    #[error("{path}: no column {column:?}; columns are {available:?}")]
    MissingColumn { path: PathBuf, column: String, available: Vec<String> },
    #[error("{path}:{line}: {column} is empty")]
    EmptyField { path: PathBuf, line: u64, column: String },
    #[error("{path}:{line}: text is {bytes} bytes; at most {MAX_TEXT_BYTES} are accepted")]
    TooLong { path: PathBuf, line: u64, bytes: usize },
    #[error("{path}: no examples")]
    Empty { path: PathBuf },
}

pub fn load(path: &Path, columns: &Columns) -> Result<Vec<Example>, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io { path: path.into(), source })?;
    read(path, &bytes, columns)
}

/// A data set's `bytes`, in the format `path`'s extension names (the path only names it in
/// errors): what [`load`] does once the file is read.
pub fn read(path: &Path, bytes: &[u8], columns: &Columns) -> Result<Vec<Example>, DatasetError> {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let examples = match extension.as_deref() {
        Some("csv") => read_csv(path, bytes, columns)?,
        Some("jsonl" | "ndjson") => read_jsonl(path, bytes, columns)?,
        _ => return Err(DatasetError::UnknownFormat { path: path.into() }),
    };
    if examples.is_empty() {
        return Err(DatasetError::Empty { path: path.into() });
    }
    Ok(examples)
}

fn read_csv(path: &Path, bytes: &[u8], columns: &Columns) -> Result<Vec<Example>, DatasetError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let malformed = |line, error: csv::Error| DatasetError::Malformed {
        path: path.into(),
        line,
        message: error.to_string(),
    };
    let header = reader.byte_headers().map_err(|e| malformed(1, e))?.clone();
    let available: Vec<String> =
        header.iter().map(|h| String::from_utf8_lossy(h).trim().to_owned()).collect();
    let position = |column: &str| {
        available.iter().position(|h| h == column).ok_or_else(|| DatasetError::MissingColumn {
            path: path.into(),
            column: column.into(),
            available: available.clone(),
        })
    };
    let (text_at, label_at) = (position(&columns.text)?, position(&columns.label)?);
    let mut examples = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            malformed(line, e)
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let field = |at: usize, column: &str| -> Result<String, DatasetError> {
            let bytes = record.get(at).unwrap_or_default();
            let text =
                std::str::from_utf8(bytes).map_err(|_| DatasetError::Utf8 { path: path.into(), line })?;
            checked(path, line, column, text)
        };
        examples
            .push(Example { text: field(text_at, &columns.text)?, label: field(label_at, &columns.label)? });
    }
    Ok(examples)
}

fn read_jsonl(path: &Path, bytes: &[u8], columns: &Columns) -> Result<Vec<Example>, DatasetError> {
    let mut examples = Vec::new();
    for (number, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = number as u64 + 1;
        let text = std::str::from_utf8(raw).map_err(|_| DatasetError::Utf8 { path: path.into(), line })?;
        if text.trim().is_empty() {
            continue;
        }
        let malformed = |message: String| DatasetError::Malformed { path: path.into(), line, message };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        let field = |column: &str| -> Result<String, DatasetError> {
            let text = match value.get(column) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(other) if !other.is_null() => {
                    return Err(malformed(format!("{column} is not a string")));
                }
                _ => return Err(malformed(format!("no field {column:?}"))),
            };
            checked(path, line, column, &text)
        };
        examples.push(Example { text: field(&columns.text)?, label: field(&columns.label)? });
    }
    Ok(examples)
}

fn checked(path: &Path, line: u64, column: &str, value: &str) -> Result<String, DatasetError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DatasetError::EmptyField { path: path.into(), line, column: column.into() });
    }
    if value.len() > MAX_TEXT_BYTES {
        return Err(DatasetError::TooLong { path: path.into(), line, bytes: value.len() });
    }
    Ok(value.to_owned())
}
