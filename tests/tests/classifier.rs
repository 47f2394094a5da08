//! The classifier's models over gRPC with the whole cluster running: the built-in model reads
//! messages, a trained model is activated and rolled back while messages keep flowing, an agent's
//! correction reaches the next training, and bad input is refused with a clear status.

mod common;

use std::time::Duration;

use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_proto::{
    classifier::v1::{
        ActivateModelRequest, ClassifyRequest, LabelledText, ListModelsRequest, SubmitFeedbackRequest,
        TrainRequest, classifier_client::ClassifierClient,
    },
    events::v1::{RouteAction, event::Body},
};
use tonic::Code;

/// Waits until the classifier's read model holds the stream up to `sequence`.
async fn classified_up_to(cluster: &Cluster, sequence: u64) -> anyhow::Result<()> {
    let request = ListModelsRequest { tenant: String::new(), min_sequence: sequence };
    classifier(cluster).await?.list_models(request).await?;
    Ok(())
}

async fn classifier(cluster: &Cluster) -> anyhow::Result<ClassifierClient<common::Api>> {
    Ok(ClassifierClient::new(cluster.channel().await?))
}

fn classify(text: &str) -> ClassifyRequest {
    ClassifyRequest { text: text.into(), tenant: String::new() }
}

fn labelled(pairs: &[(&str, &str)]) -> Vec<LabelledText> {
    pairs.iter().map(|(text, label)| LabelledText { text: (*text).into(), label: (*label).into() }).collect()
}

/// A small tenant-specific model: parcels versus billing, with chatter out of scope.
fn parcel_or_billing() -> Vec<LabelledText> {
    let mut pairs = Vec::new();
    for suffix in ["", " please", " thanks", " now"] {
        for text in ["where is my parcel", "track the parcel", "parcel not here", "parcel delivery status"] {
            pairs.push((format!("{text}{suffix}"), "parcels"));
        }
        for text in ["wrong amount on my bill", "explain this bill", "bill is too high", "billing question"] {
            pairs.push((format!("{text}{suffix}"), "billing"));
        }
        for text in ["tell me a joke", "what is the weather", "who won the match", "sing a song"] {
            pairs.push((format!("{text}{suffix}"), "out_of_scope"));
        }
    }
    pairs.into_iter().map(|(text, label)| LabelledText { text, label: label.into() }).collect()
}

#[tokio::test]
async fn the_builtin_model_reads_intent_language_feeling_and_entities() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut client = classifier(&cluster).await?;

    let reading =
        client.classify(classify("Where is my order #A10234? It was due yesterday!")).await?.into_inner();
    assert_eq!(reading.intent, "order_status", "{reading:?}");
    assert!(reading.model_version.starts_with("builtin-"), "{}", reading.model_version);
    assert_eq!(reading.language, "en");
    assert!(reading.confidence > 0.3 && !reading.out_of_scope, "{reading:?}");
    let order = reading.entities.iter().find(|e| e.kind == "order_number").expect("order number found");
    assert_eq!(order.value, "A10234");

    let reading = client.classify(classify("我的訂單還沒到，已經等了一個星期，太失望了")).await?.into_inner();
    assert_eq!(reading.language, "zh-Hant");
    assert_eq!(reading.feeling.as_ref().map(|f| f.sentiment.as_str()), Some("negative"), "{reading:?}");

    let reading = client.classify(classify("what's the capital of Australia?")).await?.into_inner();
    assert!(reading.out_of_scope, "{reading:?}");
    assert_eq!(reading.intent, "out_of_scope");

    // An out-of-scope message goes to people, never to an automated answer.
    let bus = backing.bus().await?;
    common::publish_tracking_article(cluster.address).await?;
    let submitted = submit(&cluster, message("c-o", "what's the capital of Australia?", "o-1")).await?;
    let (routed, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.conversation_id == submitted.conversation_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    assert_ne!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    assert_eq!(routed.intent, "out_of_scope");
    cluster.stop().await
}

