//! The intent model end to end on data written here: training, calibration, out of scope,
//! the artifact, and every refusal of bad input.

use std::io::Write as _;

use switchboard_nlu::intent::{
    ArtifactError, Example, IntentModel, Text, TrainConfig, TrainError,
    dataset::{self, Columns, DatasetError},
    eval::evaluate,
    train,
};

/// Given: phrasings of three intents and some out-of-scope chatter, in English and Chinese.
fn examples() -> Vec<Example> {
    let intents: [(&str, &[&str]); 4] = [
        (
            "order_status",
            &[
                "where is my order",
                "track my package",
                "has my parcel shipped",
                "when will my order arrive",
                "order status please",
                "my delivery is late where is it",
                "我的订单在哪里",
                "查一下我的包裹",
                "訂單到哪裡了",
                "物流信息",
            ],
        ),
        (
            "return_refund",
            &[
                "i want a refund",
                "how do i return this",
                "send it back and refund me",
                "money back please",
                "return my shoes",
                "refund for the broken item",
                "我要退款",
                "怎么退货",
                "我要退貨",
                "退錢給我",
            ],
        ),
        (
            "account_access",
            &[
                "i forgot my password",
                "cannot log in to my account",
                "reset my password",
                "my account is locked",
                "login does not work",
                "two factor code never arrives",
                "忘记密码了",
                "登录不了",
                "帳號被鎖了",
                "重設密碼",
            ],
        ),
        (
            "out_of_scope",
            &[
                "what is the weather tomorrow",
                "tell me a joke",
                "who won the football match",
                "recipe for pancakes",
                "what is the capital of peru",
                "sing me a song",
                "明天天气怎么样",
                "讲个笑话",
                "今天股市如何",
                "推薦一部電影",
            ],
        ),
    ];
    let mut examples = Vec::new();
    for round in 0..3 {
        for (label, texts) in intents {
            for text in texts {
                let text = if round == 0 {
                    (*text).to_owned()
                } else {
                    format!("{text} {}", ["please", "thanks"][round - 1])
                };
                examples.push(Example::new(text, label));
            }
        }
    }
    examples
}

fn config() -> TrainConfig {
    TrainConfig { oos_label: Some("out_of_scope".into()), ..TrainConfig::default() }
}

#[test]
fn a_trained_model_reads_new_phrasings_in_both_languages() {
    let model = train(&examples(), None, &config()).expect("trains");
    assert_eq!(model.predict(&Text::new("where is my parcel?")).label(), "order_status");
    assert_eq!(model.predict(&Text::new("please refund me")).label(), "return_refund");
    assert_eq!(model.predict(&Text::new("我忘记了密码")).label(), "account_access");
    assert_eq!(model.predict(&Text::new("我的訂單在哪")).label(), "order_status");
    let sure = model.predict(&Text::new("where is my order"));
    assert!(sure.confidence() > 0.5 && !sure.out_of_scope, "{sure:?}");
    let total: f32 = model.probabilities(&Text::new("anything")).iter().sum();
    assert!((total - 1.0).abs() < 1e-4);
}

#[test]
fn out_of_scope_messages_are_flagged_not_automated() {
    let model = train(&examples(), None, &config()).expect("trains");
    assert!(model.predict(&Text::new("tell me a joke please")).out_of_scope);
    let report = evaluate(&model, &examples(), Some("out_of_scope"), None).expect("evaluates");
    assert!(report.oos_recall.is_some_and(|r| r > 0.8), "{report:?}");
    assert!(report.in_scope_accuracy.is_some_and(|a| a > 0.8), "{report:?}");
    assert!(report.p99_us > 0.0 && report.p50_us <= report.p99_us);
}

