//! A customer's message through every service: submitted over gRPC or by a channel adapter on the
//! bus, classified, routed, and answered from the knowledge base or escalated.

mod common;

use common::{Backing, Cluster, message, submit, wait_for_event};
use prost::Message as _;
use switchboard_proto::{
    analytics::v1::{GetCountsRequest, analytics_client::AnalyticsClient},
    events::v1::{Channel, InboundMessage, RouteAction, event::Body},
    intake::v1::{Author, ConversationStatus, GetConversationRequest},
};
use tonic::Code;

#[tokio::test]
async fn an_order_question_is_classified_routed_and_answered_from_the_knowledge_base() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let article_id = common::publish_tracking_article(cluster.address).await?;

    let submitted = submit(&cluster, message("c-1", "Where is my order 12345?", "k-1")).await?;
    assert!(!submitted.duplicate);
    let conversation_id = submitted.conversation_id.clone();
    let (_, sequence) = wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.conversation_id == conversation_id => Some(()),
        _ => None,
    })
    .await?;

    let request = GetConversationRequest { conversation_id: conversation_id.clone(), min_sequence: sequence };
    let conversation = cluster.intake().await?.get_conversation(request).await?.into_inner();
    assert_eq!(conversation.status(), ConversationStatus::Answered);
    assert_eq!(conversation.messages.len(), 2, "{conversation:#?}");
    let question = &conversation.messages[0];
    assert_eq!(question.author(), Author::Customer);
    let classification = question.classification.as_ref().expect("classified");
    assert_eq!(classification.intent, "order_status");
    assert!(classification.model_version.starts_with("builtin-"), "{}", classification.model_version);
    assert_eq!(classification.language, "en");
    let routing = question.routing.as_ref().expect("routed");
    assert_eq!(routing.action(), RouteAction::AutoReply);
    assert_eq!(routing.rule, "order-status", "no order known: the knowledge base answers");
    let answer = &conversation.messages[1];
    assert_eq!(answer.author(), Author::Bot);
    assert!(answer.text.contains("tracking link"), "{}", answer.text);

    let (cited, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.conversation_id == conversation_id => Some(r.article_ids.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(cited, vec![article_id]);
    cluster.stop().await
}

#[tokio::test]
async fn asking_for_a_human_escalates_with_the_rule_that_matched() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let submitted = submit(&cluster, message("c-2", "This is useless, I want a human now", "k-2")).await?;
    let conversation_id = submitted.conversation_id.clone();
    let (routed, sequence) =
        wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
            Some(Body::MessageRouted(r)) if r.conversation_id == conversation_id => Some(r.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(routed.action(), RouteAction::Escalate);
    assert_eq!(routed.rule, "customer-asks-for-a-human");
    assert!(routed.reason.contains("keyword \"human\""), "{}", routed.reason);

    let request = GetConversationRequest { conversation_id, min_sequence: sequence };
    let conversation = cluster.intake().await?.get_conversation(request).await?.into_inner();
    assert_eq!(conversation.status(), ConversationStatus::Escalated);
    assert_eq!(conversation.messages.len(), 1);
    cluster.stop().await
}

#[tokio::test]
async fn a_repeated_idempotency_key_is_answered_as_a_duplicate_and_adds_nothing() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let first = submit(&cluster, message("c-3", "Where is my order 777?", "same-key")).await?;
    let again = submit(&cluster, message("c-3", "Where is my order 777?", "same-key")).await?;
    assert!(again.duplicate);
    assert_eq!(
        (again.conversation_id.as_str(), again.message_id.as_str()),
        (first.conversation_id.as_str(), first.message_id.as_str())
    );

    // After the read model has it, a duplicate is still a duplicate.
    let (_, sequence) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.message_id == first.message_id => Some(()),
        _ => None,
    })
    .await?;
    let request =
        GetConversationRequest { conversation_id: first.conversation_id.clone(), min_sequence: sequence };
    cluster.intake().await?.get_conversation(request.clone()).await?;
    let late = submit(&cluster, message("c-3", "Where is my order 777?", "same-key")).await?;
    assert!(late.duplicate);
    assert_eq!(late.message_id, first.message_id);
    let received = common::events(&bus, "switchboard.events.conversation.>").await?;
    assert_eq!(received.len(), 1, "one MessageReceived event only");
    cluster.stop().await
}

#[tokio::test]
async fn a_conversation_continues_and_only_its_customer_may_write_to_it() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let first = submit(&cluster, message("c-4", "Hello", "k-4a")).await?;
    let mut follow_up = message("c-4", "Where is my order 1?", "k-4b");
    follow_up.conversation_id = Some(first.conversation_id.clone());
    let second = submit(&cluster, follow_up).await?;
    assert_eq!(second.conversation_id, first.conversation_id);

    let mut intruder = message("someone-else", "hi", "k-4c");
    intruder.conversation_id = Some(first.conversation_id.clone());
    let refused = cluster.intake().await?.submit_message(intruder).await.expect_err("foreign");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    cluster.stop().await
}