#[tokio::test]
async fn a_model_is_trained_activated_and_rolled_back_while_messages_keep_flowing() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let mut client = classifier(&cluster).await?;

    // Given: messages arriving all along.
    let address = cluster.address;
    let traffic = tokio::spawn(async move {
        let mut intake =
            switchboard_proto::intake::v1::intake_client::IntakeClient::new(common::channel(address).await?);
        for i in 0..40 {
            intake
                .submit_message(message(&format!("c-{i}"), "where is my parcel", &format!("flow-{i}")))
                .await?;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        anyhow::Ok(())
    });

    // When: a model is trained and activated, then a second, then the first again (a rollback).
    let request = |activate| TrainRequest { examples: parcel_or_billing(), activate, ..Default::default() };
    let first = client.train(request(true)).await?.into_inner();
    assert!(first.active && first.labels.contains(&"parcels".to_string()), "{first:?}");
    let reading = client.classify(classify("where's my parcel?")).await?.into_inner();
    assert_eq!(
        (reading.intent.as_str(), reading.model_version.as_str()),
        ("parcels", first.model_id.as_str())
    );

    let second = client.train(request(false)).await?.into_inner();
    assert!(!second.active);
    let activated = client
        .activate_model(ActivateModelRequest { tenant: String::new(), model_id: second.model_id.clone() })
        .await?;
    assert!(activated.into_inner().active);
    let rolled_back = client
        .activate_model(ActivateModelRequest { tenant: String::new(), model_id: first.model_id.clone() })
        .await?
        .into_inner();
    assert!(rolled_back.active);
    let listing = client
        .list_models(ListModelsRequest { tenant: String::new(), min_sequence: rolled_back.sequence })
        .await?
        .into_inner();
    assert_eq!(listing.active_model_id, first.model_id);
    assert_eq!(listing.models.len(), 2);
    assert_eq!(listing.models[0].model_id, second.model_id, "newest first");
    traffic.await??;
    for i in 0..5 {
        submit(&cluster, message(&format!("after-{i}"), "where is my parcel", &format!("after-{i}"))).await?;
    }

    // Then: every message was classified, by the models active at the time.
    let (versions, _) = wait_for_event(&bus, "switchboard.events.classification.>", {
        let mut versions = Vec::new();
        move |event| {
            if let Some(Body::MessageClassified(c)) = &event.body {
                versions.push((c.customer_id.starts_with("after-"), c.model_version.clone()));
            }
            (versions.len() == 45).then(|| versions.clone())
        }
    })
    .await?;
    let known = |v: &String| v.starts_with("builtin-") || *v == first.model_id || *v == second.model_id;
    assert!(versions.iter().all(|(_, v)| known(v)), "{versions:?}");
    let after: Vec<&String> = versions.iter().filter(|(after, _)| *after).map(|(_, v)| v).collect();
    assert_eq!(after, vec![&first.model_id; 5], "after the rollback the first model answers");

    let back = client
        .activate_model(ActivateModelRequest { tenant: String::new(), model_id: "builtin".into() })
        .await?;
    assert_eq!(back.into_inner().model_id, "builtin");
    let reading = client.classify(classify("where is my order")).await?.into_inner();
    assert!(reading.model_version.starts_with("builtin-"));
    cluster.stop().await
}

