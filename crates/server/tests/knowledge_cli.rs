//! `switchboard knowledge eval` is a contract: its flags and its `--json` report.

use std::process::Command;

#[test]
fn eval_prints_recall_mrr_and_latency_for_product_and_baseline() {
    let dir = std::env::temp_dir().join(format!("switchboard-kb-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let articles = dir.join("articles.jsonl");
    let queries = dir.join("queries.jsonl");
    std::fs::write(
        &articles,
        concat!(
            r#"{"id":"refunds","title":"Refunds","body":"Refunds reach your card within five days.","locale":"en","tags":[]}"#,
            "\n",
            r#"{"id":"password","title":"Reset your password","body":"Use the forgot password link.","locale":"en","tags":[]}"#,
            "\n"
        ),
    )
    .expect("articles written");
    std::fs::write(
        &queries,
        concat!(
            r#"{"query":"refunds to my card","relevant":["refunds"]}"#,
            "\n",
            r#"{"query":"pasword","relevant":["password"]}"#,
            "\n"
        ),
    )
    .expect("queries written");
    for baseline in [false, true] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(["knowledge", "eval", "--articles"]).arg(&articles).arg("--queries").arg(&queries);
        command.args(["--locale", "en", "--json"]);
        if baseline {
            command.arg("--baseline");
        }
        let output = command.output().expect("switchboard runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
        for key in ["recall_at_1", "recall_at_5", "mrr_at_10", "p50_us", "p99_us"] {
            assert!(report.get(key).is_some(), "{key} missing from {report}");
        }
        assert_eq!(report["n"], 2);
        let at_5 = report["recall_at_5"].as_f64().unwrap_or_default();
        // The typo only the product's ranking forgives.
        assert_eq!(at_5, if baseline { 0.5 } else { 1.0 }, "baseline {baseline}: {report}");
    }
    std::fs::write(&queries, "{not json\n").expect("bad queries written");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["knowledge", "eval", "--articles"])
        .arg(&articles)
        .arg("--queries")
        .arg(&queries)
        .output()
        .expect("switchboard runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("queries.jsonl:1"));
    let _ = std::fs::remove_dir_all(&dir);
}
