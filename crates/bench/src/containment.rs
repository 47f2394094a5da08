//! The containment harness (`make eval`): a tenant's knowledge base and rules ("escalate who asks
//! for a person, answer from the knowledge base, else queue") in a cluster of every service in
//! this process, on a fresh nats-server and database; held-out customer questions submitted over
//! gRPC, one conversation each. Each routing decision is one of: answered from a right article
//! (contained), answered from another article (wrong), handed to a person. A question that asks
//! for a person is handled right when it is handed over. When the bot asks which article the
//! customer means instead, the harness answers as a customer would: the number of the right
//! article when it is offered, else "none of these"; the answer's decision is the outcome.
//!
//! Inputs (JSON lines, as `make eval` writes them): `SWITCHBOARD_CONTAINMENT_ARTICLES` (id, title,
//! body, locale, example_questions) and `SWITCHBOARD_CONTAINMENT_QUESTIONS` (query, relevant);
//! `SWITCHBOARD_CONTAINMENT_PERSON` names the article id whose questions ask for a person;
//! `SWITCHBOARD_ENCODER_DIR` makes knowledge search hybrid; `SWITCHBOARD_CONTAINMENT_DECISIONS`
//! names a file for each question's decision (JSON lines).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, stream};
use prost::Message as _;
use serde::Deserialize;
use switchboard_auth::Role;
use switchboard_bus::{Bus, EVENTS_STREAM};
use switchboard_proto::events::v1::{Channel, Event, MessageRouted, RouteAction, event::Body};
use switchboard_proto::intake::v1::SubmitMessageRequest;
use switchboard_proto::knowledge::v1::{PublishArticleRequest, knowledge_client::KnowledgeClient};
use switchboard_server::knowledge::ArticleLine;
use switchboard_server::{Config, Service, serve};
use switchboard_testkit::{NatsServer, TestDatabase};
use tokio_util::sync::CancellationToken;

use crate::Intake;
use crate::path::connect;

/// The harness's routing rules: a person for who asks for one, else the knowledge base; an
/// answer that is not confident falls back to the `general` queue.
const RULES: &str = include_str!("../containment-rules.yaml");

#[derive(Deserialize)]
struct Question {
    query: String,
    relevant: Vec<String>,
    #[serde(default)]
    locale: String,
}

/// What became of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Contained,
    /// Answered from the right article once the customer chose it among those offered.
    ContainedAfterAsking,
    Wrong,
    HandedOver,
}

/// The JSON lines of the file `variable` names (`switchboard knowledge`'s reader).
fn lines<T: for<'de> Deserialize<'de>>(variable: &str) -> anyhow::Result<Vec<T>> {
    let path = PathBuf::from(std::env::var(variable).with_context(|| format!("{variable} is not set"))?);
    switchboard_server::knowledge::lines(&path)
}

pub(crate) async fn measure() -> anyhow::Result<()> {
    let articles: Vec<ArticleLine> = lines("SWITCHBOARD_CONTAINMENT_ARTICLES")?;
    let questions: Vec<Question> = lines("SWITCHBOARD_CONTAINMENT_QUESTIONS")?;
    let person = std::env::var("SWITCHBOARD_CONTAINMENT_PERSON").unwrap_or_default();
    let encoder_dir = std::env::var_os("SWITCHBOARD_ENCODER_DIR").map(PathBuf::from);
    let (database, nats) = (TestDatabase::create().await?, NatsServer::start()?);
    let rules = std::env::temp_dir().join(format!("switchboard-containment-{}.yaml", std::process::id()));
    std::fs::write(&rules, RULES)?;
    let config = Config {
        nats_url: nats.url(),
        database_url: database.url.clone(),
        services: Service::ALL.to_vec(),
        auth_keys: Some(switchboard_testkit::auth_keys()),
        rules_file: Some(rules.clone()),
        encoder_dir: encoder_dir.clone(),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(config, listener, shutdown.clone()));
    publish(KnowledgeClient::new(connect(address, Role::Admin).await?), &articles).await?;
    let bus = Bus::connect(switchboard_bus::Config { url: nats.url(), ..Default::default() }).await?;
    let started = Instant::now();
    let outcomes =
        submit_and_watch(&bus, Intake::new(connect(address, Role::Service).await?), &questions).await?;
    let elapsed = started.elapsed();
    shutdown.cancel();
    server.await??;
    let _ = std::fs::remove_file(&rules);
    let search = if encoder_dir.is_some() { "hybrid" } else { "lexical" };
    report(&questions, &outcomes, &person, search, elapsed);
    Ok(())
}