#[tokio::test]
async fn a_second_replica_follows_activations_and_a_restart_keeps_them() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let one = Cluster::start(backing.config()).await?;
    let two = Cluster::start(backing.config()).await?;
    let trained = classifier(&one)
        .await?
        .train(TrainRequest { examples: parcel_or_billing(), activate: true, ..Default::default() })
        .await?
        .into_inner();
    let mut other = classifier(&two).await?;
    let mut version = String::new();
    for _ in 0..50 {
        version = other.classify(classify("track the parcel")).await?.into_inner().model_version;
        if version == trained.model_id {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(version, trained.model_id, "the other replica swapped the model in");
    two.stop().await?;
    one.stop().await?;
    let restarted = Cluster::start(backing.config()).await?;
    let reading = classifier(&restarted).await?.classify(classify("track the parcel")).await?.into_inner();
    assert_eq!(reading.model_version, trained.model_id);
    restarted.stop().await
}

#[tokio::test]
async fn an_agents_correction_reaches_the_next_training() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let mut client = classifier(&cluster).await?;
    let text = "the flux capacitor in my hoverboard whines at night";
    let submitted = submit(&cluster, message("c-f", text, "k-f")).await?;
    let (message_id, sequence) =
        wait_for_event(&bus, "switchboard.events.classification.>", |event| match &event.body {
            Some(Body::MessageClassified(c)) if c.conversation_id == submitted.conversation_id => {
                Some(c.message_id.clone())
            }
            _ => None,
        })
        .await?;
    // The classification must be readable before feedback can find the message's text.
    let _ = client.list_models(ListModelsRequest { tenant: String::new(), min_sequence: sequence }).await?;

    // An agent corrects the message's intent; the text it sends along does not replace the
    // message's own, and a message the classifier never saw is not found for it.
    let feedback = SubmitFeedbackRequest {
        message_id: message_id.clone(),
        intent: "hoverboard_noise".into(),
        agent_id: "agent-7".into(),
        text: "i want my money back for the order".into(),
        ..Default::default()
    };
    let mut agent =
        ClassifierClient::new(cluster.channel_as("default", switchboard_auth::Role::Agent, "agent-7").await?);
    let made_up = SubmitFeedbackRequest { message_id: "never-seen".into(), ..feedback.clone() };
    assert_eq!(agent.submit_feedback(made_up).await.expect_err("unknown").code(), Code::NotFound);
    let sequence = agent.submit_feedback(feedback).await?.into_inner().sequence;
    let (recorded, _) =
        wait_for_event(&bus, "switchboard.events.intent-feedback.>", |event| match &event.body {
            Some(Body::IntentCorrected(c)) if c.message_id == message_id => Some(c.text.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(recorded, text);
    let request = TrainRequest {
        examples: parcel_or_billing(),
        include_feedback: true,
        min_sequence: sequence,
        activate: true,
        ..Default::default()
    };
    let model = client.train(request).await?.into_inner();
    assert_eq!(model.feedback_examples, 1);
    assert!(model.labels.contains(&"hoverboard_noise".to_string()), "{:?}", model.labels);
    let reading = client.classify(classify(text)).await?.into_inner();
    assert_eq!(reading.intent, "hoverboard_noise", "{reading:?}");
    cluster.stop().await
}

#[tokio::test]
async fn bad_input_gets_a_clear_status() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut client = classifier(&cluster).await?;
    fn status(result: Result<(), tonic::Status>) -> Option<(Code, String)> {
        result.err().map(|s| (s.code(), s.message().to_owned()))
    }

    let (code, _) = status(client.classify(classify("  ")).await.map(|_| ())).expect("empty text refused");
    assert_eq!(code, Code::InvalidArgument);
    let (code, text) =
        status(client.classify(classify(&"x".repeat(1 << 20))).await.map(|_| ())).expect("1 MB refused");
    assert_eq!(code, Code::InvalidArgument);
    assert!(text.contains("bytes"), "{text}");

    let one_class =
        TrainRequest { examples: labelled(&[("a", "only"), ("b", "only")]), ..Default::default() };
    let (code, text) = status(client.train(one_class).await.map(|_| ())).expect("one class refused");
    assert_eq!(code, Code::InvalidArgument);
    assert!(text.contains("single label"), "{text}");
    let (code, _) = status(client.train(TrainRequest::default()).await.map(|_| ())).expect("no data refused");
    assert_eq!(code, Code::InvalidArgument);
    let encoderless = TrainRequest { examples: parcel_or_billing(), use_encoder: true, ..Default::default() };
    let (code, _) = status(client.train(encoderless).await.map(|_| ())).expect("no encoder here");
    assert_eq!(code, Code::FailedPrecondition);

    let unknown = ActivateModelRequest { tenant: String::new(), model_id: "no-such-model".into() };
    assert_eq!(status(client.activate_model(unknown).await.map(|_| ())).map(|s| s.0), Some(Code::NotFound));
    let feedback = SubmitFeedbackRequest {
        message_id: "no-such-message".into(),
        intent: "x".into(),
        ..Default::default()
    };
    assert_eq!(status(client.submit_feedback(feedback).await.map(|_| ())).map(|s| s.0), Some(Code::NotFound));
    cluster.stop().await
}

#[tokio::test]
async fn a_conversation_keeps_the_language_it_started_in() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let classified = |conversation: String, nth: usize| {
        let bus = bus.clone();
        async move {
            let mut seen = 0;
            wait_for_event(&bus, "switchboard.events.classification.>", move |event| match &event.body {
                Some(Body::MessageClassified(c)) if c.conversation_id == conversation => {
                    seen += 1;
                    (seen == nth).then(|| c.clone())
                }
                _ => None,
            })
            .await
        }
    };
    let first = submit(
        &cluster,
        message("c-l", "Hello, I ordered a lamp two weeks ago and it has still not arrived", "l-1"),
    )
    .await?;
    let (reading, sequence) = classified(first.conversation_id.clone(), 1).await?;
    assert!(reading.language_reliable && reading.conversation_language == "en", "{reading:?}");
    // The first classification is in the read model before the next message is read.
    classified_up_to(&cluster, sequence).await?;

    let mut short = message("c-l", "ok merci", "l-2");
    short.conversation_id = Some(first.conversation_id.clone());
    submit(&cluster, short).await?;
    let (reading, _) = classified(first.conversation_id.clone(), 2).await?;
    assert!(!reading.language_reliable, "{reading:?}");
    assert_eq!(reading.conversation_language, "en");
    cluster.stop().await
}

#[tokio::test]
async fn a_full_model_with_sentence_embeddings_is_trained_and_serves() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.encoder_dir = Some(common::encoder_dir()?);
    let cluster = Cluster::start(config).await?;
    let mut client = classifier(&cluster).await?;
    let request = TrainRequest {
        examples: parcel_or_billing(),
        use_encoder: true,
        activate: true,
        ..Default::default()
    };
    let model = client.train(request).await?.into_inner();
    assert_eq!(model.encoder, "all-MiniLM-L6-v2");
    // Words the training data never used: only the embedding knows a shipment is a parcel.
    let reading = client.classify(classify("has the shipment been dispatched yet?")).await?.into_inner();
    assert_eq!(reading.model_version, model.model_id);
    assert_eq!(reading.intent, "parcels", "{reading:?}");
    let evaluation = client
        .evaluate(switchboard_proto::classifier::v1::EvaluateRequest {
            examples: labelled(&[("where is my parcel now", "parcels"), ("my bill looks wrong", "billing")]),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!((evaluation.n, evaluation.model_version.as_str()), (2, model.model_id.as_str()));
    assert!(evaluation.accuracy > 0.99, "{evaluation:?}");
    cluster.stop().await
}

/// Two tenants may use the same conversation and message ids: each conversation keeps the language
/// it started in within its own tenant, and each message keeps its own classification row.
#[tokio::test]
async fn tenants_with_the_same_conversation_and_message_ids_keep_their_own() -> anyhow::Result<()> {
    use switchboard_bus::Draft;
    use switchboard_proto::events::v1::MessageReceived;
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let wrote = |tenant: &str, text: &str| -> anyhow::Result<switchboard_proto::events::v1::Event> {
        let body = Body::MessageReceived(MessageReceived {
            conversation_id: "c-shared".into(),
            message_id: "m-shared".into(),
            customer_id: "cust-1".into(),
            channel: switchboard_proto::events::v1::Channel::Web.into(),
            text: text.into(),
            starts_conversation: true,
            ..Default::default()
        });
        Ok(Draft::new(tenant, "c-shared", body).build()?)
    };
    let classified_for = |tenant: &'static str| {
        let bus = bus.clone();
        async move {
            wait_for_event(&bus, "switchboard.events.classification.>", move |event| match &event.body {
                Some(Body::MessageClassified(c)) if event.tenant == tenant => Some(c.clone()),
                _ => None,
            })
            .await
        }
    };
    let german = "Guten Tag, ich habe vor zwei Wochen eine Lampe bestellt und sie ist immer noch nicht da";
    bus.publish(&wrote("acme", german)?).await?;
    let (acme, sequence) = classified_for("acme").await?;
    assert_eq!(acme.conversation_language, "de", "{acme:?}");
    // Acme's classification is in the read model before globex's message is read.
    classified_up_to(&cluster, sequence).await?;

    let english = "Hello, I ordered a lamp two weeks ago and it has still not arrived";
    bus.publish(&wrote("globex", english)?).await?;
    let (globex, sequence) = classified_for("globex").await?;
    assert_eq!(globex.conversation_language, "en", "not acme's conversation's language: {globex:?}");
    classified_up_to(&cluster, sequence).await?;
    let database = sqlx::PgPool::connect(&backing.database.url).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT tenant, language FROM classifier.classifications WHERE message_id = 'm-shared' ORDER BY tenant",
    )
    .fetch_all(&database)
    .await?;
    let expected = [("acme", "de"), ("globex", "en")].map(|(t, l)| (t.to_string(), l.to_string()));
    assert_eq!(rows, expected);
    cluster.stop().await
}

