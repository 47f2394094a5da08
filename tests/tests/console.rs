//! The agent console (/console) in a real browser (headless Chromium, driven by
//! tests/browser/console.cjs through playwright-core), on a real cluster: agents sign in with
//! the passwords an admin set, work what the chat widget escalated, and race for a conversation.
//! Screenshots are kept under the target directory (the path is printed).

mod common;

use std::{path::PathBuf, process::Stdio};

use anyhow::{Context as _, bail};
use common::{Backing, Cluster, WAIT, message, submit, wait_for_event};
use switchboard_auth::Role;
use switchboard_proto::{
    auth::v1::{SetPasswordRequest, auth_client::AuthClient},
    desk::v1::{ListConversationsRequest, ListMacrosRequest, desk_client::DeskClient},
    events::v1::event::Body,
};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};

const PASSWORD: &str = "correct horse battery staple";

/// The browser script, talked to line by line.
struct Browser {
    process: tokio::process::Child,
    to: tokio::process::ChildStdin,
    from: Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Browser {
    fn start(scenario: &str, cluster: &Cluster, given: &serde_json::Value) -> anyhow::Result<Self> {
        let shots = screenshots(scenario)?;
        let mut process = tokio::process::Command::new("node")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/browser/console.cjs"))
            .arg(scenario)
            .arg(format!("http://{}", cluster.http))
            .env(
                "NODE_PATH",
                std::env::var("SWITCHBOARD_NODE_PATH").context("run `make env` (SWITCHBOARD_NODE_PATH)")?,
            )
            .env("SWITCHBOARD_CONSOLE_TEST", given.to_string())
            .env("SWITCHBOARD_SCREENSHOTS", shots)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("node")?;
        let to = process.stdin.take().context("stdin")?;
        let from = BufReader::new(process.stdout.take().context("stdout")?).lines();
        Ok(Self { process, to, from })
    }

    /// The next line the script says.
    async fn next(&mut self) -> anyhow::Result<String> {
        let line = tokio::time::timeout(WAIT * 2, self.from.next_line())
            .await
            .context("the browser said nothing")??
            .context("the browser script ended early")?;
        eprintln!("browser: {line}");
        Ok(line)
    }

    /// The rest of the next line, which must start with `step`.
    async fn expect(&mut self, step: &str) -> anyhow::Result<String> {
        let line = self.next().await?;
        match line.strip_prefix(step) {
            Some(rest) => Ok(rest.trim_start().to_string()),
            None => bail!("expected {step}, the browser said {line:?}"),
        }
    }

    async fn go(&mut self) -> anyhow::Result<()> {
        Ok(self.to.write_all(b"go\n").await?)
    }

    async fn finish(mut self) -> anyhow::Result<()> {
        self.expect("DONE").await?;
        let status = tokio::time::timeout(WAIT, self.process.wait()).await??;
        if !status.success() {
            bail!("the browser script failed: {status}");
        }
        Ok(())
    }
}

/// Where a scenario's screenshots go: the target directory's scratch space, printed.
fn screenshots(scenario: &str) -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots").join(scenario);
    std::fs::create_dir_all(&dir)?;
    eprintln!("screenshots of {scenario}: {}", dir.display());
    Ok(dir)
}

/// Agents sign in with passwords an admin sets.
async fn set_passwords(cluster: &Cluster, agents: &[&str]) -> anyhow::Result<()> {
    for agent in agents {
        set_password(cluster, agent, "agent").await?;
    }
    Ok(())
}

async fn set_password(cluster: &Cluster, subject: &str, role: &str) -> anyhow::Result<()> {
    let request = SetPasswordRequest {
        subject: subject.into(),
        role: role.into(),
        password: PASSWORD.into(),
        ..Default::default()
    };
    AuthClient::new(cluster.channel().await?).set_password(request).await?;
    Ok(())
}

