//! Routing rules on the running cluster: customer profiles in conditions, rule sets published
//! over gRPC (bad ones refused, naming the line, while the running ones stay), a rules file
//! published at start only when it changed, and the what-if simulation over past messages.

mod common;

use common::{Backing, Cluster, closed_now_rules, message, submit, verified_message, wait_for_event};
use switchboard_proto::{
    events::v1::{MessageRouted, Priority, RouteAction, event::Body},
    router::v1::{
        Customer, ListRulesRequest, PublishRulesRequest, PutCustomerRequest, router_client::RouterClient,
    },
};
use switchboard_server::router::simulate;
use tonic::Code;

/// The routing decision for the conversation the submission started.
async fn routed(backing: &Backing, conversation_id: &str) -> anyhow::Result<MessageRouted> {
    let bus = backing.bus().await?;
    let (routed, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.conversation_id == conversation_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    Ok(routed)
}

const BILLING_TO_FINANCE: &str = r#"
rules:
  - name: vip-customers
    when: {customer: {tier: [vip]}}
    then: {tags: [vip], priority: high}
    continue: true
  - name: billing-to-finance
    when: {intents: [billing_invoice, payment_problem]}
    then: {action: queue, queue: finance}
  - name: everything-else
    then: {action: queue, queue: general}
"#;

#[tokio::test]
async fn a_vip_invoice_question_lands_in_billing_at_high_priority_and_rules_change_over_grpc()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let config = backing.config();
    let cluster = Cluster::start(config.clone()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let vip = Customer {
        customer_id: "cust-vip".into(),
        tier: "vip".into(),
        country: "DE".into(),
        ..Default::default()
    };
    router.put_customer(PutCustomerRequest { customer: Some(vip), wait: true }).await?;

    let sent =
        submit(&cluster, message("cust-vip", "I need a copy of my invoice for last month", "vip-1")).await?;
    let decision = routed(&backing, &sent.conversation_id).await?;
    assert_eq!((decision.queue.as_str(), decision.priority()), ("billing", Priority::High), "{decision:?}");
    assert_eq!(decision.fired, ["vip-customers", "billing-questions"]);
    assert_eq!(decision.tags, ["vip"]);
    assert_eq!(decision.inputs.get("customer.tier").map(String::as_str), Some("vip"));
    assert!(
        decision.inputs.get("intent").is_some_and(|i| i.starts_with("billing_invoice")),
        "{:?}",
        decision.inputs
    );
    let before = router.list_rules(ListRulesRequest {}).await?.into_inner();
    assert_eq!((before.version, before.source.as_str()), (1, "builtin"));

    let bad = "rules:\n  - name: broken\n    then: {action: queue}\n";
    let refused = router
        .publish_rules(PublishRulesRequest { text: bad.into(), wait: true })
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("line 2: rule broken: then.queue is required"),
        "{}",
        refused.message()
    );
    assert_eq!(
        router.list_rules(ListRulesRequest {}).await?.into_inner().version,
        1,
        "the running rules stay"
    );

    // The what-if before the change: the messages so far, through the candidate rules.
    let candidate = std::env::temp_dir().join(format!("switchboard-rules-{}.yaml", std::process::id()));
    std::fs::write(&candidate, BILLING_TO_FINANCE)?;
    let plain = submit(&cluster, message("cust-2", "Where is my order 5?", "plain-1")).await?;
    routed(&backing, &plain.conversation_id).await?;
    let report = simulate(&config, ("default", &candidate), None).await?;
    assert_eq!(report.compared, 2, "{report:?}");
    assert_eq!(report.changed, 2, "{report:?}");
    assert_eq!(report.changes.get("queue/billing/high -> queue/finance/high"), Some(&1), "{report:?}");
    assert!(report.examples.iter().any(|e| e.to_rule == "billing-to-finance" && e.text.contains("invoice")));
    assert_eq!(report.queues.get("finance").map(|q| (q.now, q.candidate)), Some((0, 1)));

    let published = router
        .publish_rules(PublishRulesRequest { text: BILLING_TO_FINANCE.into(), wait: true })
        .await?
        .into_inner();
    assert_eq!((published.version, published.source.as_str()), (2, "grpc"));
    let sent = submit(&cluster, message("cust-vip", "Please send the invoice again", "vip-2")).await?;
    let decision = routed(&backing, &sent.conversation_id).await?;
    assert_eq!((decision.queue.as_str(), decision.rules_version), ("finance", 2));
    assert_eq!(decision.action(), RouteAction::Queue);
    cluster.stop().await?;

    // A restart with the unchanged bundled rules keeps the version published over gRPC.
    let cluster = Cluster::start(config).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    assert_eq!(router.list_rules(ListRulesRequest {}).await?.into_inner().version, 2);
    std::fs::remove_file(&candidate)?;
    cluster.stop().await
}