/// A tenant's trained model is its own: another tenant neither lists nor activates it, and keeps
/// classifying with its own (here the built-in) model.
#[tokio::test]
async fn a_tenant_s_model_serves_and_shows_only_for_that_tenant() -> anyhow::Result<()> {
    use switchboard_auth::Role;
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut acme = ClassifierClient::new(cluster.channel_as("acme", Role::Admin, "ada").await?);
    let mut globex = ClassifierClient::new(cluster.channel_as("globex", Role::Admin, "gil").await?);
    let request = TrainRequest { examples: parcel_or_billing(), activate: true, ..Default::default() };
    let trained = acme.train(request).await?.into_inner();
    assert_eq!(trained.tenant, "acme");
    let reading = acme.classify(classify("where's my parcel?")).await?.into_inner();
    assert_eq!(reading.model_version, trained.model_id, "acme classifies with its model");

    let listed = |sequence| ListModelsRequest { tenant: String::new(), min_sequence: sequence };
    let theirs = globex.list_models(listed(trained.sequence)).await?.into_inner();
    assert!(theirs.models.is_empty(), "globex sees acme's model: {theirs:?}");
    assert_eq!(theirs.active_model_id, "builtin");
    let ours = acme.list_models(listed(trained.sequence)).await?.into_inner();
    assert_eq!(
        ours.models.iter().map(|m| m.model_id.as_str()).collect::<Vec<_>>(),
        [trained.model_id.as_str()]
    );

    let steal = ActivateModelRequest { tenant: String::new(), model_id: trained.model_id.clone() };
    let refused = globex.activate_model(steal).await.expect_err("another tenant's model");
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let reading = globex.classify(classify("where's my parcel?")).await?.into_inner();
    assert_ne!(reading.model_version, trained.model_id, "globex keeps its own model: {reading:?}");
    cluster.stop().await
}