/// Waits until the desk lists `conversation` as routed and waiting for a person.
async fn desk_has_routed(cluster: &Cluster, backing: &Backing, conversation: &str) -> anyhow::Result<()> {
    let bus = backing.bus().await?;
    let ((), routed) = wait_for_event(&bus, "switchboard.events.routing.>", |event| {
        matches!(&event.body, Some(Body::MessageRouted(r)) if r.conversation_id == conversation).then_some(())
    })
    .await?;
    let mut desk = DeskClient::new(cluster.channel_as("default", Role::Agent, "ana").await?);
    let listed = ListConversationsRequest {
        assignee: "unassigned".into(),
        min_sequence: routed,
        ..Default::default()
    };
    let rows = desk.list_conversations(listed).await?.into_inner().conversations;
    anyhow::ensure!(rows.iter().any(|row| row.conversation_id == conversation), "not on the desk: {rows:?}");
    Ok(())
}

fn agent(id: &str, locale: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "password": PASSWORD, "locale": locale})
}

#[tokio::test]
async fn two_agents_claim_one_conversation_and_the_one_too_late_sees_who_has_it() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    set_passwords(&cluster, &["ana", "bob"]).await?;
    let asked =
        submit(&cluster, message("cus-race", "Please let me talk to a real person", "race-1")).await?;
    let conversation = asked.conversation_id;
    desk_has_routed(&cluster, &backing, &conversation).await?;

    let given = serde_json::json!({
        "agents": [agent("ana", "en-US"), agent("bob", "zh-TW")],
        "conversation": conversation,
    });
    let mut browser = Browser::start("race", &cluster, &given)?;
    assert_eq!(browser.expect("LANGUAGES").await?, "en zh-Hant", "each browser's language");
    let (first, second) = (browser.next().await?, browser.next().await?);
    let (holder, refused) = match (first.split_once(' '), second.split_once(' ')) {
        (Some(("HOLDS", holder)), Some(("REFUSED", refused))) => (holder.to_string(), refused.to_string()),
        (Some(("REFUSED", refused)), Some(("HOLDS", holder))) => (holder.to_string(), refused.to_string()),
        _ => bail!("exactly one agent holds it: {first:?}, {second:?}"),
    };
    let (loser, why) = refused.split_once(' ').context("who was refused, and why")?;
    assert!(why.contains(&format!("agent \\\"{holder}\\\"")), "the refusal names who has it: {why}");
    let in_own_language = if loser == "bob" { "無法認領" } else { "You cannot claim it" };
    assert!(why.contains(in_own_language), "{why}");
    browser.finish().await?;

    let claims: Vec<String> = common::events(&bus, "switchboard.events.claim.>")
        .await?
        .into_iter()
        .filter_map(|event| match event.body {
            Some(Body::ConversationClaimed(claimed)) if claimed.conversation_id == conversation => {
                Some(claimed.agent_id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(claims, [holder], "one claim stored, the holder's");
    cluster.stop().await
}

/// What the customer asks (Traditional Chinese: a person, please; my order has not come), the
/// macro's text in their language, and their thanks.
const ASK: &str = "我想找真人客服，我的訂單還沒到";
const MACRO_EN: &str = "Hello, this is {{agent_name}}. Your order is on its way.";
const MACRO_ZH: &str = "您好，我是{{agent_name}}。您的訂單已經在路上了。";
const REPLY_ZH: &str = "您的訂單已經在路上了";
const THANKS: &str = "謝謝您的幫忙";

#[tokio::test]
async fn an_agent_answers_an_escalated_chat_with_a_macro_in_the_customers_language_and_resolves_it()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    config.channels.survey_secret = Some("console-survey-secret".into());
    config.notifier.survey_secret = Some("console-survey-secret".into());
    config.notifier.survey_delay = std::time::Duration::from_secs(1);
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;
    // Ana signs in with her email.
    let ana = SetPasswordRequest {
        subject: "ana".into(),
        role: "agent".into(),
        password: PASSWORD.into(),
        email: "ana@acme.example".into(),
    };
    AuthClient::new(cluster.channel().await?).set_password(ana).await?;
    set_password(&cluster, "sam", "supervisor").await?;

    let mut ana = agent("ana", "zh-TW");
    ana["login"] = "Ana@Acme.example".into();
    let given = serde_json::json!({
        "agents": [ana, agent("sam", "en-US")],
        "macro": "order-on-its-way", "texts": {"en": MACRO_EN, "zh-Hant": MACRO_ZH},
        "ask": ASK, "reply": REPLY_ZH, "thanks": THANKS,
    });
    let mut browser = Browser::start("handoff", &cluster, &given)?;
    browser.expect("MACRO-SAVED").await?;
    let mut desk = DeskClient::new(cluster.channel().await?);
    let macros = desk.list_macros(ListMacrosRequest::default()).await?.into_inner().macros;
    let saved = macros.iter().find(|m| m.macro_id == "order-on-its-way").context("the macro was saved")?;
    assert_eq!((saved.version, saved.updated_by.as_str()), (1, "sam"));
    assert_eq!(
        (saved.texts.get("zh-Hant").map(String::as_str), saved.default_locale.as_str()),
        (Some(MACRO_ZH), "en")
    );
    assert_eq!(browser.expect("SIGNED-IN").await?, "登出", "the console speaks the browser's language");
    let conversation = browser.expect("HANDOFF").await?;
    let packet = browser.expect("PACKET").await?;
    assert!(packet.contains("客戶要求真人服務"), "the hand-off's reason: {packet}");
    let preview = browser.expect("MACRO").await?;
    assert!(preview.contains(REPLY_ZH), "the macro in the customer's language: {preview}");
    browser.expect("REPLIED").await?;
    let typing = browser.expect("CUSTOMER-TYPING").await?;
    assert_eq!(typing, "\"顧客正在輸入…\"", "ana's console says it in her language");
    browser.expect("AGENT-TYPING").await?;
    browser.expect("LIVE").await?;
    browser.expect("RESOLVED").await?;

    // The agent's reply went out in Traditional Chinese, as ana's; the survey follows the close.
    let (reply, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.conversation_id == conversation && r.author == "agent:ana" => {
            Some(r.text.clone())
        }
        _ => None,
    })
    .await?;
    assert!(reply.contains(REPLY_ZH), "{reply}");
    let survey = switchboard_bus::key_id(&format!("survey/{conversation}")).to_string();
    wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.reply_id == survey => Some(()),
        _ => None,
    })
    .await?;
    browser.go().await?;
    let shown: Vec<String> = serde_json::from_str(&browser.expect("WIDGET").await?)?;
    assert!(shown.iter().any(|m| m.starts_with("agent: ") && m.contains(REPLY_ZH)), "{shown:?}");
    assert!(
        shown.iter().any(|m| m.contains("您對本次服務滿意嗎")),
        "the survey in Traditional script: {shown:?}"
    );
    browser.finish().await?;
    cluster.stop().await
}

