//! The classifier's reading of a message: intent (the active model), language, feeling and
//! entities. The built-in model is trained at start-up from the labelled examples in `data/`,
//! written for this project in twenty languages.

use std::sync::{Arc, OnceLock};

use switchboard_nlu::embed::SentenceEncoder;
use switchboard_nlu::intent::{Example, IntentModel, Prediction, Text, TrainConfig, TrainError, train};
use switchboard_nlu::{entities, language, sentiment};
use switchboard_proto::events::v1::{Entity, Feeling, IntentScore};

/// Intent reported for a message no automation should act on.
pub const OUT_OF_SCOPE: &str = "out_of_scope";
/// Alternatives reported after the best intent.
const ALTERNATIVES: usize = 3;

/// (language, JSON lines of `{"text", "label", "language"}`).
const BUILTIN_DATA: &[(&str, &str)] = &[
    ("en", include_str!("../data/intents/en.jsonl")),
    ("zh-Hans", include_str!("../data/intents/zh-Hans.jsonl")),
    ("zh-Hant", include_str!("../data/intents/zh-Hant.jsonl")),
    ("es", include_str!("../data/intents/es.jsonl")),
    ("fr", include_str!("../data/intents/fr.jsonl")),
    ("de", include_str!("../data/intents/de.jsonl")),
    ("pt", include_str!("../data/intents/pt.jsonl")),
    ("it", include_str!("../data/intents/it.jsonl")),
    ("nl", include_str!("../data/intents/nl.jsonl")),
    ("ru", include_str!("../data/intents/ru.jsonl")),
    ("ar", include_str!("../data/intents/ar.jsonl")),
    ("hi", include_str!("../data/intents/hi.jsonl")),
    ("tr", include_str!("../data/intents/tr.jsonl")),
    ("vi", include_str!("../data/intents/vi.jsonl")),
    ("th", include_str!("../data/intents/th.jsonl")),
    ("id", include_str!("../data/intents/id.jsonl")),
    ("ja", include_str!("../data/intents/ja.jsonl")),
    ("ko", include_str!("../data/intents/ko.jsonl")),
    ("he", include_str!("../data/intents/he.jsonl")),
    ("el", include_str!("../data/intents/el.jsonl")),
];

#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    #[error("built-in data for {language}, line {line}: {message}")]
    Data { language: &'static str, line: usize, message: String },
    #[error("built-in model: {0}")]
    Train(#[from] TrainError),
}

/// The labelled examples the built-in model learns from.
pub fn builtin_examples() -> Result<Vec<Example>, BuiltinError> {
    Ok(builtin_examples_by_language()?.into_iter().map(|(_, example)| example).collect())
}

/// How the built-in model is trained.
pub fn builtin_config() -> TrainConfig {
    TrainConfig { oos_label: Some(OUT_OF_SCOPE.into()), ..TrainConfig::default() }
}

/// [`builtin_examples`], each with the language it was written in.
pub fn builtin_examples_by_language() -> Result<Vec<(&'static str, Example)>, BuiltinError> {
    let mut examples = Vec::new();
    for (language, data) in BUILTIN_DATA {
        for (index, line) in data.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let error = |message: String| BuiltinError::Data { language, line: index + 1, message };
            let value: serde_json::Value = serde_json::from_str(line).map_err(|e| error(e.to_string()))?;
            let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
            let (Some(text), Some(label)) = (field("text"), field("label")) else {
                return Err(error("needs text and label".into()));
            };
            examples.push((*language, Example { text, label }));
        }
    }
    Ok(examples)
}

pub struct Understanding {
    model: IntentModel,
    version: String,
}

/// Everything the classifier says of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub intent: String,
    pub confidence: f32,
    pub alternatives: Vec<IntentScore>,
    pub out_of_scope: bool,
    pub language: String,
    pub language_reliable: bool,
    pub feeling: Feeling,
    pub entities: Vec<Entity>,
    pub model_version: String,
}

impl Understanding {
    /// The built-in model, trained on first use and then shared by every classifier the process
    /// starts: its data is compiled in, so each training would give the same model.
    pub fn shared_builtin() -> Result<Arc<Self>, BuiltinError> {
        static BUILTIN: OnceLock<Arc<Understanding>> = OnceLock::new();
        if let Some(builtin) = BUILTIN.get() {
            return Ok(builtin.clone());
        }
        let trained = Arc::new(Self::builtin()?);
        Ok(BUILTIN.get_or_init(|| trained).clone())
    }

    /// Trains the built-in model (a few seconds); its version names the data it learnt.
    pub fn builtin() -> Result<Self, BuiltinError> {
        let examples = builtin_examples()?;
        let model = train(&examples, None, &builtin_config())?;
        let digest = examples.iter().fold(0xcbf2_9ce4_8422_2325_u64, |state, e| {
            e.text
                .bytes()
                .chain(e.label.bytes())
                .fold(state, |s, b| (s ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
        });
        Ok(Self::new(model, format!("builtin-{:08x}", digest >> 32)))
    }

    pub fn new(model: IntentModel, version: String) -> Self {
        Self { model, version }
    }

    /// The built-in model's version, or the stored model's id.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn model(&self) -> &IntentModel {
        &self.model
    }

    /// With `encoder`, a model with a full head runs its cascade; without, its n-gram head.
    pub fn read(&self, text: &str, encoder: Option<&SentenceEncoder>) -> Reading {
        // The intent model and the sentiment heads share the text's counted n-grams.
        let read = Text::new(text);
        let prediction = self.predict(&read, encoder);
        let detection = language::detect(text);
        let feeling = sentiment::read(&read);
        let intent = if prediction.out_of_scope { OUT_OF_SCOPE } else { prediction.label() };
        Reading {
            intent: intent.to_owned(),
            confidence: prediction.confidence(),
            alternatives: prediction
                .ranked
                .iter()
                .take(ALTERNATIVES + 1)
                .filter(|(label, _)| label != intent)
                .take(ALTERNATIVES)
                .map(|(intent, confidence)| IntentScore { intent: intent.clone(), confidence: *confidence })
                .collect(),
            out_of_scope: prediction.out_of_scope,
            language: detection.language.to_owned(),
            language_reliable: detection.reliable,
            feeling: Feeling {
                sentiment_score: feeling.score,
                sentiment: feeling.sentiment.as_str().into(),
                urgency: feeling.urgency.as_str().into(),
            },
            entities: entities::extract(text)
                .into_iter()
                .map(|e| Entity {
                    kind: e.kind.as_str().into(),
                    text: e.text,
                    start: e.start as u32,
                    end: e.end as u32,
                    value: e.value,
                })
                .collect(),
            model_version: self.version.clone(),
        }
    }

    fn predict(&self, text: &Text<'_>, encoder: Option<&SentenceEncoder>) -> Prediction {
        let Some(encoder) = encoder.filter(|_| self.model.encoder().is_some()) else {
            return self.model.predict(text);
        };
        let embed = |text: &str| encoder.embed(&[text]).map(|mut e| e.pop().unwrap_or_default());
        match self.model.predict_with(text, embed) {
            Ok((prediction, _)) => prediction,
            Err(error) => {
                tracing::warn!(%error, "sentence encoder failed; n-gram head answers");
                self.model.predict(text)
            }
        }
    }
}
