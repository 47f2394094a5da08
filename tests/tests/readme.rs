//! The README's walkthrough, run as written: its grpcurl commands (grpcurl, a real client, from
//! PyPI into `.local/bin`) against a cluster with the demo articles, and what its prose says they
//! show. Only the address and the conversation id are filled in.

mod common;

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use common::{Backing, Cluster, WAIT};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shell commands of the README's block that sets `SWITCHBOARD_TOKEN`, continuation lines
/// joined.
fn walkthrough() -> anyhow::Result<Vec<String>> {
    let readme = std::fs::read_to_string(root().join("README.md"))?;
    let block = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.contains("export SWITCHBOARD_TOKEN"))
        .context("the README has no walkthrough block setting SWITCHBOARD_TOKEN")?;
    // A command starts with its program; other lines continue it (inside quotes, as in a shell).
    let mut commands: Vec<String> = Vec::new();
    for line in block.replace("\\\n", " ").lines().filter(|line| !line.trim().is_empty()) {
        match commands.last_mut() {
            Some(command) if !line.starts_with("grpcurl ") && !line.starts_with("export ") => {
                command.push('\n');
                command.push_str(line);
            }
            _ => commands.push(line.trim().to_string()),
        }
    }
    Ok(commands)
}

fn grpcurl() -> anyhow::Result<PathBuf> {
    let path = root().join(".local/bin/grpcurl");
    anyhow::ensure!(path.exists(), "grpcurl is not in .local/bin: `make env` (or `make tools`) installs it");
    Ok(path)
}

/// Runs one README command with grpcurl from `.local/bin` and the token in the environment (a
/// child process, awaited: the cluster shares this test's runtime).
async fn run(command: &str, token: &str) -> anyhow::Result<(bool, String)> {
    let bin = grpcurl()?;
    let dir = bin.parent().context("bin dir")?.to_path_buf();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(command)
        .env("PATH", path)
        .env("SWITCHBOARD_TOKEN", token)
        .output()
        .await?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

#[tokio::test]
async fn the_readme_walkthrough_works_as_written() -> anyhow::Result<()> {
    let commands = walkthrough()?;
    assert!(commands[0].starts_with("export SWITCHBOARD_TOKEN=$(cat .local/admin.token)"), "{commands:?}");
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let token = switchboard_testkit::token("default", switchboard_auth::Role::Admin, "make-run");
    let api = switchboard_server::api::ApiArgs {
        endpoint: format!("http://{}", cluster.address),
        token: Some(token.clone()),
    };
    switchboard_server::knowledge::import(&root().join("deploy/demo/articles.jsonl"), &api).await?;
    let here = |command: &str| command.replace("127.0.0.1:50051", &cluster.address.to_string());

    let [_, list, submit, read] = commands.as_slice() else {
        anyhow::bail!("expected 4 commands: {commands:?}")
    };
    let (ok, services) = run(&here(list), &token).await?;
    assert!(ok && services.contains("switchboard.intake.v1.Intake"), "{services}");

    let (ok, submitted) = run(&here(submit), &token).await?;
    assert!(ok, "{submitted}");
    let submitted: serde_json::Value = serde_json::from_str(&submitted)?;
    let conversation = submitted["conversationId"].as_str().context("a conversationId")?.to_string();
    let (_, again) = run(&here(submit), &token).await?;
    assert!(again.contains("\"duplicate\": true"), "{again}");
    let anonymous = here(submit).replace("-H \"authorization: Bearer $SWITCHBOARD_TOKEN\"", "");
    let (ok, refused) = run(&anonymous, &token).await?;
    assert!(!ok && refused.contains("Unauthenticated"), "{refused}");

    // What the prose says the conversation shows, once the bot has answered.
    let read = here(read).replace("<conversationId from above>", &conversation);
    let shown = tokio::time::timeout(WAIT, async {
        loop {
            let (ok, shown) = run(&read, &token).await?;
            if ok && shown.contains("\"routing\"") {
                return anyhow::Ok(shown);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await??;
    for said in [
        "order_status",
        "builtin-",
        "\"rule\": \"order-status\"",
        "ROUTE_ACTION_QUEUE",
        "\"queue\": \"orders\"",
        "CONVERSATION_STATUS_QUEUED",
        "no confident answer",
    ] {
        assert!(shown.contains(said), "the README says the conversation shows {said:?}: {shown}");
    }
    cluster.stop().await
}