#[tokio::test]
async fn the_console_is_served_with_its_policy_and_its_api_asks_for_a_token_and_explains_refusals()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    set_passwords(&cluster, &["ana"]).await?;
    let base = format!("http://{}/console", cluster.http);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;

    let bare = client.get(&base).send().await?;
    assert_eq!(bare.status().as_u16(), 308);
    assert_eq!(bare.headers()["location"], "/console/");
    let page = client.get(format!("{base}/")).send().await?;
    assert!(page.headers()["content-security-policy"].to_str()?.contains("default-src 'self'"));
    assert!(page.text().await?.contains("js/main.js"));
    let script = client.get(format!("{base}/js/main.js")).send().await?;
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(client.get(format!("{base}/js/nothing.js")).send().await?.status().as_u16(), 404);

    // Without a token, nothing; a wrong password, the same answer as an unknown person.
    let listed = client.get(format!("{base}/api/conversations")).send().await?;
    assert_eq!(listed.status().as_u16(), 401);
    let body: serde_json::Value = listed.json().await?;
    assert_eq!(body["code"], "unauthenticated");
    let sign_in = |password: &str| {
        let form = serde_json::json!({"tenant": "default", "subject": "ana", "password": password});
        client.post(format!("{base}/api/sign-in")).json(&form).send()
    };
    assert_eq!(sign_in("not her password at all").await?.status().as_u16(), 401);
    let signed_in: serde_json::Value = sign_in(PASSWORD).await?.json().await?;
    assert_eq!(
        (&signed_in["identity"]["subject"], &signed_in["identity"]["role"]),
        (&"ana".into(), &"agent".into())
    );
    let token = signed_in["token"].as_str().context("a token")?;

    // The API decides rights: an agent reads the desk but cannot decide returns.
    let get = |path: &str| client.get(format!("{base}/api/{path}")).bearer_auth(token).send();
    assert_eq!(get("conversations?assignee=me").await?.status().as_u16(), 200);
    let refused = get("conversations?status=closed").await?;
    assert_eq!(refused.status().as_u16(), 400);
    let said: serde_json::Value = refused.json().await?;
    assert!(said["message"].as_str().unwrap_or_default().contains("open, queued, escalated"), "{said}");
    assert_eq!(get("approvals").await?.status().as_u16(), 403);
    let missing = get("conversations/no-such-conversation").await?;
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(get("conversations/no-such-conversation/typing").await?.status().as_u16(), 404);

    // The customer typing arrives as an event `typing`; an agent's typing is a POST.
    let asked = submit(&cluster, message("kim", "Please let me talk to a person", "typing-1")).await?;
    let path = format!("conversations/{}/typing", asked.conversation_id);
    let mut typing = loop {
        let response = get(&path).await?;
        if response.status().is_success() {
            break response;
        }
        anyhow::ensure!(response.status().as_u16() == 404, "typing: {}", response.status());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let bus = backing.bus().await?;
    let subject = switchboard_bus::typing_subject("default", &asked.conversation_id);
    bus.client().publish(subject, r#"{"author":"customer"}"#.into()).await?;
    let mut said = String::new();
    while !said.contains("\n\n") {
        let chunk = tokio::time::timeout(WAIT, typing.chunk()).await.context("no typing came")??;
        said.push_str(&String::from_utf8_lossy(&chunk.context("the stream ended")?));
    }
    assert!(said.contains("event: typing") && said.contains(r#""author":"customer""#), "{said}");
    let signalled = client.post(format!("{base}/api/{path}")).bearer_auth(token).send().await?;
    assert_eq!(signalled.status().as_u16(), 200);
    cluster.stop().await
}

/// Server-sent events as they arrive: (id, event, data) of each whole one.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(base: &str, token: &str, last_event_id: Option<&str>) -> anyhow::Result<Self> {
        let mut request = reqwest::Client::new().get(format!("{base}/api/changes")).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await?;
        anyhow::ensure!(response.status().is_success(), "changes: {}", response.status());
        Ok(Self { response, buffer: String::new() })
    }

    /// The next change: its id (the stream sequence) and the conversation it is about.
    async fn next_change(&mut self) -> anyhow::Result<(u64, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    frame.lines().find_map(|line| line.strip_prefix(name).map(|v| v.trim().to_string()))
                };
                if field("event:").as_deref() != Some("change") {
                    continue;
                }
                let id = field("id:").context("a change has an id")?.parse()?;
                let data: serde_json::Value = serde_json::from_str(&field("data:").context("data")?)?;
                let conversation = data["conversation"]["conversation_id"].as_str().unwrap_or_default();
                return Ok((id, conversation.to_string()));
            }
            let chunk =
                tokio::time::timeout(WAIT, self.response.chunk()).await.context("no change came")??;
            let chunk = chunk.context("the stream ended")?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Changes until one about `conversation`; returns its id and every id seen.
    async fn until(&mut self, conversation: &str) -> anyhow::Result<(u64, Vec<(u64, String)>)> {
        let mut seen = Vec::new();
        loop {
            let (id, about) = self.next_change().await?;
            seen.push((id, about.clone()));
            if about == conversation {
                return Ok((id, seen));
            }
        }
    }
}

