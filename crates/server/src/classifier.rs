//! `switchboard classifier train|eval`: train an intent model on any labelled file and measure
//! it. The flags and the `--json` report are a contract (scripts and CI read them).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use switchboard_nlu::embed::{ENCODER_NAME, SentenceEncoder};
use switchboard_nlu::entities::{self, Annotation, Kind};
use switchboard_nlu::intent::{
    EncoderSpec, Example, IntentModel, Text, TrainConfig,
    dataset::{self, Columns},
    eval::evaluate,
    sample_per_label, train_with,
};

/// Where `make encoder` puts the sentence encoder.
pub const DEFAULT_ENCODER_DIR: &str = ".local/models/all-minilm-l6-v2";

#[derive(Debug, Subcommand)]
pub enum ClassifierCommand {
    /// Train an intent model from a CSV (with a header) or JSONL file and write it to --out.
    Train(TrainArgs),
    /// Evaluate a model file on a labelled data set.
    Eval(EvalArgs),
    /// Measure entity extraction on a CSV with span annotations (the Bitext layout).
    Entities(EntitiesArgs),
    /// Measure the built-in model on its held-out messages, per language.
    Builtin(BuiltinArgs),
    /// Measure sentiment and urgency on their held-out messages (English, Chinese).
    Sentiment(SentimentArgs),
}

#[derive(Debug, Args)]
pub struct SentimentArgs {
    /// Instead of the held-out messages, cross-validate on the training messages in K folds at
    /// several trusts in the trained heads (what the trust was chosen by).
    #[arg(long, value_name = "K")]
    pub cross_validate: Option<usize>,
    /// Print one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BuiltinArgs {
    /// Instead of the held-out messages, cross-validate on the training examples in K folds
    /// (what choices are made by).
    #[arg(long, value_name = "K")]
    pub cross_validate: Option<usize>,
    /// With --cross-validate, score only the first N examples of each language and intent (the
    /// older ones, in file order); the rest are only trained on. Compares data added later on
    /// the same messages.
    #[arg(long, value_name = "N", requires = "cross_validate")]
    pub score_first: Option<usize>,
    /// Print one JSON object per language.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EntitiesArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "instruction")]
    pub text_column: String,
    /// Print one JSON object per entity kind.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ColumnArgs {
    #[arg(long, default_value = "text")]
    pub text_column: String,
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// The label that marks out-of-scope examples.
    #[arg(long)]
    pub oos_label: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Calibration data (temperature, out-of-scope thresholds); a tenth of --data when unset.
    #[arg(long)]
    pub validation: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Train on at most this many examples of each label (a seeded sample), e.g. 10 for few-shot.
    #[arg(long)]
    pub per_label: Option<usize>,
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// Also train the full head over sentence embeddings from this all-MiniLM-L6-v2 directory.
    #[arg(long, env = "SWITCHBOARD_ENCODER_DIR")]
    pub encoder: Option<PathBuf>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// The sentence encoder, for a model with a full head.
    #[arg(long, env = "SWITCHBOARD_ENCODER_DIR", default_value = DEFAULT_ENCODER_DIR)]
    pub encoder: PathBuf,
    /// Print one JSON object: accuracy, macro_f1, n, p50_us, p99_us (and the out-of-scope figures).
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: ClassifierCommand) -> anyhow::Result<()> {
    match command {
        ClassifierCommand::Train(args) => train_command(&args),
        ClassifierCommand::Eval(args) => eval_command(&args),
        ClassifierCommand::Entities(args) => entities_command(&args),
        ClassifierCommand::Builtin(args) => builtin_command(&args),
        ClassifierCommand::Sentiment(args) => sentiment_command(&args),
    }
}

