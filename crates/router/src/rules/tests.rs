use chrono::{TimeZone as _, Utc};

use super::evaluate::{contains_phrase, test_words as words};
use super::*;

fn bundled() -> Rules {
    Rules::parse(DEFAULT_RULES).expect("bundled rules are valid")
}

fn facts<'a>(text: &'a str, intent: &'a str) -> Facts<'a> {
    Facts {
        text,
        intent,
        confidence: 0.9,
        language: "en",
        channel: "web",
        sentiment: "neutral",
        sentiment_score: 0.0,
        urgency: "normal",
        customer: None,
        previous_contacts: &[],
        at: Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).single().expect("time"),
    }
}

#[test]
fn given_a_request_for_a_human_when_evaluated_then_it_escalates() {
    let rules = bundled();
    let decision = rules.evaluate(&facts("Can I talk to an agent please?", "order_status"));
    assert_eq!(decision.rule.then.action, Some(Action::Escalate));
    assert!(decision.reason.contains("keyword \"agent\""), "{}", decision.reason);
}

#[test]
fn given_a_vip_invoice_question_when_evaluated_then_billing_takes_it_at_high_priority() {
    let rules = bundled();
    let vip = Customer { tier: "vip".into(), ..Customer::default() };
    let decision =
        rules.evaluate(&Facts { customer: Some(&vip), ..facts("Where is my invoice?", "billing_invoice") });
    assert_eq!(decision.rule.then.queue.as_deref(), Some("billing"));
    assert_eq!(decision.priority, Priority::High);
    assert_eq!(decision.fired, ["vip-customers", "billing-questions"]);
    assert_eq!(decision.tags, ["vip"]);
    assert_eq!(decision.inputs.get("customer.tier").map(String::as_str), Some("vip"));
    let standard = rules.evaluate(&facts("Where is my invoice?", "billing_invoice"));
    assert_eq!(standard.priority, Priority::Normal);
}

#[test]
fn given_low_confidence_when_evaluated_then_the_answer_rule_is_skipped() {
    let rules = bundled();
    let decision = rules.evaluate(&Facts { confidence: 0.1, ..facts("order?", "order_status") });
    assert_eq!(decision.rule.name, "everything-else");
}

const HOURS_AND_HISTORY: &str = r#"
calendars:
  default: {timezone: Europe/Berlin, hours: {mon-fri: "09:00-17:00"}}
rules:
  - name: after-hours
    when: {business_hours: closed}
    then: {tags: [after-hours], notify: ["team:night"]}
    continue: true
  - name: repeat-callers
    when: {previous_contacts: {min: 2, within_days: 7}, channels: [voice]}
    then: {action: escalate, queue: retention, assign: least_loaded}
  - name: rest
    then: {action: queue, queue: general}
"#;

#[test]
fn business_hours_and_previous_contacts_are_conditions() {
    let rules = Rules::parse(HOURS_AND_HISTORY).expect("valid");
    let night = Utc.with_ymd_and_hms(2026, 12, 2, 22, 0, 0).single().expect("time");
    let decision = rules.evaluate(&Facts { at: night, ..facts("hello", "greeting") });
    assert_eq!(decision.tags, ["after-hours"]);
    assert_eq!(decision.notify, ["team:night"]);
    assert_eq!(decision.inputs.get("business_hours").map(String::as_str), Some("closed (default)"));

    let at = facts("hello", "greeting").at;
    let earlier =
        [at - chrono::Duration::days(1), at - chrono::Duration::days(3), at - chrono::Duration::days(20)];
    let caller = Facts { channel: "voice", previous_contacts: &earlier, ..facts("hello", "greeting") };
    let decision = rules.evaluate(&caller);
    assert_eq!(
        (decision.rule.name.as_str(), decision.assignment),
        ("repeat-callers", Some(Assignment::LeastLoaded))
    );
    assert_eq!(decision.inputs.get("previous_contacts").map(String::as_str), Some("2 in 7 days"));
    let once = Facts { previous_contacts: &earlier[1..], ..caller };
    assert_eq!(rules.evaluate(&once).rule.name, "rest");
}

#[test]
fn keywords_match_whole_words_and_chinese_anywhere() {
    assert!(contains_phrase(&words("I want a REAL person!"), "real person"));
    assert!(!contains_phrase(&words("the agenda"), "agent"));
    assert!(contains_phrase(&words("我要人工服务"), "人工"));
}

#[test]
fn json_is_read_too() {
    let json = r#"{"rules": [{"name": "all", "then": {"action": "queue", "queue": "general"}}]}"#;
    assert_eq!(Rules::parse(json).expect("valid").rules().len(), 1);
}

#[test]
fn refuses_bad_rule_sets_naming_the_line() {
    let cases = [
        ("rules: []", "empty"),
        (
            "rules:\n  - name: a\n    when: {intents: [x]}\n    then: {action: queue, queue: q}\n",
            "line 2: rule a: the last rule",
        ),
        (
            "rules:\n  - name: a\n    then: {action: queue, queue: q}\n  - name: b\n    then: {action: queue, queue: q}\n",
            "line 2: rule a: a deciding rule without conditions must be last",
        ),
        ("rules:\n  - name: a\n    then: {action: fly, queue: q}\n", "line 3"),
        ("rules:\n  - name: a\n    then: {action: queue, queue: q}\n    colour: 1\n", "line 4"),
        (
            "rules:\n  - name: a\n    when: {min_confidence: 2}\n    then: {action: queue, queue: q}\n",
            "min_confidence",
        ),
        (
            "rules:\n  - name: a\n    when: {channels: [fax]}\n    then: {action: queue, queue: q}\n",
            "\"fax\" is not one of",
        ),
        (
            "rules:\n  - name: a\n    when: {business_hours: open}\n    then: {action: queue, queue: q}\n",
            "calendar \"default\"",
        ),
        ("rules:\n  - name: a\n    then: {tags: [x]}\n    continue: true\n", "line 2: rule a: the last rule"),
        (
            "rules:\n  - name: a\n    then: {queue: q, tags: [x]}\n    continue: true\n  - name: b\n    then: {action: queue, queue: q}\n",
            "continuing rule only adds",
        ),
        (
            "calendars:\n  default: {timezone: Mars/Olympus, hours: {mon: \"09:00-17:00\"}}\nrules: []\n",
            "line 2: calendar default: unknown time zone",
        ),
        (
            "rules:\n  - name: a\n    then: {action: queue, queue: q, webhook: ftp://x}\n",
            "not an http(s) URL",
        ),
    ];
    for (text, expected) in cases {
        let error = Rules::parse(text).expect_err(expected);
        assert!(error.contains(expected), "{expected}: {error}");
    }
}