#[tokio::test]
async fn a_changed_rules_file_is_published_at_start_and_a_bad_one_stops_the_start() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let file = std::env::temp_dir().join(format!("switchboard-rules-file-{}.yaml", std::process::id()));
    std::fs::write(&file, BILLING_TO_FINANCE)?;
    let mut config = backing.config();
    config.rules_file = Some(file.clone());
    let cluster = Cluster::start(config.clone()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let rules = router.list_rules(ListRulesRequest {}).await?.into_inner();
    assert_eq!((rules.version, rules.rules.len()), (1, 3));
    assert!(rules.source.starts_with("file:"), "{}", rules.source);
    assert_eq!(rules.rules[1].conditions, "intent billing_invoice|payment_problem");
    cluster.stop().await?;

    std::fs::write(&file, "rules:\n  - name: x\n    then: {action: fly, queue: q}\n")?;
    let refused = Cluster::start(config.clone()).await.err().expect("a bad rules file stops the start");
    assert!(format!("{refused:#}").contains("line 3"), "{refused:#}");

    std::fs::write(&file, BILLING_TO_FINANCE.replace("finance", "accounts"))?;
    let cluster = Cluster::start(config).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let rules = router.list_rules(ListRulesRequest {}).await?.into_inner();
    assert_eq!(rules.version, 2, "the changed file is the next version");
    assert_eq!(rules.rules[1].queue, "accounts");
    std::fs::remove_file(&file)?;
    cluster.stop().await
}

