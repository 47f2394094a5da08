//! The `switchboard classifier` command line is a contract: its flags, its `--json` report and
//! its refusals of bad files. Fixtures are written here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("switchboard runs")
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("switchboard-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("fixture written");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn csv() -> String {
    let mut rows = String::from("utterance,intent\n");
    for round in ["", " please", " now", " thanks", " asap"] {
        for text in ["where is my parcel", "track my package", "has my order shipped"] {
            rows.push_str(&format!("{text}{round},order_status\n"));
        }
        for text in ["i want a refund", "send it back", "money back"] {
            rows.push_str(&format!("{text}{round},refund\n"));
        }
        for text in ["tell me a joke", "weather tomorrow", "who won the match"] {
            rows.push_str(&format!("{text}{round},oos\n"));
        }
    }
    rows
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn train_then_eval_prints_the_contracted_json() {
    let scratch = Scratch::new("contract");
    let data = scratch.file("data.csv", csv().as_bytes());
    let model = scratch.0.join("model.bin");
    let columns = ["--text-column", "utterance", "--label-column", "intent", "--oos-label", "oos"];
    let mut train = vec!["classifier", "train", "--data", path(&data), "--out", path(&model), "--json"];
    train.extend(columns);
    let output = switchboard(&train);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("train --json is JSON");
    assert_eq!(summary["labels"], 3);

    let mut eval = vec!["classifier", "eval", "--model", path(&model), "--data", path(&data), "--json"];
    eval.extend(columns);
    let output = switchboard(&eval);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("eval --json is JSON");
    for key in ["accuracy", "macro_f1", "n", "in_scope_accuracy", "oos_recall", "p50_us", "p99_us"] {
        assert!(report.get(key).is_some(), "{key} missing from {report}");
    }
    assert_eq!(report["n"], 45);
    assert!(report["accuracy"].as_f64().is_some_and(|a| a > 0.9), "{report}");
}

#[test]
fn bad_files_are_refused_with_the_line_at_fault() {
    let scratch = Scratch::new("refusals");
    let model = scratch.0.join("model.bin");
    let cases: [(&str, &[u8], &str); 4] = [
        ("bad.csv", b"text,label\nfine,a\n\xff\xfe,b\n", "bad.csv:3: invalid UTF-8"),
        ("one.csv", b"text,label\na,same\nb,same\n", "single label"),
        ("empty.csv", b"text,label\n", "no examples"),
        ("cols.csv", b"utterance,intent\na,b\n", "no column \"text\""),
    ];
    for (name, bytes, expected) in cases {
        let data = scratch.file(name, bytes);
        let output = switchboard(&["classifier", "train", "--data", path(&data), "--out", path(&model)]);
        assert!(!output.status.success(), "{name} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
    assert!(!model.exists(), "no model is written from bad data");
}