fn sentiment_command(args: &SentimentArgs) -> anyhow::Result<()> {
    use switchboard_nlu::sentiment::{self, trained};
    let print = |set: &str,
                 trust: Option<trained::Trust>,
                 group: &str,
                 (n, sentiment, urgency): (usize, f64, f64)| {
        let trust = trust.map(|t| (t.sentiment, t.urgency, t.lexicon_high));
        if args.json {
            let line = json!({"set": set, "trust": trust, "language": group, "n": n, "sentiment_accuracy": sentiment, "urgency_accuracy": urgency});
            println!("{line}");
        } else {
            let trust = trust.map(|(s, u, high)| {
                format!(" trust {s:.1}/{u:.1}{}", if high { " +lexicon high" } else { "" })
            });
            println!(
                "{set}{} {group:<3} n {n:>4}  sentiment {sentiment:.3}  urgency {urgency:.3}",
                trust.unwrap_or_default()
            );
        }
    };
    if let Some(folds) = args.cross_validate {
        let trust = |sentiment, urgency, lexicon_high| trained::Trust { sentiment, urgency, lexicon_high };
        let compared = [
            trust(0.0, 0.0, false),
            trust(0.5, 0.5, false),
            trust(0.7, 0.7, false),
            trust(2.0, 2.0, false),
            trust(0.5, 0.0, true),
            trained::TRUST,
        ];
        for (trust, group, figures) in trained::cross_validate(folds, &compared)? {
            print("cross-validated", Some(trust), group, figures);
        }
        return Ok(());
    }
    sentiment::warm().map_err(anyhow::Error::msg)?;
    let current: Vec<_> =
        [trained::HELD_OUT_EN, trained::HELD_OUT_ZH].iter().flat_map(|d| trained::parse(d)).collect();
    let older = trained::parse(trained::HELD_OUT_2024);
    for (set, rows) in [("held-out (400, current labels)", &current), ("held-out (70, older labels)", &older)]
    {
        for group in ["en", "zh"] {
            print(
                set,
                None,
                group,
                trained::accuracy(rows, group, |_, row| sentiment::read(&Text::new(&row.text))),
            );
            let lexicon = trained::accuracy(rows, group, |_, row| sentiment::read_lexicon(&row.text));
            print(&format!("{set}, lexicon alone"), None, group, lexicon);
        }
    }
    Ok(())
}

fn builtin_command(args: &BuiltinArgs) -> anyhow::Result<()> {
    let scores = match args.cross_validate {
        Some(folds) => {
            if args.score_first == Some(0) {
                anyhow::bail!("--score-first must be at least 1");
            }
            let config = switchboard_classifier::builtin_config();
            switchboard_classifier::cross_validate(folds, &config, args.score_first)?
        }
        None => {
            let understanding = switchboard_classifier::Understanding::builtin()?;
            let started = Instant::now();
            let scores = switchboard_classifier::score_builtin(&understanding);
            print_reading_time(&scores, started.elapsed(), args.json);
            scores
        }
    };
    for score in scores {
        if args.json {
            println!("{}", serde_json::to_string(&score)?);
        } else {
            println!(
                "{:<8} n {:>3}  accuracy {:.3}  answered wrongly {:.3}  handed off {:.3}  top intent {:.3}",
                score.language,
                score.n,
                score.accuracy,
                score.answered_wrongly,
                score.handed_off,
                score.top_intent
            );
        }
    }
    Ok(())
}

/// How long the held-out messages took to read, each in full as the classifier reads a message
/// (intent, language, sentiment and urgency, entities), one after another on one thread.
fn print_reading_time(
    scores: &[switchboard_classifier::LanguageScore],
    took: std::time::Duration,
    json: bool,
) {
    let messages: usize = scores.iter().map(|score| score.n).sum();
    let micros = took.as_secs_f64() * 1e6 / messages.max(1) as f64;
    if json {
        println!(
            "{}",
            json!({ "read_messages": messages, "read_seconds": took.as_secs_f64(), "micros_per_message": micros })
        );
    } else {
        println!(
            "read {messages} messages in {:.1} ms: {micros:.0} µs a message, one thread",
            took.as_secs_f64() * 1e3
        );
    }
}

fn columns(args: &ColumnArgs) -> Columns {
    Columns { text: args.text_column.clone(), label: args.label_column.clone() }
}