/// The decision for a given message.
async fn routed_message(backing: &Backing, message_id: &str) -> anyhow::Result<MessageRouted> {
    let bus = backing.bus().await?;
    let (routed, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.message_id == message_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    Ok(routed)
}

#[tokio::test]
async fn asking_for_a_person_hands_off_with_the_packet_and_repeated_failure_escalates() -> anyhow::Result<()>
{
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let article = common::publish_tracking_article(cluster.address).await?;

    let first = submit(&cluster, message("c-p", "Where is my order 12345?", "p-1")).await?;
    let answered = routed_message(&backing, &first.message_id).await?;
    assert_eq!(answered.action(), RouteAction::AutoReply, "{answered:?}");
    assert!(answered.handoff.is_none());
    let mut second = message("c-p", "This is useless, I want to talk to a person", "p-2");
    second.conversation_id = Some(first.conversation_id.clone());
    let second = submit(&cluster, second).await?;
    let escalated = routed_message(&backing, &second.message_id).await?;
    assert_eq!(escalated.action(), RouteAction::Escalate);
    let packet = escalated.handoff.expect("a hand-off packet");
    assert_eq!(packet.reason, "customer_asked");
    assert_eq!(packet.customer_messages, 2);
    assert_eq!(packet.sentiment_trend.len(), 2);
    assert_eq!(packet.article_ids, std::slice::from_ref(&article));
    assert_eq!(packet.bot_attempts, [format!("answered from article {article}")]);
    assert!(packet.entities.iter().any(|e| e.kind == "order_number" && e.value == "12345"), "{packet:?}");
    assert!(packet.summary.contains("First: \"Where is my order 12345?\""), "{}", packet.summary);

    // No article answers refunds: the first failure queues, the second escalates.
    let third = submit(&cluster, message("c-q", "How do I get a refund for a damaged lamp?", "q-1")).await?;
    let queued = routed_message(&backing, &third.message_id).await?;
    assert_eq!((queued.rule_action.as_str(), queued.action()), ("answer", RouteAction::Queue), "{queued:?}");
    assert_eq!(queued.handoff.as_ref().map(|p| p.reason.as_str()), Some("missing_knowledge"));
    let mut again = message("c-q", "Refund for the damaged lamp, please?", "q-2");
    again.conversation_id = Some(third.conversation_id.clone());
    let again = submit(&cluster, again).await?;
    let escalated = routed_message(&backing, &again.message_id).await?;
    assert_eq!(escalated.action(), RouteAction::Escalate, "{escalated:?}");
    assert!(escalated.reason.contains("failed twice"), "{}", escalated.reason);
    assert_eq!(escalated.handoff.map(|p| p.bot_attempts.len()), Some(2));
    cluster.stop().await
}

#[tokio::test]
async fn where_is_my_order_after_a_shipped_event_gets_the_tracking_answer() -> anyhow::Result<()> {
    use switchboard_proto::events::v1::{OrderStatus, OrderUpdated};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    for update in [
        OrderUpdated {
            order_id: "12345".into(),
            customer_id: "c-o".into(),
            status: OrderStatus::Placed.into(),
            ..Default::default()
        },
        OrderUpdated { order_id: "12345".into(), status: OrderStatus::Paid.into(), ..Default::default() },
        OrderUpdated {
            order_id: "12345".into(),
            status: OrderStatus::Shipped.into(),
            carrier: "DHL".into(),
            tracking_url: "https://track.example/JD0002".into(),
            ..Default::default()
        },
        OrderUpdated {
            order_id: "777".into(),
            customer_id: "someone-else".into(),
            status: OrderStatus::Delivered.into(),
            ..Default::default()
        },
    ] {
        let event = switchboard_bus::Draft::new(
            switchboard_bus::DEFAULT_TENANT,
            update.order_id.clone(),
            Body::OrderUpdated(update),
        )
        .build()?;
        bus.publish(&event).await?;
    }
    // Someone claiming to be c-o (a spoofed sender) is told nothing of c-o's orders.
    let spoofed = submit(&cluster, message("c-o", "Where is my order 12345?", "o-0")).await?;
    let told = routed_message(&backing, &spoofed.message_id).await?;
    assert!(!told.reason.contains("DHL") && !told.rule_action.is_empty(), "{told:?}");
    let events = common::events(&backing.bus().await?, "switchboard.events.reply.>").await?;
    let leaked = events.iter().any(|event| match &event.body {
        Some(Body::ReplyRequested(r)) => {
            r.conversation_id == spoofed.conversation_id && r.text.contains("DHL")
        }
        _ => false,
    });
    assert!(!leaked, "an unverified customer was told the order");

    let asked = submit(&cluster, verified_message("c-o", "Where is my order 12345?", "o-1")).await?;
    let reply = reply_to(&backing, &asked.message_id).await?;
    assert_eq!(reply, "Your order 12345 has shipped with DHL. Follow it here: https://track.example/JD0002.");

    let other = submit(&cluster, verified_message("c-o", "Where is my order 777?", "o-2")).await?;
    let decision = routed_message(&backing, &other.message_id).await?;
    let told = reply_to(&backing, &other.message_id).await?;
    assert!(
        told.starts_with("I can't find an order numbered 777.") && !told.contains("delivered"),
        "another customer's order is never told, only not found ({decision:?}): {told}"
    );
    cluster.stop().await
}

/// The text of the automated reply to a message.
async fn reply_to(backing: &Backing, message_id: &str) -> anyhow::Result<String> {
    let bus = backing.bus().await?;
    let decision = routed_message(backing, message_id).await?;
    anyhow::ensure!(decision.action() == RouteAction::AutoReply, "not answered: {decision:?}");
    let (text, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    Ok(text)
}

#[tokio::test]
async fn a_message_outside_business_hours_gets_the_after_hours_reply() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let (opens, rules) = closed_now_rules();
    router.publish_rules(PublishRulesRequest { text: rules, wait: true }).await?;
    let sent =
        submit(&cluster, message("c-night", "Can someone call me back about my contract?", "n-1")).await?;
    let decision = routed_message(&backing, &sent.message_id).await?;
    assert_eq!(decision.action(), RouteAction::Queue, "a human still takes it");
    assert_eq!(decision.tags, ["after-hours"]);
    assert!(decision.expected_response.is_some());
    let bus = backing.bus().await?;
    let (text, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == sent.message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    assert!(text.contains("We are closed right now"), "{text}");
    assert!(text.contains(&format!("{opens:02}:00 (UTC)")), "{text}");
    cluster.stop().await
}

const SOLAR: &str = r#"
playbooks:
  lead_qualification:
    queue: sales
    slots:
      - {name: monthly_kwh, question: "How many kWh of electricity do you use a month?", kind: number}
      - {name: roof, question: "Which way does your roof face: south, east, west or north?", kind: option, options: [south, east, west, north]}
rules:
  - name: ask-for-a-person
    when: {keywords: [human, person]}
    then: {action: escalate, queue: general, handoff: customer_asked}
  - name: solar-leads
    when: {keywords: [solar, panels]}
    then: {action: answer, playbook: lead_qualification, queue: sales}
  - name: everything-else
    then: {action: queue, queue: general}
"#;

#[tokio::test]
async fn a_lead_is_qualified_over_several_turns_and_routed_to_sales_with_the_answers() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: SOLAR.into(), wait: true }).await?;
    let first = submit(&cluster, message("c-lead", "I'd like a quote for solar panels", "l-1")).await?;
    assert!(reply_to(&backing, &first.message_id).await?.contains("kWh"));
    let next = |text: &str, key: &str| {
        let mut request = message("c-lead", text, key);
        request.conversation_id = Some(first.conversation_id.clone());
        request
    };
    let unclear = submit(&cluster, next("not sure, a lot", "l-2")).await?;
    assert!(reply_to(&backing, &unclear.message_id).await?.starts_with("Sorry, I need a number there."));
    let kwh = submit(&cluster, next("around 4,200 kWh", "l-3")).await?;
    assert!(reply_to(&backing, &kwh.message_id).await?.contains("roof"));
    let roof = submit(&cluster, next("It faces south", "l-4")).await?;
    let qualified = routed_message(&backing, &roof.message_id).await?;
    assert_eq!(
        (qualified.action(), qualified.queue.as_str()),
        (RouteAction::Queue, "sales"),
        "{qualified:?}"
    );
    assert!(qualified.tags.contains(&"qualified-lead".to_string()));
    assert_eq!(qualified.collected.get("monthly_kwh").map(String::as_str), Some("4200"));
    assert_eq!(qualified.collected.get("roof").map(String::as_str), Some("south"));
    assert!(qualified.handoff.is_some());
    let bus = backing.bus().await?;
    let (thanks, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == roof.message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    assert!(thanks.starts_with("Thank you"), "{thanks}");

    // A human exit at any turn ends the playbook.
    let other = submit(&cluster, message("c-lead2", "solar panels for my house?", "m-1")).await?;
    reply_to(&backing, &other.message_id).await?;
    let mut exit = message("c-lead2", "let me talk to a person", "m-2");
    exit.conversation_id = Some(other.conversation_id.clone());
    let exit = submit(&cluster, exit).await?;
    let escalated = routed_message(&backing, &exit.message_id).await?;
    assert_eq!(escalated.action(), RouteAction::Escalate);
    assert_eq!(escalated.handoff.map(|p| p.reason), Some("customer_asked".to_string()));
    cluster.stop().await
}

