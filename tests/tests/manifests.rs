//! The Kubernetes manifests take every secret from a Secret, never from a literal or the
//! ConfigMap: the cluster key, the database URL, NATS credentials (user and password, token, or
//! a creds file in `k8s/nats-creds`), TLS (`k8s/tls`) and the channels' secrets. Read from the
//! files as written (`make k8s` renders and validates them with kubectl).

use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_norway::Value;

fn k8s(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s").join(path)
}

fn documents(path: &str) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(k8s(path))?;
    serde_norway::Deserializer::from_str(&text).map(|document| Ok(Value::deserialize(document)?)).collect()
}

/// Settings whose values are secrets: they must come from a Secret.
fn is_secret_setting(name: &str) -> bool {
    ["SECRET", "TOKEN", "PASSWORD", "AUTH_KEY", "DATABASE_URL", "IDENTITY", "TENANTS", "SITES"]
        .iter()
        .any(|word| name.contains(word))
}

/// Each container's env entries by name: the Secret and key it reads, or `None` for a literal.
fn secret_refs(container: &Value) -> Vec<(String, Option<(String, String)>)> {
    let empty = Vec::new();
    let env = container["env"].as_sequence().unwrap_or(&empty);
    env.iter()
        .map(|entry| {
            let name = entry["name"].as_str().unwrap_or_default().to_string();
            let secret = &entry["valueFrom"]["secretKeyRef"];
            let source = secret["name"].as_str().zip(secret["key"].as_str());
            (name, source.map(|(s, k)| (s.to_string(), k.to_string())))
        })
        .collect()
}

#[test]
fn every_deployment_takes_its_secrets_from_secrets() -> anyhow::Result<()> {
    let deployments: Vec<Value> =
        documents("base/services.yaml")?.into_iter().filter(|d| d["kind"] == "Deployment").collect();
    assert!(deployments.len() >= 7, "one Deployment per service: {}", deployments.len());
    for deployment in &deployments {
        let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let refs = secret_refs(container);
        let from = |setting: &str| refs.iter().find(|(n, _)| n == setting).and_then(|(_, s)| s.clone());
        let pair = |secret: &str, key: &str| Some((secret.to_string(), key.to_string()));
        assert_eq!(from("SWITCHBOARD_AUTH_KEY"), pair("switchboard-auth", "key"), "{name}");
        assert_eq!(from("SWITCHBOARD_DATABASE_URL"), pair("switchboard-database", "url"), "{name}");
        for (setting, key) in [("USER", "user"), ("PASSWORD", "password"), ("TOKEN", "token")] {
            let setting = format!("SWITCHBOARD_NATS_{setting}");
            assert_eq!(from(&setting), pair("switchboard-nats", key), "{name}: {setting}");
        }
        let literal: Vec<&String> =
            refs.iter().filter(|(n, s)| s.is_none() && is_secret_setting(n)).map(|(n, _)| n).collect();
        assert!(literal.is_empty(), "{name} sets secrets as literals: {literal:?}");
    }
    let channels = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "channels")
        .ok_or_else(|| anyhow::anyhow!("no channels Deployment"))?;
    let refs = secret_refs(&channels["spec"]["template"]["spec"]["containers"][0]);
    for setting in
        ["SWITCHBOARD_WEBHOOK_SECRET", "SWITCHBOARD_CHAT_IDENTITY_SECRETS", "SWITCHBOARD_CHANNEL_TENANTS"]
    {
        assert!(refs.iter().any(|(n, s)| n == setting && s.is_some()), "channels: {setting} from a Secret");
    }
    Ok(())
}

#[test]
fn the_config_map_holds_no_secret() -> anyhow::Result<()> {
    for document in documents("base/config.yaml")? {
        let Some(data) = document["data"].as_mapping() else { continue };
        let secrets: Vec<&str> =
            data.keys().filter_map(Value::as_str).filter(|key| is_secret_setting(key)).collect();
        assert!(secrets.is_empty(), "secrets in the ConfigMap: {secrets:?}");
    }
    Ok(())
}

/// A variant's patch mounts `secret` read-only and points each setting into the mount.
fn mounts(patch: &str, secret: &str, settings: &[&str]) -> anyhow::Result<()> {
    let operations = documents(patch)?.pop().unwrap_or(Value::Null);
    let operations = operations.as_sequence().cloned().unwrap_or_default();
    let value_at = |path: &str| operations.iter().find(|op| op["path"] == path).map(|op| op["value"].clone());
    let volumes = value_at("/spec/template/spec/volumes").unwrap_or(Value::Null);
    let volume = volumes
        .as_sequence()
        .and_then(|v| v.iter().find(|volume| volume["secret"]["secretName"] == secret))
        .ok_or_else(|| anyhow::anyhow!("{patch}: no volume of the Secret {secret}"))?;
    let mounts = value_at("/spec/template/spec/containers/0/volumeMounts").unwrap_or(Value::Null);
    let mount = mounts
        .as_sequence()
        .and_then(|m| m.iter().find(|mount| mount["name"] == volume["name"]))
        .ok_or_else(|| anyhow::anyhow!("{patch}: the volume is not mounted"))?;
    assert_eq!(mount["readOnly"].as_bool(), Some(true), "{patch}");
    let directory = mount["mountPath"].as_str().unwrap_or_default();
    for setting in settings {
        let set = operations.iter().find(|op| op["value"]["name"] == *setting);
        let path = set.and_then(|op| op["value"]["value"].as_str()).unwrap_or_default();
        assert!(path.starts_with(&format!("{directory}/")), "{patch}: {setting} = {path:?}");
    }
    Ok(())
}

#[test]
fn the_variants_mount_tls_and_the_nats_creds_file_from_their_secrets() -> anyhow::Result<()> {
    let tls = ["SWITCHBOARD_TLS_CERT", "SWITCHBOARD_TLS_KEY", "SWITCHBOARD_TLS_CA", "SWITCHBOARD_NATS_CA"];
    mounts("tls/deployment-tls.yaml", "switchboard-tls", &tls)?;
    mounts("nats-creds/deployment-nats-creds.yaml", "switchboard-nats", &["SWITCHBOARD_NATS_CREDS"])
}