fn train_command(args: &TrainArgs) -> anyhow::Result<()> {
    let columns = columns(&args.columns);
    let mut examples = dataset::load(&args.data, &columns)?;
    if let Some(limit) = args.per_label {
        examples = sample_per_label(&examples, limit, args.seed);
    }
    let validation = args.validation.as_deref().map(|path| dataset::load(path, &columns)).transpose()?;
    let config = TrainConfig {
        epochs: args.epochs,
        seed: args.seed,
        oos_label: args.columns.oos_label.clone(),
        ..TrainConfig::default()
    };
    let encoder = args.encoder.as_deref().map(SentenceEncoder::load).transpose()?;
    let embed = |texts: &[&str]| -> Result<Vec<Vec<f32>>, String> {
        encoder.as_ref().map_or(Ok(Vec::new()), |e| e.embed(texts).map_err(|e| e.to_string()))
    };
    let spec = encoder.as_ref().map(|encoder| {
        let spec = EncoderSpec { name: ENCODER_NAME.into(), dimensions: encoder.dimensions(), weight: 1.0 };
        (spec, &embed as switchboard_nlu::intent::Embedder<'_>)
    });
    let started = Instant::now();
    let progress = crate::progress::spinner(&format!("training on {} examples", examples.len()));
    let model = train_with(&examples, validation.as_deref(), &config, spec)?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let bytes = model.to_bytes();
    write_atomically(&args.out, &bytes)?;
    let summary = json!({
        "out": args.out,
        "examples": examples.len(),
        "labels": model.labels().len(),
        "vocabulary": model.vocabulary_size(),
        "bytes": bytes.len(),
        "train_seconds": seconds,
        "temperature": model.info.temperature,
        "threshold": model.info.threshold,
        "encoder": model.info.encoder,
    });
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "trained on {} examples, {} labels, in {seconds:.1} s; wrote {} ({} bytes)",
            examples.len(),
            model.labels().len(),
            args.out.display(),
            bytes.len()
        );
    }
    Ok(())
}

fn eval_command(args: &EvalArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.model).with_context(|| format!("cannot read {}", args.model.display()))?;
    let model = IntentModel::from_bytes(&bytes).with_context(|| format!("{}", args.model.display()))?;
    let examples: Vec<Example> = dataset::load(&args.data, &columns(&args.columns))?;
    let encoder = model.encoder().map(|_| SentenceEncoder::load(&args.encoder)).transpose()?;
    let report = evaluate(&model, &examples, args.columns.oos_label.as_deref(), encoder.as_ref())?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "n {} accuracy {:.4} macro_f1 {:.4} p50 {:.0} us p95 {:.0} us p99 {:.0} us",
            report.n, report.accuracy, report.macro_f1, report.p50_us, report.p95_us, report.p99_us
        );
        if let (Some(in_scope), Some(recall)) = (report.in_scope_accuracy, report.oos_recall) {
            println!("in-scope accuracy {in_scope:.4} out-of-scope recall {recall:.4}");
        }
    }
    Ok(())
}

/// Bitext's entity types that map to kinds the extractor knows.
const ANNOTATED_KINDS: &[(&str, Kind)] =
    &[("order_id", Kind::OrderNumber), ("invoice_id", Kind::InvoiceNumber), ("refund_amount", Kind::Amount)];

fn entities_command(args: &EntitiesArgs) -> anyhow::Result<()> {
    let mut reader =
        csv::Reader::from_path(&args.data).with_context(|| format!("cannot read {}", args.data.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column {name:?}", args.data.display()))
    };
    let (text_at, type_at, value_at) =
        (column(&args.text_column)?, column("entity_type")?, column("entity_value")?);
    let (start_at, end_at) = (column("start_offset")?, column("end_offset")?);
    let mut texts = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{}", args.data.display()))?;
        let field = |at: usize| record.get(at).unwrap_or_default();
        let annotation =
            ANNOTATED_KINDS.iter().find(|(name, _)| *name == field(type_at)).and_then(|(_, kind)| {
                Some(Annotation {
                    kind: *kind,
                    start_char: field(start_at).parse().ok()?,
                    end_char: field(end_at).parse().ok()?,
                    value: field(value_at).to_owned(),
                })
            });
        texts.push((field(text_at).to_owned(), annotation.into_iter().collect()));
    }
    let kinds: Vec<Kind> = ANNOTATED_KINDS.iter().map(|(_, kind)| *kind).collect();
    for score in entities::score(&texts, &kinds) {
        if args.json {
            println!("{}", serde_json::to_string(&score)?);
        } else {
            println!(
                "{:<16} annotated {:>4} found {:>4} extracted {:>4} precision {:.3} recall {:.3} values {:.3}",
                score.kind.as_str(),
                score.annotated,
                score.found,
                score.extracted,
                score.precision,
                score.recall,
                score.value_accuracy
            );
        }
    }
    Ok(())
}

/// Writes beside the target and renames, so a reader never sees half a model.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