#[tokio::test]
async fn live_changes_resume_after_the_last_one_a_reconnecting_browser_saw() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    set_passwords(&cluster, &["ana"]).await?;
    let base = format!("http://{}/console", cluster.http);
    let form = serde_json::json!({"tenant": "default", "subject": "ana", "password": PASSWORD});
    let signed_in: serde_json::Value =
        reqwest::Client::new().post(format!("{base}/api/sign-in")).json(&form).send().await?.json().await?;
    let token = signed_in["token"].as_str().context("a token")?.to_string();

    let mut live = Events::open(&base, &token, None).await?;
    let first = submit(&cluster, message("cus-live-1", "I need a real person", "live-1")).await?;
    let (seen, _) = live.until(&first.conversation_id).await?;
    drop(live);

    // While the browser is away another customer asks; after reconnecting it hears of that one,
    // and of nothing it had already seen.
    let second = submit(&cluster, message("cus-live-2", "A real person, please", "live-2")).await?;
    desk_has_routed(&cluster, &backing, &second.conversation_id).await?;
    let mut resumed = Events::open(&base, &token, Some(&seen.to_string())).await?;
    let (_, changes) = resumed.until(&second.conversation_id).await?;
    assert!(changes.iter().all(|(id, _)| *id > seen), "only what came after {seen}: {changes:?}");

    let bad = reqwest::Client::new()
        .get(format!("{base}/api/changes"))
        .bearer_auth(&token)
        .header("last-event-id", "yesterday")
        .send()
        .await?;
    assert_eq!(bad.status().as_u16(), 400);
    cluster.stop().await
}