#[test]
fn the_artifact_round_trips_and_refuses_corruption() {
    let model = train(&examples(), None, &config()).expect("trains");
    let bytes = model.to_bytes();
    let loaded = IntentModel::from_bytes(&bytes).expect("loads");
    assert_eq!(loaded.info, model.info);
    for text in ["where is my order", "我要退款", "reset my password please"] {
        assert_eq!(loaded.predict(&Text::new(text)).label(), model.predict(&Text::new(text)).label());
        let (a, b) =
            (loaded.predict(&Text::new(text)).confidence(), model.predict(&Text::new(text)).confidence());
        assert!((a - b).abs() < 0.01, "{a} vs {b}");
    }
    assert_eq!(IntentModel::from_bytes(b"not a model").err(), Some(ArtifactError::NotAModel));
    assert!(matches!(IntentModel::from_bytes(&bytes[..bytes.len() - 3]), Err(ArtifactError::Corrupt(_))));
}

#[test]
fn bad_training_data_gets_a_clear_error() {
    let one_class = vec![Example::new("a", "only"), Example::new("b", "only")];
    assert_eq!(train(&one_class, None, &config()).err(), Some(TrainError::OneClass("only".into())));
    assert_eq!(train(&[], None, &config()).err(), Some(TrainError::Empty));
    let empty_text = vec![Example::new("  ", "a"), Example::new("b", "b")];
    assert_eq!(
        train(&empty_text, None, &config()).err(),
        Some(TrainError::EmptyField { index: 0, what: "text" })
    );
    let huge = vec![Example::new("x".repeat(1 << 20), "a"), Example::new("b", "b")];
    assert!(matches!(train(&huge, None, &config()), Err(TrainError::TooLong { index: 0, .. })));
}

fn file(name: &str, bytes: &[u8]) -> (tempdir::Dir, std::path::PathBuf) {
    let dir = tempdir::Dir::new();
    let path = dir.0.join(name);
    std::fs::File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("fixture written");
    (dir, path)
}

#[test]
fn data_sets_load_from_csv_and_jsonl_and_name_the_bad_line() {
    let columns = Columns { text: "utterance".into(), label: "intent".into() };
    let (_dir, csv) =
        file("data.csv", b"utterance,intent\n\"where, is it\",order_status\nrefund,return_refund\n");
    let loaded = dataset::load(&csv, &columns).expect("loads");
    assert_eq!(
        loaded,
        [Example::new("where, is it", "order_status"), Example::new("refund", "return_refund")]
    );

    let (_dir, jsonl) =
        file("data.jsonl", "{\"utterance\":\"退款\",\"intent\":\"return_refund\"}\n\n".as_bytes());
    assert_eq!(dataset::load(&jsonl, &columns).expect("loads"), [Example::new("退款", "return_refund")]);

    let (_dir, bad_utf8) = file("bad.csv", b"utterance,intent\nok,a\n\xff\xfe,b\n");
    let error = dataset::load(&bad_utf8, &columns).expect_err("invalid UTF-8");
    assert!(matches!(error, DatasetError::Utf8 { line: 3, .. }), "{error}");

    let (_dir, missing) = file("missing.csv", b"text,label\na,b\n");
    let error = dataset::load(&missing, &columns).expect_err("no such column");
    assert!(error.to_string().contains("no column \"utterance\""), "{error}");

    let (_dir, bad_json) = file("bad.jsonl", b"{\"utterance\":\"a\",\"intent\":\"b\"}\n{oops\n");
    assert!(matches!(dataset::load(&bad_json, &columns), Err(DatasetError::Malformed { line: 2, .. })));

    let long = format!("utterance,intent\n{},a\n", "x".repeat(1 << 20));
    let (_dir, too_long) = file("long.csv", long.as_bytes());
    assert!(matches!(dataset::load(&too_long, &columns), Err(DatasetError::TooLong { line: 2, .. })));

    let (_dir, unknown) = file("data.xlsx", b"");
    assert!(matches!(dataset::load(&unknown, &columns), Err(DatasetError::UnknownFormat { .. })));
}

/// A directory removed when dropped.
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("switchboard-nlu-{}", uuid_like()));
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn uuid_like() -> String {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    }
}
