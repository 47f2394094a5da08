//! The Kubernetes manifests take every secret from a Secret, never from a literal or the
//! ConfigMap: the cluster key, the database URL, NATS credentials (user and password, token, or
//! a creds file in `k8s/nats-creds`), TLS (`k8s/tls`) and the channels' secrets. Read from the
//! files as written. And what `deploy/local/k8s.sh` renders (the overlays `k8s/overlays/dev` and
//! `k8s/overlays/prod`, and the variants `k8s/tls` and `k8s/nats-creds`, with kustomize, each
//! validated against Kubernetes 1.32 by kubernetes-validate) is hardened: every container probed,
//! limited, unprivileged on a read-only root filesystem, from a pinned image; every service with
//! its health name in its probes, a disruption budget, a network policy and metrics scraped; prod
//! on a 3-node NATS cluster and an external PostgreSQL, dev on one of each and one replica each.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use serde::Deserialize as _;
use serde_norway::Value;

fn k8s(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s").join(path)
}

fn documents(path: &str) -> anyhow::Result<Vec<Value>> {
    parse(&std::fs::read_to_string(k8s(path))?)
}

fn parse(text: &str) -> anyhow::Result<Vec<Value>> {
    serde_norway::Deserializer::from_str(text).map(|document| Ok(Value::deserialize(document)?)).collect()
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

/// The renderings `deploy/local/k8s.sh` writes, by name: the two overlays, then the variants.
const RENDERINGS: [&str; 4] = ["dev", "prod", "tls", "nats-creds"];

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0) {
            eprintln!("cannot remove {}: {error}", self.0.display());
        }
    }
}

/// Runs `deploy/local/k8s.sh` (which installs what it lacks, renders with kustomize and validates
/// against Kubernetes 1.32) into a scratch directory, and reads what it rendered.
fn render() -> anyhow::Result<Vec<(&'static str, Vec<Value>)>> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let out = Scratch(std::env::temp_dir().join(format!("switchboard-k8s-{}-{stamp}", std::process::id())));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/k8s.sh");
    let output = std::process::Command::new("bash").arg(&script).arg(&out.0).output()?;
    anyhow::ensure!(
        output.status.success(),
        "{} failed ({}):\n{}{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    RENDERINGS
        .into_iter()
        .map(|name| Ok((name, parse(&std::fs::read_to_string(out.0.join(format!("{name}.yaml")))?)?)))
        .collect()
}

/// The renderings, made once for all the tests here (the script installs into `.local/k8s`, which
/// two runs at once must not share).
type Renderings = Vec<(&'static str, Vec<Value>)>;

fn rendered() -> anyhow::Result<&'static [(&'static str, Vec<Value>)]> {
    static RENDERED: OnceLock<Result<Renderings, String>> = OnceLock::new();
    RENDERED
        .get_or_init(|| render().map_err(|error| format!("{error:#}")))
        .as_deref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn rendering(name: &str) -> anyhow::Result<&'static [Value]> {
    let found = rendered()?.iter().find(|(n, _)| *n == name);
    found.map(|(_, documents)| documents.as_slice()).ok_or_else(|| anyhow::anyhow!("no rendering {name}"))
}

fn of_kind<'a>(documents: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    documents.iter().filter(move |document| document["kind"] == kind)
}

fn name_of(document: &Value) -> &str {
    document["metadata"]["name"].as_str().unwrap_or_default()
}

/// Deployments and StatefulSets.
fn workloads(documents: &[Value]) -> impl Iterator<Item = &Value> {
    documents.iter().filter(|document| document["kind"] == "Deployment" || document["kind"] == "StatefulSet")
}

fn sequence(value: &Value) -> &[Value] {
    value.as_sequence().map(Vec::as_slice).unwrap_or_default()
}

/// A container's security setting, or else its pod's.
fn security<'a>(container: &'a Value, pod: &'a Value, key: &str) -> &'a Value {
    let own = &container["securityContext"][key];
    if own.is_null() { &pod["securityContext"][key] } else { own }
}

/// The tag of an image reference (`nats:2.10.29-alpine`: `2.10.29-alpine`), if it names one.
fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    last.split_once(':').map(|(_, tag)| tag).filter(|tag| !tag.is_empty())
}