/// Publishes the articles into the default tenant and waits until each is searchable.
async fn publish(
    mut knowledge: KnowledgeClient<switchboard_auth::Authorized>,
    articles: &[ArticleLine],
) -> anyhow::Result<()> {
    for article in articles {
        let request = PublishArticleRequest {
            article_id: article.id.clone(),
            title: article.title.clone(),
            body: article.body.clone(),
            locale: article.locale.clone(),
            tags: article.tags.clone(),
            product_area: article.product_area.clone(),
            example_questions: article.example_questions.clone(),
            translation_of: article.translation_of.clone(),
            wait: true,
            ..Default::default()
        };
        knowledge.publish_article(request).await.with_context(|| format!("publishing {}", article.id))?;
    }
    Ok(())
}

/// Submits every question as a new conversation and reads the routing decisions: each
/// question's outcome, by position.
async fn submit_and_watch(bus: &Bus, intake: Intake, questions: &[Question]) -> anyhow::Result<Vec<Outcome>> {
    let mut watcher = decisions(bus).await?;
    let first: Vec<Said> = questions
        .iter()
        .enumerate()
        .map(|(n, question)| Said { n, text: question.query.clone(), conversation_id: None })
        .collect();
    let message_ids = say(&intake, &first).await?;
    let decided = read_decisions(&mut watcher, &message_ids.iter().collect()).await?;
    let decision_of = |id: &String| decided.get(id).context("a question has no decision");
    // The bot's questions, answered as the customer would.
    let mut answers = Vec::new();
    for ((n, id), question) in message_ids.iter().enumerate().zip(questions) {
        if let Some(text) = choice(decision_of(id)?, &question.relevant) {
            answers.push(Said { n, text, conversation_id: Some(decision_of(id)?.conversation_id.clone()) });
        }
    }
    let answer_ids = say(&intake, &answers).await?;
    let answered = read_decisions(&mut watcher, &answer_ids.iter().collect()).await?;
    let mut after_asking: HashMap<usize, &MessageRouted> = HashMap::new();
    for (said, id) in answers.iter().zip(&answer_ids) {
        after_asking.insert(said.n, answered.get(id).context("an answer has no decision")?);
    }
    let mut outcomes = Vec::with_capacity(questions.len());
    let mut dump = String::new();
    for ((n, id), question) in message_ids.iter().enumerate().zip(questions) {
        let relevant: HashSet<&String> = question.relevant.iter().collect();
        let (routed, asked) = match after_asking.get(&n) {
            Some(routed) => (*routed, true),
            None => (decision_of(id)?, false),
        };
        let outcome = match (routed.action(), routed.article_ids.first()) {
            (RouteAction::AutoReply, Some(article)) if relevant.contains(article) && asked => {
                Outcome::ContainedAfterAsking
            }
            (RouteAction::AutoReply, Some(article)) if relevant.contains(article) => Outcome::Contained,
            (RouteAction::AutoReply, _) => Outcome::Wrong,
            _ => Outcome::HandedOver,
        };
        outcomes.push(outcome);
        let line = serde_json::json!({
            "query": question.query, "relevant": question.relevant, "outcome": format!("{outcome:?}"),
            "rule": routed.rule, "reason": routed.reason, "articles": routed.article_ids, "inputs": routed.inputs,
        });
        dump.push_str(&format!("{line}\n"));
    }
    // Each decision, for looking into what went wrong (on validation questions, never on test).
    if let Ok(path) = std::env::var("SWITCHBOARD_CONTAINMENT_DECISIONS") {
        std::fs::write(&path, dump).with_context(|| format!("cannot write {path}"))?;
    }
    Ok(outcomes)
}

/// A customer's message: question `n`'s, or its answer to the bot in `conversation_id`.
struct Said {
    n: usize,
    text: String,
    conversation_id: Option<String>,
}

