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
        let (submits, reads, desks) =
            (calls("Intake/SubmitMessage"), calls("Intake/GetConversation"), calls("Desk/ListConversations"));
        let [export, services, ..] = commands else { anyhow::bail!("too few commands: {commands:?}") };
        anyhow::ensure!(export.starts_with("export SWITCHBOARD_TOKEN=$(cat .local/admin.token)"), "{export}");
        anyhow::ensure!(services.ends_with(" list"), "the second command lists the services: {services}");
        let ([ask, escalate], [read], [desk]) = (submits.as_slice(), reads.as_slice(), desks.as_slice())
        else {
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
/// The demo agent `make run` seeds: its id and email.
struct DemoAgent {
    id: String,
    email: String,
}

fn make_run_seeds(makefile: &str) -> anyhow::Result<(PathBuf, DemoAgent)> {
    let recipe = makefile.split("\nrun:").nth(1).context("the Makefile has no run target")?;
    let recipe = recipe.split("\n\n").next().unwrap_or_default();
    let dir = recipe
        .split("$(BIN) demo seed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .context("make run does not call `switchboard demo seed DIR`")?;
    anyhow::ensure!(
        recipe.contains("$(BIN) agent password --subject $(DEMO_AGENT) --email $(DEMO_AGENT_EMAIL)"),
        "make run does not set the demo agent's password and email"
    );
    let variable = |name: &str| {
        let prefix = format!("{name} := ");
        makefile.lines().find_map(|line| line.strip_prefix(&prefix).map(|value| value.trim().to_string()))
    };
    let agent = DemoAgent {
        id: variable("DEMO_AGENT").context("the Makefile names no DEMO_AGENT")?,
        email: variable("DEMO_AGENT_EMAIL").context("the Makefile names no DEMO_AGENT_EMAIL")?,
    };
    Ok((root().join(dir), agent))
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

/// What the README's prose says a command shows: its words (whitespace aside), and what the
/// command's output must then hold.
struct Claim {
    says: &'static str,
    shows: &'static str,
}

const fn claim(says: &'static str, shows: &'static str) -> Claim {
    Claim { says, shows }
}

/// `GetConversation` once the bot has answered.
const ANSWERED: &[Claim] = &[
    claim("intent `order_status`", r#""intent": "order_status""#),
    claim("the built-in model's version `builtin-…`", r#""modelVersion": "builtin-"#),
    claim("language `en`", r#""language": "en""#),
    claim("rule `order-status`", r#""rule": "order-status""#),
    claim("action `ROUTE_ACTION_AUTO_REPLY`", r#""action": "ROUTE_ACTION_AUTO_REPLY""#),
    claim(
        "reason `rule order-status matched: intent order_status at confidence …`",
        r#""reason": "rule order-status matched: intent order_status at confidence "#,
    ),
    claim("the bot's answer (`AUTHOR_BOT`)", r#""author": "AUTHOR_BOT""#),
    claim(
        r#""Your order 12345 has shipped with DHL. Follow it here: https://tracking.demo.example/JD0146000062.""#,
        r#""text": "Your order 12345 has shipped with DHL. Follow it here: https://tracking.demo.example/JD0146000062.""#,
    ),
    claim(
        "The conversation is `CONVERSATION_STATUS_ANSWERED`",
        r#""status": "CONVERSATION_STATUS_ANSWERED""#,
    ),
];

/// `GetConversation` after "I want to talk to a real person".
const ESCALATED: &[Claim] = &[
    claim("shows `ROUTE_ACTION_ESCALATE`", r#""action": "ROUTE_ACTION_ESCALATE""#),
    claim("by rule `customer-asks-for-a-human`", r#""rule": "customer-asks-for-a-human""#),
    claim("the conversation `CONVERSATION_STATUS_ESCALATED`", r#""status": "CONVERSATION_STATUS_ESCALATED""#),
];

/// The desk's `ListConversations` of escalated conversations.
const LISTED: &[Claim] = &[
    claim("in queue `general`", r#""queue": "general""#),
    claim("at `PRIORITY_HIGH`", r#""priority": "PRIORITY_HIGH""#),
    claim("the last message as its preview", r#""preview": "I want to talk to a real person""#),
    claim("the hand-off reason `customer_asked`", r#""handoffReason": "customer_asked""#),
];

/// Whitespace as one space, so that prose wrapped anywhere reads the same.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each claim is in the README's prose and holds for `output`.
fn check(readme: &str, claims: &[Claim], output: &str) {
    for Claim { says, shows } in claims {
        assert!(readme.contains(says), "the README no longer says {says:?}: update this test with it");
        assert!(output.contains(shows), "the README says {says:?}, but the product shows: {output}");
    }
}

/// The question the README says the chat widget answers (`answers "…"` in its paragraph).
fn widget_question(readme: &str) -> anyhow::Result<String> {
    let paragraph = readme
        .split("\n\n")
        .find(|paragraph| paragraph.contains("/chat/demo"))
        .context("the README does not point at the chat demo")?;
    let question = flat(paragraph)
        .split("answers \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string);
    question.context("the README does not say which question the widget answers")
}

/// Loads the demo data and the demo agent as `make run` does (the functions its `demo seed` and
/// `agent password` lines run), then waits until the shipped order's notice is requested: it
/// tells the customer by email, as they have no conversation yet. A person tries the README long
/// after, so waiting keeps the notice out of the walkthrough's conversation, as it is then.
async fn seed_like_make_run(
    backing: &Backing,
    api: &switchboard_server::api::ApiArgs,
    (demo, agent, password): (&std::path::Path, &DemoAgent, &str),
) -> anyhow::Result<()> {
    let seeded = switchboard_server::demo::seed(demo, api).await?;
    // The README: "six help articles, the customer `c-42`, and their order `12345`".
    anyhow::ensure!(
        seeded.articles.published == 6 && seeded.customers.published == 1 && seeded.orders.published == 1,
        "the demo data is not what the README says: {seeded:?}"
    );
    let person = switchboard_server::agent::Person { subject: &agent.id, role: "agent", email: &agent.email };
    switchboard_server::agent::set_password(api, &person, password.into()).await?;
    let bus = backing.bus().await?;
    wait_for_event(&bus, "switchboard.events.notification.>", |event| match &event.body {
        Some(Body::NotificationRequested(notice)) if notice.text.contains("12345") => Some(()),
        _ => None,
    })
    .await?;
    Ok(())
}

/// What the bot tells an anonymous visitor (the chat widget's, not verified) who asks `question`
/// with the README's first command.
async fn anonymous_answer(ask: &str, question: &str, read: &str, token: &str) -> anyhow::Result<String> {
    let visitor = ask
        .replace(r#""customer_verified": true,"#, "")
        .replace("Where is my order 12345?", question)
        .replace("demo-1", "widget-1");
    let (ok, asked) = run(&visitor, token).await?;
    anyhow::ensure!(ok, "{asked}");
    let asked: serde_json::Value = serde_json::from_str(&asked)?;
    let conversation = asked["conversationId"].as_str().context("a conversationId")?;
    let read = read.replace("<conversationId from above>", conversation);
    // The bot's answer follows the routing decision: wait for it, not for the decision.
    run_until(&read, token, |shown| shown.contains("AUTHOR_BOT")).await
}

#[tokio::test]
async fn the_readme_walkthrough_works_as_written() -> anyhow::Result<()> {
    let readme = read("README.md")?;
    let steps = Walkthrough::parse(&walkthrough(&readme)?)?;
    let makefile = read("Makefile")?;
    let (demo, agent) = make_run_seeds(&makefile)?;
    let prose = flat(&readme);
    assert!(prose.contains("six help articles, the customer `c-42`, and their order `12345`"));
    let backing = Backing::start().await?;
    // As `make run` serves it: with the sentence encoder (hybrid knowledge search).
    assert!(
        makefile.contains("SWITCHBOARD_ENCODER_DIR-.local/models/all-minilm-l6-v2"),
        "make run's encoder"
    );
    let mut config = backing.config();
    config.encoder_dir = Some(common::encoder_dir()?);
    let cluster = Cluster::start(config).await?;
    let token = switchboard_testkit::token("default", switchboard_auth::Role::Admin, "make-run");
    let api = switchboard_server::api::ApiArgs {
        endpoint: Some(format!("http://{}", cluster.address)),
        grpc_addr: None,
        token: Some(token.clone()),
    };
    let password = "a demo password made per machine";
    seed_like_make_run(&backing, &api, (&demo, &agent, password)).await?;
    let here = |command: &str| command.replace("127.0.0.1:50051", &cluster.address.to_string());

    let (ok, services) = run(&here(&steps.services), &token).await?;
    assert!(ok && services.contains("switchboard.intake.v1.Intake"), "{services}");
    assert!(services.contains("switchboard.desk.v1.Desk"), "{services}");

    // Submit, and the same again: a duplicate of the same conversation; no token: refused.
    let (ok, asked) = run(&here(&steps.ask), &token).await?;
    assert!(ok, "{asked}");
    let asked: serde_json::Value = serde_json::from_str(&asked)?;
    let conversation = asked["conversationId"].as_str().context("a conversationId")?.to_string();
    let (_, again) = run(&here(&steps.ask), &token).await?;
    assert!(prose.contains(r#"answers `"duplicate": true` with the same conversation"#));
    assert!(again.contains(r#""duplicate": true"#) && again.contains(&conversation), "{again}");
    let anonymous = here(&steps.ask).replace(r#"-H "authorization: Bearer $SWITCHBOARD_TOKEN""#, "");
    let (ok, refused) = run(&anonymous, &token).await?;
    assert!(prose.contains("Without the header a call answers `Unauthenticated`"));
    assert!(!ok && refused.contains("Unauthenticated"), "{refused}");

    // Get: the bot's answer and why.
    let ours = |command: &str| here(command).replace("<conversationId from above>", &conversation);
    let shown = run_until(&ours(&steps.read), &token, |shown| shown.contains("AUTHOR_BOT")).await?;
    check(&prose, ANSWERED, &shown);

    // Escalate: the decision, and the desk's list of those waiting for a person.
    let (ok, escalated) = run(&ours(&steps.escalate), &token).await?;
    assert!(ok && escalated.contains(&conversation), "{escalated}");
    // The decision and the conversation's status are projected from two events: wait for both.
    let reread = run_until(&ours(&steps.read), &token, |shown| {
        shown.contains("ROUTE_ACTION_ESCALATE") && shown.contains("CONVERSATION_STATUS_ESCALATED")
    })
    .await?;
    check(&prose, ESCALATED, &reread);
    let listed = run_until(&here(&steps.desk), &token, |listed| listed.contains(&conversation)).await?;
    check(&prose, LISTED, &listed);

    // The widget's question, asked anonymously: answered from the articles, no order told.
    let question = widget_question(&readme)?;
    let answer = anonymous_answer(&here(&steps.ask), &question, &here(&steps.read), &token).await?;
    assert!(
        answer.contains("AUTHOR_BOT") && answer.contains("Tracking your order"),
        "{question:?}: {answer}"
    );
    assert!(!answer.contains("12345"), "{answer}");

    // The demo agent signs in with the password `make run` made.
    let said = [
        format!("`{}`", agent.id),
        format!("`{}`", agent.email),
        format!("`.local/{}.password`", agent.id),
        "http://127.0.0.1:8080/console".into(),
    ];
    for said in said {
        assert!(prose.contains(&said), "the README does not say {said}");
    }
    assert!(
        makefile.contains("/console as $(DEMO_AGENT) or $(DEMO_AGENT_EMAIL)"),
        "make run prints how to sign in"
    );
    let mut auth = AuthClient::new(common::connect(cluster.address, None).await?);
    let signed_in = auth
        .sign_in(SignInRequest {
            tenant: "default".into(),
            subject: agent.email.clone(),
            password: password.into(),
        })
        .await?
        .into_inner();
    assert_eq!(signed_in.identity.map(|who| who.role), Some("agent".to_string()));
    cluster.stop().await
}