/// What is wrong with a workload's containers, init containers included: each that runs along
/// the pod (init containers only as sidecars, `restartPolicy: Always`: Kubernetes refuses probes
/// on the others, which run to completion first) needs readiness and liveness probes; each needs
/// cpu and memory limits, a non-root user, a read-only root filesystem and a pinned image.
fn container_problems(workload: &Value) -> Vec<String> {
    let pod = &workload["spec"]["template"]["spec"];
    let containers = sequence(&pod["containers"]).iter().map(|container| (container, true));
    let init = sequence(&pod["initContainers"])
        .iter()
        .map(|container| (container, container["restartPolicy"] == "Always"));
    let mut problems = Vec::new();
    for (container, runs_along) in containers.chain(init) {
        let who = format!(
            "{} {}/{}",
            workload["kind"].as_str().unwrap_or_default(),
            name_of(workload),
            container["name"].as_str().unwrap_or_default()
        );
        for probe in ["readinessProbe", "livenessProbe"] {
            if runs_along && !container[probe].is_mapping() {
                problems.push(format!("{who}: no {probe}"));
            }
        }
        for limit in ["cpu", "memory"] {
            if container["resources"]["limits"][limit].is_null() {
                problems.push(format!("{who}: no {limit} limit"));
            }
        }
        if security(container, pod, "runAsNonRoot").as_bool() != Some(true) {
            problems.push(format!("{who}: not runAsNonRoot"));
        }
        if security(container, pod, "runAsUser").as_u64().is_none_or(|user| user == 0) {
            problems.push(format!("{who}: no non-zero runAsUser"));
        }
        if container["securityContext"]["readOnlyRootFilesystem"].as_bool() != Some(true) {
            problems.push(format!("{who}: the root filesystem is writable"));
        }
        let image = container["image"].as_str().unwrap_or_default();
        if image_tag(image).is_none_or(|tag| tag == "latest") {
            problems.push(format!("{who}: the image {image:?} has no tag other than latest"));
        }
    }
    problems
}

#[test]
fn every_container_is_probed_limited_unprivileged_read_only_and_pinned() -> anyhow::Result<()> {
    for name in RENDERINGS {
        let documents = rendering(name)?;
        let problems: Vec<String> = workloads(documents).flat_map(container_problems).collect();
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        assert!(workloads(documents).count() >= 9, "{name}: the services and NATS");
    }
    Ok(())
}

/// The name each service's gRPC service is registered under with grpc.health.v1 (`serve` marks it
/// SERVING once started); the channels register none, so their probes ask for the empty name.
fn health_name(service: &str) -> Option<&'static str> {
    Some(match service {
        "intake" => "switchboard.intake.v1.Intake",
        "classifier" => "switchboard.classifier.v1.Classifier",
        "router" => "switchboard.router.v1.Router",
        "knowledge" => "switchboard.knowledge.v1.Knowledge",
        "notifier" => "switchboard.notifier.v1.Notifier",
        "analytics" => "switchboard.analytics.v1.Analytics",
        "desk" => "switchboard.desk.v1.Desk",
        "channels" => "",
        _ => return None,
    })
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    sequence(&container["env"]).iter().find(|entry| entry["name"] == name)?["value"].as_str()
}

/// Whether a selector's `matchLabels` (not empty) all hold among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector["matchLabels"].as_mapping().is_some_and(|wanted| {
        !wanted.is_empty()
            && wanted.iter().all(|(key, value)| key.as_str().is_some_and(|key| labels[key] == *value))
    })
}

/// The services' Deployments: those that run `switchboard serve` for one service.
fn services(documents: &[Value]) -> Vec<(&str, &Value)> {
    of_kind(documents, "Deployment")
        .filter_map(|deployment| {
            let container = &deployment["spec"]["template"]["spec"]["containers"][0];
            env_value(container, "SWITCHBOARD_SERVICES").map(|service| (service, deployment))
        })
        .collect()
}

