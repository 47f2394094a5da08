//! The operator's command line tried as a new user would: several `serve` processes on one host,
//! results on stdout and logs on stderr (so `| jq` works), and the API commands finding the
//! server where `serve` was told to listen.

mod common;

use std::{net::SocketAddr, path::PathBuf, process::Stdio};

use common::{Backing, Cluster};
use tokio::process::{Child, Command};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary with a clean environment: only what reaches the backing servers, and `extra`.
fn switchboard(backing: &Backing, extra: &[(&str, String)]) -> anyhow::Result<Command> {
    Ok(program(common::switchboard_binary()?, backing, extra))
}

/// `program` with the environment [`switchboard`] gives.
fn program(program: impl AsRef<std::ffi::OsStr>, backing: &Backing, extra: &[(&str, String)]) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .envs(["PATH", "HOME", "TMPDIR"].iter().filter_map(|name| Some((*name, std::env::var(name).ok()?))))
        .env("RUST_LOG", "info")
        .env("SWITCHBOARD_NATS_URL", backing.nats.url())
        .env("SWITCHBOARD_DATABASE_URL", &backing.database.url)
        .env("SWITCHBOARD_AUTH_KEY", switchboard_testkit::TEST_AUTH_KEY)
        .envs(extra.iter().map(|(name, value)| (*name, value.as_str())))
        .current_dir(root())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// `count` distinct free loopback addresses: held together while they are picked, so that no
/// two are the same port.
fn loopbacks(count: usize) -> anyhow::Result<Vec<SocketAddr>> {
    let held: Vec<std::net::TcpListener> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    Ok(held.iter().map(std::net::TcpListener::local_addr).collect::<Result<_, _>>()?)
}

/// Holds the default ports of the channels and of metrics where they are free, so that a
/// process that binds them anyway fails.
fn hold_default_ports() -> Vec<std::net::TcpListener> {
    [8080, 2525, 9464]
        .iter()
        .filter_map(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).ok())
        .collect()
}

#[tokio::test]
async fn processes_on_one_host_each_bind_only_their_own_listeners() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let _held = hold_default_ports();
    let mut children: Vec<Child> = Vec::new();
    let mut free = loopbacks(4)?;
    let refused_address = free.remove(0);
    let mut addresses = Vec::new();
    for (service, address) in ["intake", "classifier", "router"].into_iter().zip(free) {
        let mut command = switchboard(
            &backing,
            &[("SWITCHBOARD_SERVICES", service.into()), ("SWITCHBOARD_GRPC_ADDR", address.to_string())],
        )?;
        children.push(command.arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn()?);
        addresses.push(address);
    }
    for address in addresses {
        common::wait_serving(address).await?;
    }
    // A metrics port the operator chose is theirs: taken, the process says so and stops.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let chosen = taken.local_addr()?.to_string();
    let refused = switchboard(
        &backing,
        &[
            ("SWITCHBOARD_SERVICES", "intake".into()),
            ("SWITCHBOARD_GRPC_ADDR", refused_address.to_string()),
            ("SWITCHBOARD_METRICS_ADDR", chosen.clone()),
        ],
    )?
    .arg("serve")
    .output()
    .await?;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&format!("cannot listen for metrics on {chosen} (SWITCHBOARD_METRICS_ADDR)")),
        "{said}"
    );
    for child in &mut children {
        assert!(child.try_wait()?.is_none(), "every process still serves");
        child.start_kill()?;
    }
    Ok(())
}

#[tokio::test]
async fn router_simulate_json_prints_one_json_object_and_logs_elsewhere() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let output = switchboard(&backing, &[])?
        .args(["router", "simulate", "--rules", "crates/router/rules.yaml", "--json"])
        .output()
        .await?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout)?;
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|error| anyhow::anyhow!("stdout is not one JSON object ({error}): {stdout}"))?;
    assert!(report["messages"].is_number(), "{report}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    Ok(())
}

#[tokio::test]
async fn knowledge_import_finds_the_server_where_serve_was_told_to_listen() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let token = switchboard_testkit::token("default", switchboard_auth::Role::Admin, "importer");
    let token_again = token.clone();
    let output = switchboard(
        &backing,
        &[("SWITCHBOARD_GRPC_ADDR", cluster.address.to_string()), ("SWITCHBOARD_TOKEN", token)],
    )?
    .args(["knowledge", "import", "deploy/demo/articles.jsonl"])
    .output()
    .await?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout)?;
    let articles = std::fs::read_to_string(root().join("deploy/demo/articles.jsonl"))?.lines().count();
    assert_eq!(stdout, format!("imported {articles} articles (0 unchanged)\n"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("importing"), "no progress drawn off a terminal: {stderr}");

    // On a terminal (a pseudo-terminal that `script` opens), the same import draws its progress.
    let binary = common::switchboard_binary()?.display().to_string();
    let on_terminal = program(
        "script",
        &backing,
        &[("SWITCHBOARD_GRPC_ADDR", cluster.address.to_string()), ("SWITCHBOARD_TOKEN", token_again)],
    )
    .env("TERM", "xterm")
    .args(["-qec", &format!("{binary} knowledge import deploy/demo/articles.jsonl"), "/dev/null"])
    .output()
    .await?;
    let drawn = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{drawn}");
    assert!(drawn.contains("importing ["), "{drawn}");
    cluster.stop().await
}