/// Submits each message (sixteen at a time); their message ids, in order.
async fn say(intake: &Intake, messages: &[Said]) -> anyhow::Result<Vec<String>> {
    let submitted: Vec<anyhow::Result<String>> = stream::iter(messages)
        .map(|said| {
            let mut intake = intake.clone();
            let key = match &said.conversation_id {
                None => format!("containment-{}", said.n),
                Some(_) => format!("containment-{}-choice", said.n),
            };
            let request = SubmitMessageRequest {
                channel: Channel::Web.into(),
                customer_id: format!("containment-{}", said.n),
                text: said.text.clone(),
                idempotency_key: key,
                conversation_id: said.conversation_id.clone(),
                ..Default::default()
            };
            async move { Ok(intake.submit_message(request).await?.into_inner().message_id) }
        })
        .buffered(16)
        .collect()
        .await;
    submitted.into_iter().collect()
}

/// When `routed` asks which article the customer means: the number of a `relevant` one offered,
/// else the number of "none of these" (after the articles).
fn choice(routed: &MessageRouted, relevant: &[String]) -> Option<String> {
    let asking = routed.action() == RouteAction::AutoReply && routed.article_ids.is_empty();
    let offered: Vec<&String> =
        (1..).map_while(|n| routed.collected.get(&format!("option.{n}.article"))).collect();
    if !asking || offered.is_empty() {
        return None;
    }
    let right = offered.iter().position(|article| relevant.contains(article));
    Some(right.map_or(offered.len() + 1, |at| at + 1).to_string())
}

type Decisions = HashMap<String, MessageRouted>;
type Ordered = async_nats::jetstream::consumer::pull::Ordered;

/// Routing decisions from the start of the stream (subscribed before anything is submitted).
async fn decisions(bus: &Bus) -> anyhow::Result<Ordered> {
    use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: "switchboard.events.routing.>".into(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    Ok(consumer.messages().await?)
}

/// Reads until every wanted message has its routing decision.
async fn read_decisions(messages: &mut Ordered, wanted: &HashSet<&String>) -> anyhow::Result<Decisions> {
    let mut decided = Decisions::new();
    while decided.len() < wanted.len() {
        let Some(message) = tokio::time::timeout(Duration::from_secs(120), messages.next()).await? else {
            bail!("event stream ended");
        };
        let event = Event::decode(message?.payload.as_ref())?;
        if let Some(Body::MessageRouted(routed)) = event.body
            && wanted.contains(&routed.message_id)
        {
            decided.insert(routed.message_id.clone(), routed);
        }
    }
    Ok(decided)
}

fn report(questions: &[Question], outcomes: &[Outcome], person: &str, search: &str, elapsed: Duration) {
    let asks_person = |q: &Question| !person.is_empty() && q.relevant.iter().any(|id| id == person);
    let share = |count: usize, of: usize| 100.0 * count as f64 / of.max(1) as f64;
    let mut by_language: HashMap<&str, Vec<(bool, Outcome)>> = HashMap::new();
    for (question, outcome) in questions.iter().zip(outcomes) {
        let language = if question.locale.is_empty() { "en" } else { question.locale.as_str() };
        by_language.entry(language).or_default().push((asks_person(question), *outcome));
    }
    let mut languages: Vec<&&str> = by_language.keys().collect();
    languages.sort();
    for language in languages {
        let rows = &by_language[*language];
        let count = |wanted: Outcome, person: bool| {
            rows.iter().filter(|(asks, outcome)| *asks == person && *outcome == wanted).count()
        };
        let (n, persons) = (rows.len(), rows.iter().filter(|(asks, _)| *asks).count());
        // Answering who asked for a person, from any article, is a wrong answer.
        let wrong = count(Outcome::Wrong, false)
            + count(Outcome::Wrong, true)
            + count(Outcome::Contained, true)
            + count(Outcome::ContainedAfterAsking, true);
        let (at_once, after_asking) =
            (count(Outcome::Contained, false), count(Outcome::ContainedAfterAsking, false));
        println!(
            "containment ({search} search, {language}): {n} questions through the cluster in {:.1} s: \
             contained {:.1}% (answered from the right article: {:.1}% at once, {:.1}% once the customer \
             chose it among the articles the bot offered), answered wrongly {:.1}%, \
             handed to a person {:.1}%; {persons} asked for a person, {} of them handed over",
            elapsed.as_secs_f64(),
            share(at_once + after_asking, n),
            share(at_once, n),
            share(after_asking, n),
            share(wrong, n),
            share(count(Outcome::HandedOver, false) + count(Outcome::HandedOver, true), n),
            count(Outcome::HandedOver, true),
        );
    }
}