#[test]
fn every_service_has_health_probes_a_disruption_budget_a_network_policy_and_metrics() -> anyhow::Result<()> {
    for name in RENDERINGS {
        let documents = rendering(name)?;
        let deployments = services(documents);
        assert_eq!(deployments.len(), 8, "{name}: one Deployment per service");
        for (service, deployment) in deployments {
            let template = &deployment["spec"]["template"];
            let labels = &template["metadata"]["labels"];
            let container = &template["spec"]["containers"][0];
            let health =
                health_name(service).ok_or_else(|| anyhow::anyhow!("{name}: unknown service {service}"))?;
            // k8s/tls probes over TCP instead: Kubernetes' gRPC probes cannot speak TLS.
            for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                let grpc = &container[probe]["grpc"];
                if name == "tls" {
                    assert_eq!(
                        container[probe]["tcpSocket"]["port"].as_u64(),
                        Some(50051),
                        "{name}: {service} {probe}"
                    );
                    continue;
                }
                assert_eq!(grpc["port"].as_u64(), Some(50051), "{name}: {service} {probe}");
                assert_eq!(grpc["service"].as_str().unwrap_or_default(), health, "{name}: {service} {probe}");
            }
            let budget = of_kind(documents, "PodDisruptionBudget")
                .any(|pdb| selects(&pdb["spec"]["selector"], labels));
            assert!(budget, "{name}: no PodDisruptionBudget selects {service}");
            let policy = of_kind(documents, "NetworkPolicy")
                .any(|policy| selects(&policy["spec"]["podSelector"], labels));
            assert!(policy, "{name}: no NetworkPolicy of its own selects {service}");
            let annotations = &template["metadata"]["annotations"];
            assert_eq!(annotations["prometheus.io/scrape"], "true", "{name}: {service}");
            let metrics = sequence(&container["ports"]).iter().find(|port| port["name"] == "metrics");
            let port = metrics.and_then(|port| port["containerPort"].as_u64()).map(|port| port.to_string());
            assert!(port.is_some(), "{name}: {service} declares no port `metrics`");
            assert_eq!(annotations["prometheus.io/port"].as_str(), port.as_deref(), "{name}: {service}");
        }
    }
    Ok(())
}

fn config_value<'a>(documents: &'a [Value], key: &str) -> Option<&'a str> {
    of_kind(documents, "ConfigMap").find(|map| name_of(map) == "switchboard")?["data"][key].as_str()
}

fn runs_image(workload: &Value, image: &str) -> bool {
    let pod = &workload["spec"]["template"]["spec"];
    sequence(&pod["containers"])
        .iter()
        .chain(sequence(&pod["initContainers"]))
        .any(|container| container["image"].as_str().is_some_and(|i| i.starts_with(&format!("{image}:"))))
}

#[test]
fn prod_runs_a_nats_cluster_and_no_postgres_and_dev_runs_both_and_each_service_once() -> anyhow::Result<()> {
    for name in ["prod", "tls", "nats-creds"] {
        let documents = rendering(name)?;
        let nats = of_kind(documents, "StatefulSet")
            .find(|set| runs_image(set, "nats"))
            .ok_or_else(|| anyhow::anyhow!("{name}: no NATS StatefulSet"))?;
        assert_eq!(nats["spec"]["replicas"].as_u64(), Some(3), "{name}: 3 NATS servers");
        assert!(
            !sequence(&nats["spec"]["volumeClaimTemplates"]).is_empty(),
            "{name}: NATS stores on volumes"
        );
        assert_eq!(
            config_value(documents, "SWITCHBOARD_STREAM_REPLICAS"),
            Some("3"),
            "{name}: 3 copies of each stream"
        );
        assert!(!workloads(documents).any(|w| runs_image(w, "postgres")), "{name}: PostgreSQL is external");
        // The autoscaled services; analytics (one projection writer) and the channels (limits
        // held per process) keep a fixed count: see k8s/overlays/prod/autoscaling.yaml.
        let mut autoscaled: Vec<&str> = of_kind(documents, "HorizontalPodAutoscaler")
            .filter_map(|hpa| hpa["spec"]["scaleTargetRef"]["name"].as_str())
            .collect();
        autoscaled.sort_unstable();
        assert_eq!(autoscaled, ["classifier", "desk", "intake", "knowledge", "notifier", "router"], "{name}");
        // At least 2 replicas of each: set, or the autoscaler's minimum (which then owns the count).
        for (service, deployment) in services(documents) {
            let autoscaler = of_kind(documents, "HorizontalPodAutoscaler")
                .find(|hpa| hpa["spec"]["scaleTargetRef"]["name"] == service);
            let replicas =
                autoscaler.map_or(&deployment["spec"]["replicas"], |hpa| &hpa["spec"]["minReplicas"]);
            assert!(
                replicas.as_u64().is_some_and(|count| count >= 2),
                "{name}: {service} has a second replica"
            );
        }
    }
    let dev = rendering("dev")?;
    for image in ["nats", "postgres"] {
        let set = of_kind(dev, "StatefulSet").find(|set| runs_image(set, image));
        assert_eq!(set.and_then(|set| set["spec"]["replicas"].as_u64()), Some(1), "dev: one {image}");
    }
    for (service, deployment) in services(dev) {
        assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(1), "dev: {service} once");
    }
    assert_eq!(of_kind(dev, "HorizontalPodAutoscaler").count(), 0, "dev: no autoscaler");
    assert_eq!(config_value(dev, "SWITCHBOARD_STREAM_REPLICAS"), Some("1"), "dev: one copy of each stream");
    Ok(())
}
