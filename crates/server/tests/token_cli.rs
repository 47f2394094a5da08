//! `switchboard token issue|key` is a contract: its flags, the token on the last line, and its
//! refusals of a missing or short key and of bad grants.

use std::process::{Command, Output};

use switchboard_auth::{Keys, Role};

const KEY: &str = "a test key for the token command line, 32+ bytes";

fn switchboard(args: &[&str], key: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.args(args).env_remove("SWITCHBOARD_AUTH_KEY").env_remove("SWITCHBOARD_AUTH_KEY_FILE");
    if let Some(key) = key {
        command.env("SWITCHBOARD_AUTH_KEY", key);
    }
    command.output().expect("switchboard runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn issue_prints_a_token_that_verifies_with_the_key_on_its_last_line() {
    let output = switchboard(
        &["token", "issue", "--tenant", "acme", "--role", "agent", "--subject", "ana", "--ttl", "12h"],
        Some(KEY),
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = stdout(&output);
    let token = text.lines().last().expect("a last line");
    let claims = Keys::from_secret(KEY.as_bytes()).expect("key").verify(token).expect("a valid token");
    assert_eq!((claims.tenant.as_str(), claims.sub.as_str(), claims.role), ("acme", "ana", Role::Agent));
    assert_eq!(claims.exp - claims.iat, 12 * 3600);
    assert!(text.contains(&format!("id: {}", claims.jti)), "{text}");
}

#[test]
fn issue_reads_the_key_from_a_file_and_defaults_the_subject_to_the_role() {
    let path = std::env::temp_dir().join(format!("switchboard-token-key-{}", std::process::id()));
    std::fs::write(&path, format!("{KEY}\n")).expect("key file");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["token", "issue", "--tenant", "acme", "--role", "supervisor"])
        .env_remove("SWITCHBOARD_AUTH_KEY")
        .env("SWITCHBOARD_AUTH_KEY_FILE", &path)
        .output()
        .expect("switchboard runs");
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = stdout(&output).lines().last().map(str::to_owned).expect("token");
    let claims = Keys::from_secret(KEY.as_bytes()).expect("key").verify(&token).expect("valid");
    assert_eq!((claims.sub.as_str(), claims.role), ("supervisor", Role::Supervisor));
}

#[test]
fn refuses_without_a_good_key_or_with_a_bad_grant() {
    let refused = |args: &[&str], key: Option<&str>, says: &str| {
        let output = switchboard(args, key);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stdout(&output).is_empty(), "nothing on stdout when refused");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    let issue = ["token", "issue", "--tenant", "acme", "--role", "admin"];
    refused(&issue, None, "SWITCHBOARD_AUTH_KEY");
    refused(&issue, Some("too short"), "at least 32");
    refused(&["token", "issue", "--tenant", "acme", "--role", "root"], Some(KEY), "unknown role");
    refused(&["token", "issue", "--tenant", "a.b", "--role", "admin"], Some(KEY), "tenant \"a.b\"");
    refused(&["token", "issue", "--tenant", "acme", "--role", "admin", "--ttl", "401d"], Some(KEY), "400d");
}

#[test]
fn key_prints_a_fresh_key_long_enough_to_sign_with() {
    let first = stdout(&switchboard(&["token", "key"], None));
    let second = stdout(&switchboard(&["token", "key"], None));
    assert_ne!(first, second);
    assert!(Keys::from_secret(first.trim().as_bytes()).is_ok());
}
