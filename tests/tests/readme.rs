//! The README's walkthrough, run as written: its grpcurl commands (grpcurl, a real client, from
//! PyPI into `.local/bin`) against a cluster loaded with `make run`'s demo data the way `make run`
//! loads it (the functions behind the `switchboard demo seed` and `switchboard agent password`
//! lines of its recipe), and what its prose says they show. Only the address and the
//! conversation id are filled in.

mod common;

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use common::{Backing, Cluster, WAIT, wait_for_event};
use switchboard_proto::{
    auth::v1::{SignInRequest, auth_client::AuthClient},
    events::v1::event::Body,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(file: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(root().join(file)).with_context(|| format!("cannot read {file}"))
}

/// The shell commands of the README's block that sets `SWITCHBOARD_TOKEN`, continuation lines
/// joined.
fn walkthrough(readme: &str) -> anyhow::Result<Vec<String>> {
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

/// The README's commands by what they do, in the order the prose tells them.
struct Walkthrough {
    services: String,
    ask: String,
    read: String,
    escalate: String,
    desk: String,
}

impl Walkthrough {
    fn parse(commands: &[String]) -> anyhow::Result<Self> {
        let calls = |rpc: &str| commands.iter().filter(|c| c.contains(rpc)).cloned().collect::<Vec<_>>();
        let (submits, reads, desks) = (
            calls("Intake/SubmitMessage"),
            calls("Intake/GetConversation"),
            calls("Desk/ListConversations"),
        );
        let [export, services, ..] = commands else { anyhow::bail!("too few commands: {commands:?}") };
        anyhow::ensure!(export.starts_with("export SWITCHBOARD_TOKEN=$(cat .local/admin.token)"), "{export}");
        anyhow::ensure!(services.ends_with(" list"), "the second command lists the services: {services}");
        let ([ask, escalate], [read], [desk]) = (submits.as_slice(), reads.as_slice(), desks.as_slice()) else {
            anyhow::bail!("expected two submits, one read and one desk list: {commands:?}")
        };
        anyhow::ensure!(commands.len() == 6, "six commands: {commands:?}");
        Ok(Self {
            services: services.clone(),
            ask: ask.clone(),
            read: read.clone(),
            escalate: escalate.clone(),
            desk: desk.clone(),
        })
    }
}

/// What `make run` seeds, from its recipe: the directory of `demo seed` and the agent whose
/// password `agent password` sets.
fn make_run_seeds(makefile: &str) -> anyhow::Result<(PathBuf, String)> {
    let recipe = makefile.split("\nrun:").nth(1).context("the Makefile has no run target")?;
    let recipe = recipe.split("\n\n").next().unwrap_or_default();
    let dir = recipe
        .split("$(BIN) demo seed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .context("make run does not call `switchboard demo seed DIR`")?;
    anyhow::ensure!(
        recipe.contains("$(BIN) agent password --subject $(DEMO_AGENT)"),
        "make run does not set the demo agent's password"
    );
    let agent = makefile
        .lines()
        .find_map(|line| line.strip_prefix("DEMO_AGENT := "))
        .context("the Makefile names no DEMO_AGENT")?;
    Ok((root().join(dir), agent.trim().to_string()))
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

/// Runs `command` until its output satisfies `ready` (the services work asynchronously).
async fn run_until(command: &str, token: &str, ready: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    tokio::time::timeout(WAIT, async {
        loop {
            let (ok, shown) = run(command, token).await?;
            if ok && ready(&shown) {
                return anyhow::Ok(shown);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .with_context(|| format!("waiting for {command}"))?
}

#[tokio::test]
async fn the_readme_walkthrough_works_as_written() -> anyhow::Result<()> {
    let readme = read("README.md")?;
    let steps = Walkthrough::parse(&walkthrough(&readme)?)?;
    let (demo, agent) = make_run_seeds(&read("Makefile")?)?;
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let token = switchboard_testkit::token("default", switchboard_auth::Role::Admin, "make-run");
    let api = switchboard_server::api::ApiArgs {
        endpoint: format!("http://{}", cluster.address),
        token: Some(token.clone()),
    };
    let seeded = switchboard_server::demo::seed(&demo, &api).await?;
    assert!(seeded.articles.published > 0 && seeded.customers.published > 0 && seeded.orders.published > 0);
    let password = "a demo password made per machine";
    switchboard_server::agent::set_password(&api, &agent, "agent", password.into()).await?;
    // Seeding the shipped order tells its customer by email (they have no conversation yet). A
    // person tries the README long after; waiting here keeps the notice out of the walkthrough's
    // conversation, as it is then.
    let bus = backing.bus().await?;
    wait_for_event(&bus, "switchboard.events.notification.>", |event| match &event.body {
        Some(Body::NotificationRequested(notice)) if notice.text.contains("12345") => Some(()),
        _ => None,
    })
    .await?;
    let here = |command: &str| command.replace("127.0.0.1:50051", &cluster.address.to_string());

    let (ok, services) = run(&here(&steps.services), &token).await?;
    assert!(ok && services.contains("switchboard.intake.v1.Intake"), "{services}");

    let (ok, asked) = run(&here(&steps.ask), &token).await?;
    assert!(ok, "{asked}");
    let asked: serde_json::Value = serde_json::from_str(&asked)?;
    let conversation = asked["conversationId"].as_str().context("a conversationId")?.to_string();
    let (_, again) = run(&here(&steps.ask), &token).await?;
    assert!(again.contains("\"duplicate\": true") && again.contains(&conversation), "{again}");
    let anonymous = here(&steps.ask).replace("-H \"authorization: Bearer $SWITCHBOARD_TOKEN\"", "");
    let (ok, refused) = run(&anonymous, &token).await?;
    assert!(!ok && refused.contains("Unauthenticated"), "{refused}");

    let ours = |command: &str| here(command).replace("<conversationId from above>", &conversation);
    let shown = run_until(&ours(&steps.read), &token, |shown| shown.contains("AUTHOR_BOT")).await?;
    println!("{shown}");

    let (ok, escalated) = run(&ours(&steps.escalate), &token).await?;
    assert!(ok && escalated.contains(&conversation), "{escalated}");
    let listed = run_until(&here(&steps.desk), &token, |listed| listed.contains(&conversation)).await?;
    println!("{listed}");

    let mut auth = AuthClient::new(common::connect(cluster.address, None).await?);
    let signed_in = auth
        .sign_in(SignInRequest { tenant: "default".into(), subject: agent.clone(), password: password.into() })
        .await?
        .into_inner();
    assert_eq!(signed_in.identity.map(|who| who.role), Some("agent".to_string()));
    cluster.stop().await
}