#[tokio::test]
async fn bad_input_gets_a_clear_error() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut intake = cluster.intake().await?;
    let mut no_channel = message("c", "hi", "k");
    no_channel.channel = Channel::Unspecified.into();
    let mut unknown_conversation = message("c", "hi", "k2");
    unknown_conversation.conversation_id = Some("no-such-conversation".into());
    let cases = [
        (message("c", "   ", "k"), Code::InvalidArgument, "text is empty"),
        (message("c", &"x".repeat(40_000), "k"), Code::InvalidArgument, "at most 32768"),
        (message("c", "hi", ""), Code::InvalidArgument, "idempotency_key"),
        (message("", "hi", "k"), Code::InvalidArgument, "customer_id"),
        (no_channel, Code::InvalidArgument, "channel"),
        (unknown_conversation, Code::NotFound, "not found"),
    ];
    for (request, code, words) in cases {
        let status = intake.submit_message(request).await.expect_err(words);
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(words), "{status:?}");
    }
    let missing = GetConversationRequest { conversation_id: "nope".into(), min_sequence: 0 };
    assert_eq!(intake.get_conversation(missing).await.expect_err("missing").code(), Code::NotFound);
    let mut analytics = AnalyticsClient::new(cluster.channel().await?);
    let bogus = GetCountsRequest { metric: "bogus".into(), min_sequence: 0 };
    let unknown = analytics.get_counts(bogus).await.expect_err("metric");
    assert_eq!(unknown.code(), Code::InvalidArgument);
    cluster.stop().await
}

#[tokio::test]
async fn channel_adapters_publish_on_the_bus_and_bad_ones_are_dead_lettered() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let inbound = InboundMessage {
        channel: Channel::Email.into(),
        customer_id: "c-5".into(),
        text: "I need a refund for my order".into(),
        ..Default::default()
    };
    let payload = bytes::Bytes::from(inbound.encode_to_vec());
    bus.publish_raw("switchboard.inbound.email".into(), payload.clone(), "<msg-1@example.com>").await?;
    let again =
        bus.publish_raw("switchboard.inbound.email".into(), payload.clone(), "<msg-1@example.com>").await?;
    assert!(again.duplicate, "the channel's natural key deduplicates");
    bus.publish_raw("switchboard.inbound.fax".into(), payload, "fax-1").await?;

    let (received, _) =
        wait_for_event(&bus, "switchboard.events.conversation.>", |event| match &event.body {
            Some(Body::MessageReceived(m)) if m.customer_id == "c-5" => Some(m.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(received.channel(), Channel::Email);
    assert_eq!(received.idempotency_key, "<msg-1@example.com>");

    let letter = common::dead_letter(&bus, "intake-inbound").await?;
    assert!(letter.reason.contains("unknown channel \"fax\""), "{}", letter.reason);
    assert_eq!(letter.subject, "switchboard.inbound.fax");
    cluster.stop().await
}

#[tokio::test]
async fn analytics_counts_messages_and_decisions_by_channel_and_intent() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    for (index, text) in [
        "I want a human",
        "Can I talk to an agent?",
        "Could you send us a quote for 40 seats for our company?",
    ]
    .iter()
    .enumerate()
    {
        submit(&cluster, message("c-6", text, &format!("k-6-{index}"))).await?;
    }
    let mut seen = 0;
    let (_, sequence) = wait_for_event(&bus, "switchboard.events.routing.>", |_| {
        seen += 1;
        (seen == 3).then_some(())
    })
    .await?;
    let mut analytics = AnalyticsClient::new(cluster.channel().await?);
    let request = GetCountsRequest { metric: String::new(), min_sequence: sequence };
    let counts = analytics.get_counts(request).await?.into_inner().counts;
    let total = |metric: &str| counts.iter().filter(|c| c.metric == metric).map(|c| c.value).sum::<u64>();
    assert_eq!((total("escalations"), total("queued"), total("classifications")), (2, 1, 3));
    let messages: u64 =
        counts.iter().filter(|c| c.metric == "messages" && c.channel == "web").map(|c| c.value).sum();
    assert_eq!(messages, 3);
    let sales = counts.iter().find(|c| c.metric == "queued").expect("queued");
    assert_eq!((sales.channel.as_str(), sales.intent.as_str()), ("web", "sales_lead"));
    cluster.stop().await
}

#[tokio::test]
async fn without_an_answer_in_the_knowledge_base_a_human_takes_the_question() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    // Not an order's status (that playbook never hands off for want of an article: see orders.rs).
    let long_question =
        format!("My parcel arrived damaged. {}", "The box was crushed and the item is broken. ".repeat(60));
    let submitted = submit(&cluster, message("c-7", &long_question, "k-7")).await?;
    let (routed, sequence) =
        wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
            Some(Body::MessageRouted(r)) if r.conversation_id == submitted.conversation_id => Some(r.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(routed.action(), RouteAction::Queue);
    assert_eq!(routed.queue, "orders");
    assert!(
        routed.reason.contains("the knowledge base has no confident answer, so a human takes it"),
        "{}",
        routed.reason
    );
    let request =
        GetConversationRequest { conversation_id: submitted.conversation_id, min_sequence: sequence };
    let conversation = cluster.intake().await?.get_conversation(request).await?.into_inner();
    assert_eq!(conversation.status(), ConversationStatus::Queued);
    cluster.stop().await
}
