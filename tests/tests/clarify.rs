//! When the knowledge base has no confident answer but a few relevant articles, the bot asks which
//! one the customer means: it answers from the one chosen (by number or title) and teaches the
//! classifier the chosen article's intent; "none of these" reaches a person with the hand-off
//! packet; a message that is no answer is decided as any other. In the web chat (headless
//! Chromium, tests/browser/clarify.cjs) the options are buttons.

mod common;

use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_bus::Bus;
use switchboard_proto::{
    events::v1::{Event, IntentCorrected, MessageRouted, ReplyRequested, RouteAction, event::Body},
    intake::v1::SubmitMessageResponse,
    knowledge::v1::{PublishArticleRequest, knowledge_client::KnowledgeClient},
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};

const RULES: &str = r#"
rules:
  - name: customer-asks-for-a-human
    when: {keywords: [a person, human]}
    then: {action: escalate, queue: general, handoff: customer_asked}
  - name: answer-from-the-knowledge-base
    then: {action: answer, queue: general}
"#;

/// (id, title, body, tags)
const ARTICLES: [(&str, &str, &str, &str); 3] = [
    (
        "recover-password",
        "Recover a forgotten password",
        "Use the 'Forgot password' link on the sign-in page; we email you a link to set a new password.",
        "intent:password_recovery",
    ),
    (
        "change-password",
        "Change your password",
        "Open Settings, then Security, and choose a new password there.",
        "intent:password_change",
    ),
    ("opening-hours", "Opening hours", "Our team is there Monday to Friday, 9:00 to 17:00.", "hours"),
];

/// Other articles, so that the password articles stand out as a real knowledge base's would
/// (BM25 relevance depends on how many articles share a word).
const OTHER_TOPICS: [(&str, &str); 14] = [
    ("Gift cards", "Gift cards are sold in any amount from 10 to 500 euros."),
    ("Shipping costs", "Shipping is free for orders above 50 euros."),
    ("Loyalty points", "Every euro spent earns one loyalty point."),
    ("Store locations", "Our shops are in Berlin, Hamburg and Munich."),
    ("Invoice copies", "Download a copy of any invoice from your orders page."),
    ("Payment methods", "We take cards, PayPal and bank transfer."),
    ("Delivery times", "Parcels arrive within two to four working days."),
    ("Cancel an order", "An order can be cancelled until it leaves the warehouse."),
    ("Warranty", "Every device has a two-year warranty."),
    ("Size guide", "Measure your chest and waist, then pick the size in the table."),
    ("Newsletter", "Subscribe at the bottom of any page; unsubscribe with one click."),
    ("Student discount", "Students get ten percent off with a valid card."),
    ("Price match", "We match the price of any shop that sells the same item for less."),
    ("Recycling old devices", "Bring an old device to any shop and we recycle it for free."),
];

async fn start(backing: &Backing) -> anyhow::Result<Cluster> {
    let mut config = backing.config();
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    // No answer is confident enough: every relevant question is asked about.
    config.answer_confidence = Some(0.99);
    let cluster = Cluster::start(config).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: RULES.into(), wait: true }).await?;
    let mut knowledge = KnowledgeClient::new(cluster.channel().await?);
    for (id, title, body, tag) in ARTICLES {
        let request = PublishArticleRequest {
            article_id: id.into(),
            title: title.into(),
            body: body.into(),
            locale: "en".into(),
            tags: vec![tag.into()],
            wait: true,
            ..PublishArticleRequest::default()
        };
        knowledge.publish_article(request).await?;
    }
    for (n, (title, body)) in OTHER_TOPICS.iter().enumerate() {
        let request = PublishArticleRequest {
            article_id: format!("topic-{n}"),
            title: (*title).into(),
            body: (*body).into(),
            locale: "en".into(),
            wait: true,
            ..PublishArticleRequest::default()
        };
        knowledge.publish_article(request).await?;
    }
    Ok(cluster)
}