#[tokio::test]
async fn a_supervisor_sees_queues_agents_and_approvals_assigns_a_conversation_and_approves_a_return()
-> anyhow::Result<()> {
    use switchboard_proto::{
        events::v1::{AgentUpdated, OrderStatus, OrderUpdated},
        router::v1::{PublishRulesRequest, router_client::RouterClient},
    };
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let rules = "playbooks:\n  returns: {window_days: 30, queue: returns}\n\
                 rules:\n  - name: returns\n    when: {keywords: [return]}\n    then: {action: answer, playbook: returns, queue: returns}\n\
                 \x20 - name: people\n    when: {keywords: [person]}\n    then: {action: escalate, queue: general}\n\
                 \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";
    RouterClient::new(cluster.channel().await?)
        .publish_rules(PublishRulesRequest { text: rules.into(), wait: true })
        .await?;
    let mut desk = DeskClient::new(cluster.channel_as("default", Role::Supervisor, "sam").await?);
    let ana = AgentUpdated {
        agent_id: "ana".into(),
        queues: vec!["general".into()],
        capacity: [("web".to_string(), 2)].into(),
        ..AgentUpdated::default()
    };
    desk.put_agent(ana).await?;
    set_passwords(&cluster, &["ana"]).await?;
    set_password(&cluster, "sam", "supervisor").await?;

    let article = common::publish_tracking_article_with(&cluster).await?;
    let asked =
        submit(&cluster, message("kim", "Where is my order? Please let me talk to a person", "sup-1"))
            .await?;
    desk_has_routed(&cluster, &backing, &asked.conversation_id).await?;
    let delivered = OrderUpdated {
        order_id: "12345".into(),
        customer_id: "c-r".into(),
        status: OrderStatus::Delivered.into(),
        ..OrderUpdated::default()
    };
    bus.publish(&switchboard_bus::Draft::new("default", "12345", Body::OrderUpdated(delivered)).build()?)
        .await?;
    let returning = common::verified_message("c-r", "I want to return order 12345, it is broken", "sup-2");
    let returning = submit(&cluster, returning).await?;
    let (return_id, _) = wait_for_event(&bus, "switchboard.events.return.>", |event| match &event.body {
        Some(Body::ReturnOpened(o)) if o.conversation_id == returning.conversation_id => {
            Some(o.return_id.clone())
        }
        _ => None,
    })
    .await?;

    let given = serde_json::json!({
        "agents": [agent("ana", "en-US"), agent("sam", "en-US")],
        "queue": "general", "conversation": asked.conversation_id, "approval": format!("return:{return_id}"),
        "note": "Kim called twice about this one", "article": article,
    });
    let mut browser = Browser::start("supervise", &cluster, &given)?;
    let queue = browser.expect("QUEUE").await?;
    assert!(queue.contains("general") && queue.contains("\\t1\\t"), "one waits in general: {queue}");
    let agent_row = browser.expect("AGENT").await?;
    // Her profile says nothing of availability: signing in made her online.
    assert!(
        agent_row.contains("Online") && agent_row.contains("0 / 2"),
        "ana, online, none of two: {agent_row}"
    );
    let approval = browser.expect("APPROVAL").await?;
    assert!(
        approval.contains("c-r") && approval.contains("12345") && approval.contains("broken"),
        "{approval}"
    );
    browser.expect("ASSIGNED").await?;
    browser.expect("NOTED").await?;
    let inserted = browser.expect("INSERTED").await?;
    assert!(inserted.contains("Follow the tracking link"), "the suggested passage, in one click: {inserted}");
    browser.expect("APPROVED").await?;
    let signed_out = browser.expect("SIGNED-OUT").await?;
    assert!(signed_out.contains("Offline"), "signing out is going offline: {signed_out}");
    browser.finish().await?;

    let listed = ListConversationsRequest { assignee: "ana".into(), ..Default::default() };
    let rows = desk.list_conversations(listed).await?.into_inner().conversations;
    assert!(rows.iter().any(|row| row.conversation_id == asked.conversation_id), "ana has it: {rows:?}");
    wait_for_event(&bus, "switchboard.events.return.>", |event| match &event.body {
        Some(Body::ReturnApproved(a)) if a.return_id == return_id && a.approver == "sam" => Some(()),
        _ => None,
    })
    .await?;
    cluster.stop().await
}

