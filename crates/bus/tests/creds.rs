//! NATS with decentralised auth: an operator, an account with JetStream, and a user whose `.creds`
//! file (JWT and NKey seed) is what the bus connects with. The JWTs are made here with the nkeys
//! library (ed25519) as `nsc` would make them; the server checks them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde_json::{Value, json};
use switchboard_bus::{Bus, Config};
use switchboard_testkit::NatsServer;

/// A NATS JWT of `kind` about `subject`, signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> anyhow::Result<String> {
    let header = URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "ed25519-nkey"}).to_string());
    let claims = json!({
        "jti": format!("{name}-{}", token_id(subject)),
        "iat": unix_now(),
        "iss": issuer.public_key(),
        "sub": subject,
        "name": name,
        "nats": nats,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let signature = issuer.sign(signed.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// A JWT id (`jti`): unique enough for one test server.
fn token_id(subject: &str) -> String {
    subject.chars().rev().take(12).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// An account without limits; with JetStream or without (the system account may not have it).
fn account_claims(jetstream: bool) -> Value {
    let storage = if jetstream { -1 } else { 0 };
    json!({
        "limits": {
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true,
            "conn": -1, "leaf": -1, "mem_storage": storage, "disk_storage": storage, "streams": storage,
            "consumer": storage
        },
        "default_permissions": {"pub": {}, "sub": {}},
        "type": "account",
        "version": 2
    })
}

#[tokio::test]
async fn connects_with_a_creds_file_and_is_refused_without_it() -> anyhow::Result<()> {
    let operator = KeyPair::new_operator();
    let (account, system, user) = (KeyPair::new_account(), KeyPair::new_account(), KeyPair::new_user());
    let operator_jwt =
        jwt(&operator, &operator.public_key(), "op", json!({"type": "operator", "version": 2}))?;
    let account_jwt = jwt(&operator, &account.public_key(), "switchboard", account_claims(true))?;
    let system_jwt = jwt(&operator, &system.public_key(), "SYS", account_claims(false))?;
    let user_claims =
        json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2});
    let user_jwt = jwt(&account, &user.public_key(), "switchboard-user", user_claims)?;

    let dir = std::env::temp_dir().join(format!("switchboard-creds-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("server.conf");
    std::fs::write(
        &config,
        format!(
            "operator: {operator_jwt}\nsystem_account: {system}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {account}: {account_jwt}\n  {system}: {system_jwt}\n}}\n",
            system = system.public_key(),
            account = account.public_key(),
        ),
    )?;
    let seed = user.seed().map_err(|e| anyhow::anyhow!("{e}"))?;
    let creds = dir.join("user.creds");
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        ),
    )?;
    let server = NatsServer::start_with(&["-c", &config.to_string_lossy()])?;

    let refused = Bus::connect(Config { url: server.url(), ..Config::default() }).await;
    assert!(refused.is_err(), "connected without credentials");
    let access = switchboard_bus::Access { credentials_file: Some(creds.clone()), ..Default::default() };
    let bus = Bus::connect(Config { url: server.url(), access, ..Config::default() }).await?;
    // The streams were made, so JetStream works for this user.
    assert_eq!(bus.last_sequence(switchboard_bus::EVENTS_STREAM).await?, 0);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