#[tokio::test]
async fn booking_offers_free_slots_and_confirms_one_that_nobody_else_can_take() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let rules = "calendars:\n  default: {timezone: UTC, hours: {mon-sun: \"00:00-24:00\"}}\n\
                 playbooks:\n  booking: {slot_minutes: 30, offer: 2, queue: bookings, what: a call}\n\
                 rules:\n  - name: book\n    when: {keywords: [appointment]}\n    then: {action: answer, playbook: booking, queue: bookings}\n\
                 \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let first = submit(&cluster, message("c-b1", "Can I get an appointment?", "b-1")).await?;
    let offer = reply_to(&backing, &first.message_id).await?;
    assert!(
        offer.starts_with("I can offer a call at:") && offer.contains("1) ") && offer.contains("2) "),
        "{offer}"
    );
    let second = submit(&cluster, message("c-b2", "I need an appointment too", "b-2")).await?;
    let other_offer = reply_to(&backing, &second.message_id).await?;
    let first_slot =
        offer.lines().nth(1).map(|line| line.trim_start_matches("1) ").to_string()).unwrap_or_default();
    // The slot the first customer books, as numbered in the second customer's offer.
    let same_number = other_offer
        .lines()
        .find(|line| line.ends_with(&first_slot))
        .and_then(|line| line.split(')').next())
        .map(str::to_string)
        .expect("both offers hold the first free slot");

    let mut pick = message("c-b1", "1 please", "b-3");
    pick.conversation_id = Some(first.conversation_id.clone());
    let pick = submit(&cluster, pick).await?;
    let booked = reply_to(&backing, &pick.message_id).await?;
    assert!(booked.starts_with("You are booked for a call on"), "{booked}");
    let decision = routed_message(&backing, &pick.message_id).await?;
    assert!(decision.collected.contains_key("booked"), "{decision:?}");

    // The second customer picks the same slot: taken, so a fresh offer without it.
    let mut same = message("c-b2", &same_number, "b-4");
    same.conversation_id = Some(second.conversation_id.clone());
    let same = submit(&cluster, same).await?;
    let fresh = reply_to(&backing, &same.message_id).await?;
    assert!(fresh.starts_with("I can offer") && !fresh.contains(&first_slot), "{fresh}");
    let bookings = common::events(&backing.bus().await?, "switchboard.events.booking.>").await?;
    assert_eq!(bookings.len(), 1);
    cluster.stop().await
}