/// Publishes `body` as the default tenant's, about `id`, as having happened `ago` before now.
async fn happened(
    bus: &switchboard_bus::Bus,
    id: &str,
    ago: chrono::TimeDelta,
    body: Body,
) -> anyhow::Result<u64> {
    let mut event = switchboard_bus::Draft::new("default", id, body).build()?;
    event.occurred_at = Some(switchboard_proto::time::to_timestamp(chrono::Utc::now() - ago));
    Ok(bus.publish(&event).await?.sequence)
}

/// A web conversation about `intent` that started `ago` before now; the bot answers and closes it
/// (with a CSAT of 5) when `closed`.
async fn conversation(
    bus: &switchboard_bus::Bus,
    id: &str,
    intent: &str,
    ago: chrono::TimeDelta,
    closed: bool,
) -> anyhow::Result<u64> {
    use switchboard_proto::events::v1::{
        Channel, ConversationClosed, MessageClassified, MessageReceived, SurveyAnswered,
    };
    let received = MessageReceived {
        conversation_id: id.into(),
        message_id: format!("{id}-m1"),
        customer_id: format!("{id}-customer"),
        channel: Channel::Web.into(),
        starts_conversation: true,
        ..Default::default()
    };
    happened(bus, id, ago, Body::MessageReceived(received)).await?;
    let classified = MessageClassified {
        conversation_id: id.into(),
        intent: intent.into(),
        language: "en".into(),
        ..Default::default()
    };
    let mut last = happened(bus, id, ago, Body::MessageClassified(classified)).await?;
    if closed {
        let soon = ago - chrono::TimeDelta::minutes(4);
        let closing =
            ConversationClosed { conversation_id: id.into(), handled_by: "bot".into(), ..Default::default() };
        happened(bus, id, soon, Body::ConversationClosed(closing)).await?;
        let rated = SurveyAnswered {
            conversation_id: id.into(),
            kind: "csat".into(),
            score: 5,
            ..Default::default()
        };
        last = happened(bus, id, soon, Body::SurveyAnswered(rated)).await?;
    }
    Ok(last)
}