/// The decision on `message_id` and the bot's reply to it, if any.
async fn decided(bus: &Bus, message_id: &str) -> anyhow::Result<(MessageRouted, Option<ReplyRequested>)> {
    let (routed, _) = wait_for_event(bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.message_id == message_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    let reply = if routed.action() == RouteAction::AutoReply {
        let (reply, _) = wait_for_event(bus, "switchboard.events.reply.>", |event| match &event.body {
            Some(Body::ReplyRequested(r)) if r.in_reply_to == message_id => Some(r.clone()),
            _ => None,
        })
        .await?;
        Some(reply)
    } else {
        None
    };
    Ok((routed, reply))
}

/// A customer's next message in `conversation`.
async fn answer(
    cluster: &Cluster,
    started: &SubmitMessageResponse,
    text: &str,
    key: &str,
) -> anyhow::Result<SubmitMessageResponse> {
    let mut next = message("clarify-customer", text, key);
    next.conversation_id = Some(started.conversation_id.clone());
    submit(cluster, next).await
}

/// Asks the ambiguous question in a new conversation; the bot's question.
async fn ask(
    cluster: &Cluster,
    bus: &Bus,
    key: &str,
) -> anyhow::Result<(SubmitMessageResponse, ReplyRequested)> {
    let asked =
        submit(cluster, message("clarify-customer", "I have a problem with my password", key)).await?;
    let (routed, reply) = decided(bus, &asked.message_id).await?;
    assert_eq!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    assert!(routed.article_ids.is_empty(), "a question cites no article: {routed:?}");
    assert!(routed.reason.contains("asked which of"), "{}", routed.reason);
    let reply = reply.ok_or_else(|| anyhow::anyhow!("no question"))?;
    Ok((asked, reply))
}

#[tokio::test]
async fn unsure_the_bot_asks_which_article_and_answers_from_the_one_chosen() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = start(&backing).await?;
    let bus = backing.bus().await?;

    // Given a question two articles fit, none confidently
    let (asked, question) = ask(&cluster, &bus, "clarify-1").await?;
    // then the bot lists them, numbered, with "none of these" last, also as quick replies
    let titles: Vec<&str> = question.options.iter().map(String::as_str).collect();
    assert!(titles.len() >= 3 && titles.last() == Some(&"None of these"), "{titles:?}");
    assert!(titles.contains(&"Recover a forgotten password") && titles.contains(&"Change your password"));
    assert!(question.text.contains("\n1. ") && question.text.contains("None of these"), "{}", question.text);

    // when the customer picks one by its title (as the quick reply sends it)
    let chosen = answer(&cluster, &asked, "Recover a forgotten password", "clarify-1-choice").await?;
    let (routed, reply) = decided(&bus, &chosen.message_id).await?;
    // then the bot answers from that article
    assert_eq!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    assert_eq!(routed.rule, "playbook:clarify");
    assert_eq!(routed.article_ids, ["recover-password"]);
    let reply = reply.ok_or_else(|| anyhow::anyhow!("no answer"))?;
    assert!(reply.text.contains("Forgot password") && reply.options.is_empty(), "{reply:?}");
    // and the question is taught the chosen article's intent for the next training.
    let (corrected, _) =
        wait_for_event(&bus, "switchboard.events.intent-feedback.>", |event: &Event| match &event.body {
            Some(Body::IntentCorrected(c)) if c.message_id == asked.message_id => Some(c.clone()),
            _ => None,
        })
        .await?;
    let IntentCorrected { intent, text, agent_id, .. } = corrected;
    assert_eq!(
        (intent.as_str(), text.as_str(), agent_id.as_str()),
        ("password_recovery", "I have a problem with my password", "customer")
    );

    // A number picks too.
    let (asked, question) = ask(&cluster, &bus, "clarify-2").await?;
    let at = question.options.iter().position(|o| o == "Change your password").map(|n| n + 1);
    let number = at.ok_or_else(|| anyhow::anyhow!("not offered"))?.to_string();
    let chosen = answer(&cluster, &asked, &number, "clarify-2-choice").await?;
    let (routed, _) = decided(&bus, &chosen.message_id).await?;
    assert_eq!(routed.article_ids, ["change-password"], "{routed:?}");
    cluster.stop().await
}

#[tokio::test]
async fn none_of_these_reaches_a_person_and_another_question_is_decided_anew() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = start(&backing).await?;
    let bus = backing.bus().await?;

    // "None of these": a person in the rule's queue, with the hand-off packet.
    let (asked, _) = ask(&cluster, &bus, "clarify-none").await?;
    let none = answer(&cluster, &asked, "none of these", "clarify-none-choice").await?;
    let (routed, reply) = decided(&bus, &none.message_id).await?;
    assert_eq!((routed.action(), routed.queue.as_str()), (RouteAction::Queue, "general"), "{routed:?}");
    assert!(reply.is_none());
    assert!(routed.reason.contains("none of the articles offered fits"), "{}", routed.reason);
    let packet = routed.handoff.ok_or_else(|| anyhow::anyhow!("no hand-off packet"))?;
    assert_eq!(packet.reason, "missing_knowledge");
    assert!(packet.summary.contains("problem with my password"), "the packet holds the question: {packet:?}");
    assert!(
        packet
            .bot_attempts
            .iter()
            .any(|attempt| attempt.contains("recover-password") && attempt.contains("none fits")),
        "the packet says what was offered: {packet:?}"
    );

    // A message that answers nothing is decided as any other, and the question is dropped.
    let (asked, _) = ask(&cluster, &bus, "clarify-other").await?;
    let other = answer(&cluster, &asked, "I want to talk to a person", "clarify-other-next").await?;
    let (routed, _) = decided(&bus, &other.message_id).await?;
    assert_eq!(
        (routed.action(), routed.rule.as_str()),
        (RouteAction::Escalate, "customer-asks-for-a-human"),
        "{routed:?}"
    );
    let later = answer(&cluster, &asked, "1", "clarify-other-later").await?;
    let (routed, _) = decided(&bus, &later.message_id).await?;
    assert_ne!(routed.rule, "playbook:clarify", "the question was dropped: {routed:?}");
    cluster.stop().await
}

#[tokio::test]
async fn in_the_web_chat_the_options_are_buttons_and_a_tap_answers() -> anyhow::Result<()> {
    use anyhow::Context as _;
    let backing = Backing::start().await?;
    let cluster = start(&backing).await?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/clarify.cjs");
    let output = tokio::time::timeout(
        common::WAIT * 4,
        tokio::process::Command::new("node")
            .arg(script)
            .arg(format!("http://{}/chat/demo", cluster.http))
            .env(
                "NODE_PATH",
                std::env::var("SWITCHBOARD_NODE_PATH").context("run `make env` (SWITCHBOARD_NODE_PATH)")?,
            )
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{said}\n{}", String::from_utf8_lossy(&output.stderr));
    let line = |prefix: &str| said.lines().find_map(|line| line.strip_prefix(prefix)).map(str::to_string);
    let options: Vec<String> = serde_json::from_str(&line("OPTIONS ").context("no options")?)?;
    assert!(options.contains(&"Recover a forgotten password".to_string()), "{options:?}");
    assert_eq!(options.last().map(String::as_str), Some("None of these"));
    assert!(line("ANSWER ").is_some_and(|answer| answer.contains("Forgot password")), "{said}");
    assert_eq!(line("BUTTONS LEFT ").as_deref(), Some("0"), "the buttons are cleared once one is tapped");
    let sent: Vec<String> = serde_json::from_str(&line("SENT ").context("no messages")?)?;
    assert_eq!(sent, ["I have a problem with my password", "Recover a forgotten password"]);
    cluster.stop().await
}