/// A supervisor's dashboard: the figures, the charts, refund questions spiking (nine in the last
/// day against two in each of the four weeks before), a content gap from a hand-off for missing
/// knowledge; the filters kept in the URL; the same in Traditional Chinese; and the gap's article
/// written and published from it.
#[tokio::test]
async fn a_supervisor_reads_the_dashboard_and_writes_the_article_a_gap_asks_for() -> anyhow::Result<()> {
    use chrono::TimeDelta;
    use switchboard_proto::{
        analytics::v1::{GetCountsRequest, analytics_client::AnalyticsClient},
        events::v1::{HandoffPacket, MessageRouted, RouteAction},
        knowledge::v1::{SearchRequest, knowledge_client::KnowledgeClient},
    };
    use switchboard_server::Service;
    let backing = Backing::start().await?;
    let services = vec![Service::Analytics, Service::Desk, Service::Knowledge, Service::Channels];
    let cluster = Cluster::start(switchboard_server::Config { services, ..backing.config() }).await?;
    let bus = backing.bus().await?;
    set_password(&cluster, "sam", "supervisor").await?;
    for week in 1..=4 {
        for index in 0..2 {
            let ago = TimeDelta::days(7 * week) + TimeDelta::minutes(30);
            conversation(&bus, &format!("refund-w{week}-{index}"), "refund", ago, true).await?;
        }
    }
    for index in 0..9 {
        conversation(&bus, &format!("refund-now-{index}"), "refund", TimeDelta::minutes(30 + index), true)
            .await?;
    }
    conversation(&bus, "order-1", "order_status", TimeDelta::hours(30), true).await?;
    let routed = MessageRouted {
        conversation_id: "order-1".into(),
        message_id: "order-1-m2".into(),
        action: RouteAction::Queue.into(),
        rule_action: "answer".into(),
        queue: "general".into(),
        handoff: Some(HandoffPacket {
            reason: "missing_knowledge".into(),
            question: "Do you ship to Iceland?".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let last = happened(&bus, "order-1-m2", TimeDelta::hours(29), Body::MessageRouted(routed)).await?;
    let supervisor = cluster.channel_as("default", Role::Supervisor, "sam").await?;
    let caught_up = GetCountsRequest { min_sequence: last, ..Default::default() };
    AnalyticsClient::new(supervisor).get_counts(caught_up).await?;

    let given = serde_json::json!({
        "agents": [agent("sam", "en-US")],
        "intent": "refund", "gap": "iceland ship", "article_title": "Shipping to Iceland",
    });
    let mut browser = Browser::start("dashboard", &cluster, &given)?;
    let figures: serde_json::Value = serde_json::from_str(&browser.expect("FIGURES").await?)?;
    let tile = |name: &str| figures[name].as_str().unwrap_or_default().to_string();
    assert!(tile("conversations").contains("10"), "nine refund questions and an order question: {figures}");
    assert!(
        tile("containment_rate").contains("0.0%"),
        "every closing is inside the reopen window: {figures}"
    );
    assert!(tile("csat_bot").contains("100.0%"), "{figures}");
    let charts = browser.expect("CHARTS").await?;
    for chart in ["volume", "containment", "satisfaction", "sla", "response"] {
        assert!(charts.contains(chart), "{chart} is drawn: {charts}");
    }
    let spike = browser.expect("SPIKE").await?;
    assert!(spike.contains("refund") && spike.contains('9'), "{spike}");
    let gap = browser.expect("GAP").await?;
    assert!(gap.contains("Do you ship to Iceland?"), "{gap}");
    let filtered = browser.expect("FILTERED").await?;
    assert!(filtered.contains("channel=web"), "{filtered}");
    assert_eq!(browser.expect("ZH").await?, "\"對話數\"");
    let published = browser.expect("PUBLISHED").await?;
    assert!(published.contains("Shipping to Iceland"), "{published}");
    browser.finish().await?;

    let search = SearchRequest { query: "Iceland".into(), ..Default::default() };
    let hits = KnowledgeClient::new(cluster.channel().await?).search(search).await?.into_inner().hits;
    assert_eq!(hits.first().map(|hit| hit.title.as_str()), Some("Shipping to Iceland"), "{hits:?}");
    cluster.stop().await
}
