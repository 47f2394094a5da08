//! Working a conversation on the desk, on a real cluster: the desk's view (timeline with
//! classifications, the hand-off packet, the customer card, suggested articles), internal notes,
//! replies as the agent who holds it, and macros with versions.

mod common;

use std::collections::HashMap;

use common::{Api, Backing, Cluster, message, publish_tracking_article_with, wait_for_event};
use switchboard_auth::Role;
use switchboard_bus::Draft;
use switchboard_proto::{
    desk::v1::{
        AddNoteRequest, ClaimRequest, ConversationView, DeleteMacroRequest, EntryKind,
        GetConversationRequest, ListMacrosRequest, Macro, MacroActions, ReplyRequest, SaveMacroRequest,
        StatusChange, desk_client::DeskClient,
    },
    events::v1::{OrderStatus, OrderUpdated, event::Body},
    router::v1::{Customer, PutCustomerRequest, router_client::RouterClient},
};
use tonic::Code;

const TENANT: &str = "default";

async fn desk(cluster: &Cluster, role: Role, subject: &str) -> anyhow::Result<DeskClient<Api>> {
    Ok(DeskClient::new(cluster.channel_as(TENANT, role, subject).await?))
}

async fn view(desk: &mut DeskClient<Api>, id: &str, min_sequence: u64) -> anyhow::Result<ConversationView> {
    let request = GetConversationRequest { conversation_id: id.into(), min_sequence };
    Ok(desk.get_conversation(request).await?.into_inner())
}

/// Pat (a gold customer with order 12345 shipped) asks for a person; returns the conversation
/// id and the sequence of the routing decision.
async fn pat_asks_for_a_person(
    cluster: &Cluster,
    bus: &switchboard_bus::Bus,
) -> anyhow::Result<(String, u64)> {
    let mut router = RouterClient::new(cluster.channel().await?);
    let customer = Customer {
        customer_id: "pat".into(),
        tier: "gold".into(),
        attributes: HashMap::from([("name".to_string(), "Pat Lee".to_string())]),
        ..Customer::default()
    };
    router.put_customer(PutCustomerRequest { customer: Some(customer), wait: true }).await?;
    let order = OrderUpdated {
        order_id: "12345".into(),
        customer_id: "pat".into(),
        status: OrderStatus::Shipped.into(),
        carrier: "DHL".into(),
        ..OrderUpdated::default()
    };
    bus.publish(&Draft::new(TENANT, "12345", Body::OrderUpdated(order)).build()?).await?;
    let text = "Where is my order? I want to talk to a real person";
    let submitted = cluster.intake().await?.submit_message(message("pat", text, "pat-1")).await?.into_inner();
    let id = submitted.conversation_id;
    let (_, routed_at) = wait_for_event(bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(routed)) if routed.conversation_id == id => Some(()),
        _ => None,
    })
    .await?;
    Ok((id, routed_at))
}

#[tokio::test]
async fn an_agent_sees_the_whole_conversation_notes_it_and_replies_once_they_hold_it() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    publish_tracking_article_with(&cluster).await?;
    let (id, routed_at) = pat_asks_for_a_person(&cluster, &bus).await?;
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;

    let seen = view(&mut ana, &id, routed_at).await?;
    let customer = &seen.entries[0];
    assert_eq!((customer.kind(), customer.author.as_str()), (EntryKind::Customer, "customer:pat"));
    let classified = customer.classification.as_ref().expect("classified before it was routed");
    assert!(!classified.intent.is_empty() && !classified.language.is_empty(), "{classified:?}");
    assert!(
        seen.entries.iter().any(|e| e.kind() == EntryKind::Event && e.event == "routed"),
        "{:?}",
        seen.entries
    );
    let routing = seen.routing.as_ref().expect("the hand-off decision");
    assert_eq!(routing.rule, "customer-asks-for-a-human");
    assert!(seen.handoff.as_ref().is_some_and(|packet| !packet.reason.is_empty()), "{:?}", seen.handoff);
    let card = seen.customer.as_ref().expect("a customer card");
    assert_eq!((card.name.as_str(), card.tier.as_str(), card.verified), ("Pat Lee", "gold", false));
    assert_eq!(card.orders.len(), 1);
    assert_eq!((card.orders[0].order_id.as_str(), card.orders[0].status.as_str()), ("12345", "shipped"));
    assert_eq!(
        seen.suggestions.first().map(|s| s.article_id.as_str()),
        Some("track-your-order"),
        "{:?}",
        seen.suggestions
    );

    // A note is for people: on the timeline, never requested as a reply.
    let noted = ana
        .add_note(AddNoteRequest { conversation_id: id.clone(), text: "Gold customer, be quick".into() })
        .await?;
    let noted = noted.into_inner();
    let seen = view(&mut ana, &id, noted.sequence).await?;
    let note = seen.entries.iter().find(|e| e.kind() == EntryKind::Note).expect("the note");
    assert_eq!((note.author.as_str(), note.text.as_str()), ("agent:ana", "Gold customer, be quick"));
    let empty = AddNoteRequest { conversation_id: id.clone(), text: " ".into() };
    assert_eq!(ana.add_note(empty).await.expect_err("empty").code(), Code::InvalidArgument);

    // Bob holds it: Ana may not answer, Bob may, once per key.
    let mut bob = desk(&cluster, Role::Agent, "bob").await?;
    let claimed = bob.claim(ClaimRequest { conversation_id: id.clone() }).await?.into_inner();
    let reply = |text: &str| ReplyRequest {
        conversation_id: id.clone(),
        text: text.into(),
        idempotency_key: "r-1".into(),
        ..ReplyRequest::default()
    };
    view(&mut ana, &id, claimed.sequence).await?;
    let refused = ana.reply(reply("Hello from Ana")).await.expect_err("Bob holds it");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("\"bob\""), "{refused:?}");
    let sent = bob.reply(reply("Hi Pat, your parcel is with DHL.")).await?.into_inner();
    let again = bob.reply(reply("Hi Pat, your parcel is with DHL.")).await?.into_inner();
    assert_eq!(sent.reply_id, again.reply_id, "one reply per key");
    let (author, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.reply_id == sent.reply_id => Some(r.author.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(author, "agent:bob");
    let seen = view(&mut bob, &id, sent.sequence).await?;
    let answer = seen.entries.iter().find(|e| e.kind() == EntryKind::Agent).expect("Bob's reply");
    assert_eq!((answer.author.as_str(), answer.id.as_str()), ("agent:bob", sent.reply_id.as_str()));

    // Another tenant's agent finds nothing.
    let mut stranger = DeskClient::new(cluster.channel_as("globex", Role::Agent, "ana").await?);
    let hidden =
        stranger.get_conversation(GetConversationRequest { conversation_id: id.clone(), min_sequence: 0 });
    assert_eq!(hidden.await.expect_err("not theirs").code(), Code::NotFound);
    cluster.stop().await
}

fn shipping_macro() -> Macro {
    Macro {
        macro_id: "shipping-update".into(),
        name: "Shipping update".into(),
        texts: HashMap::from([
            ("en".to_string(), "Hi {{customer_name}}, order {{order_id}} is on its way.".to_string()),
            ("zh-Hant".to_string(), "{{customer_name}} 您好，訂單 {{order_id}} 已寄出。".to_string()),
        ]),
        default_locale: "en".into(),
        actions: Some(MacroActions { status: StatusChange::Pending.into(), ..MacroActions::default() }),
        ..Macro::default()
    }
}

#[tokio::test]
async fn supervisors_keep_macros_with_versions_and_agents_list_them() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut sue = desk(&cluster, Role::Supervisor, "sue").await?;
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let save = |m: Macro, expected_version: u32| SaveMacroRequest { r#macro: Some(m), expected_version };

    let denied = ana.save_macro(save(shipping_macro(), 0)).await.expect_err("agents do not edit macros");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let first = sue.save_macro(save(shipping_macro(), 0)).await?.into_inner();
    assert_eq!((first.version, first.updated_by.as_str()), (1, "sue"));
    let stale = sue.save_macro(save(shipping_macro(), 0)).await.expect_err("edited from version 0");
    assert_eq!(stale.code(), Code::FailedPrecondition);
    assert!(stale.message().contains("at version 1"), "{stale:?}");
    let renamed = Macro { name: "Order shipped".into(), ..shipping_macro() };
    assert_eq!(sue.save_macro(save(renamed, 1)).await?.into_inner().version, 2);
    let unknown = Macro {
        texts: HashMap::from([("en".to_string(), "Hi {{nickname}}".to_string())]),
        ..shipping_macro()
    };
    let refused = sue.save_macro(save(unknown, 2)).await.expect_err("unknown placeholder");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("{{nickname}}"), "{refused:?}");

    // Agents list them (the projection follows the stream).
    let listed = tokio::time::timeout(common::WAIT, async {
        loop {
            let macros =
                ana.list_macros(ListMacrosRequest { language: "zh-TW".into() }).await?.into_inner().macros;
            if macros.first().is_some_and(|m| m.version == 2) {
                return anyhow::Ok(macros);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await??;
    assert_eq!((listed[0].name.as_str(), listed[0].texts.len()), ("Order shipped", 2));
    let german = ana.list_macros(ListMacrosRequest { language: "de".into() }).await?.into_inner().macros;
    assert!(german.is_empty(), "no German text: {german:?}");

    let delete = || DeleteMacroRequest { macro_id: "shipping-update".into() };
    sue.delete_macro(delete()).await?;
    assert_eq!(sue.delete_macro(delete()).await.expect_err("gone").code(), Code::NotFound);
    // A deleted macro's id starts again from version 0, its versions still counting.
    assert_eq!(sue.save_macro(save(shipping_macro(), 0)).await?.into_inner().version, 4);

    // Another tenant's macro of the same id is its own: its versions start at 1, and each
    // tenant's agents list only their own.
    let mut gus = DeskClient::new(cluster.channel_as("globex", Role::Supervisor, "gus").await?);
    let theirs = Macro { name: "Globex shipping".into(), ..shipping_macro() };
    assert_eq!(gus.save_macro(save(theirs, 0)).await?.into_inner().version, 1);
    let mut gil = DeskClient::new(cluster.channel_as("globex", Role::Agent, "gil").await?);
    let listed_by = |language: &str| ListMacrosRequest { language: language.into() };
    let names = |macros: Vec<Macro>| macros.into_iter().map(|m| (m.name, m.version)).collect::<Vec<_>>();
    let globex_names = tokio::time::timeout(common::WAIT, async {
        loop {
            let macros = gil.list_macros(listed_by("en")).await?.into_inner().macros;
            if !macros.is_empty() {
                return anyhow::Ok(names(macros));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await??;
    assert_eq!(globex_names, [("Globex shipping".to_string(), 1)]);
    let ours = names(ana.list_macros(listed_by("en")).await?.into_inner().macros);
    assert!(ours.iter().all(|(name, _)| name != "Globex shipping"), "{ours:?}");
    cluster.stop().await
}

/// The next change on `stream`, within the wait.
async fn next_change(
    stream: &mut tonic::Streaming<switchboard_proto::desk::v1::InboxChange>,
) -> anyhow::Result<switchboard_proto::desk::v1::InboxChange> {
    let change = tokio::time::timeout(common::WAIT, stream.message()).await??;
    change.ok_or_else(|| anyhow::anyhow!("the inbox stream ended"))
}

/// The first change on `stream` that `wanted` accepts, within the wait. Other row changes may come
/// between (a hand-off's SLA timers or priority land as UPDATED in their own moment); each one
/// skipped must still be an UPDATED of `conversation`.
async fn change_where(
    stream: &mut tonic::Streaming<switchboard_proto::desk::v1::InboxChange>,
    conversation: &str,
    wanted: impl Fn(&switchboard_proto::desk::v1::InboxChange) -> bool,
) -> anyhow::Result<switchboard_proto::desk::v1::InboxChange> {
    use switchboard_proto::desk::v1::ChangeKind;
    loop {
        let change = next_change(stream).await?;
        if wanted(&change) {
            return Ok(change);
        }
        let id = change.conversation.as_ref().map(|c| c.conversation_id.as_str());
        anyhow::ensure!(
            change.kind() == ChangeKind::Updated && id == Some(conversation),
            "unexpected change before the awaited one: {change:?}"
        );
    }
}

#[tokio::test]
async fn the_inbox_streams_changes_as_they_happen_and_resumes_after_a_reconnect() -> anyhow::Result<()> {
    use switchboard_proto::desk::v1::{ChangeKind, WatchInboxRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let mut bob = desk(&cluster, Role::Agent, "bob").await?;
    let mut anas = ana.watch_inbox(WatchInboxRequest { after_sequence: 0 }).await?.into_inner();
    let mut bobs = bob.watch_inbox(WatchInboxRequest { after_sequence: 0 }).await?.into_inner();

    let (id, _) = pat_asks_for_a_person(&cluster, &bus).await?;
    let new = next_change(&mut anas).await?;
    assert_eq!(
        (new.kind(), new.conversation.as_ref().map(|c| c.conversation_id.as_str())),
        (ChangeKind::New, Some(id.as_str()))
    );
    assert_eq!(next_change(&mut bobs).await?.kind(), ChangeKind::New);

    bob.claim(ClaimRequest { conversation_id: id.clone() }).await?;
    change_where(&mut bobs, &id, |c| c.kind() == ChangeKind::AssignedToMe).await?;
    let by_bob = |c: &switchboard_proto::desk::v1::InboxChange| {
        c.conversation.as_ref().is_some_and(|c| c.assignee == "bob")
    };
    let taken = change_where(&mut anas, &id, by_bob).await?;
    assert_eq!(taken.kind(), ChangeKind::Updated, "it left Ana's unassigned view");

    // Ana goes away; Pat writes again; Ana comes back from where she was.
    drop(anas);
    let mut again = message("pat", "Hello? Anyone there?", "pat-2");
    again.conversation_id = Some(id.clone());
    cluster.intake().await?.submit_message(again).await?;
    let replied = change_where(&mut bobs, &id, |c| c.kind() == ChangeKind::CustomerReplied).await?;
    assert!(replied.conversation.as_ref().is_some_and(|c| c.preview == "Hello? Anyone there?"));
    let mut resumed =
        ana.watch_inbox(WatchInboxRequest { after_sequence: taken.sequence }).await?.into_inner();
    // A row is sent as it stands after its latest change: the SLA events that follow Pat's
    // message may already be in it, so the update may carry a later sequence.
    let missed = change_where(&mut resumed, &id, |c| c.sequence >= replied.sequence).await?;
    assert_eq!(missed.kind(), ChangeKind::Updated, "Bob's customer, for Ana");
    assert!(missed.conversation.as_ref().is_some_and(|c| c.preview == "Hello? Anyone there?"), "{missed:?}");
    cluster.stop().await
}

#[tokio::test]
async fn a_macro_answers_in_the_customer_s_language_with_their_name_and_order() -> anyhow::Result<()> {
    use switchboard_proto::desk::v1::ApplyMacroRequest;
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let customer = Customer {
        customer_id: "mei".into(),
        attributes: HashMap::from([("name".to_string(), "陳美".to_string())]),
        ..Customer::default()
    };
    router.put_customer(PutCustomerRequest { customer: Some(customer), wait: true }).await?;
    let text = "我想找真人客服，我的訂單 12345 到底在哪裡？";
    let id = cluster
        .intake()
        .await?
        .submit_message(message("mei", text, "mei-1"))
        .await?
        .into_inner()
        .conversation_id;
    let (language, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(routed)) if routed.conversation_id == id => Some(routed.language.clone()),
        _ => None,
    })
    .await?;
    assert!(language.starts_with("zh"), "{language}");

    let mut sue = desk(&cluster, Role::Supervisor, "sue").await?;
    sue.save_macro(SaveMacroRequest { r#macro: Some(shipping_macro()), expected_version: 0 }).await?;
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let claimed = ana.claim(ClaimRequest { conversation_id: id.clone() }).await?.into_inner();
    view(&mut ana, &id, claimed.sequence).await?;
    let apply = ApplyMacroRequest {
        conversation_id: id.clone(),
        macro_id: "shipping-update".into(),
        idempotency_key: "k-1".into(),
        ..ApplyMacroRequest::default()
    };
    let applied = tokio::time::timeout(common::WAIT, async {
        loop {
            match ana.apply_macro(apply.clone()).await {
                Ok(applied) => return anyhow::Ok(applied.into_inner()),
                // The desk has not projected the new macro yet.
                Err(status) if status.code() == Code::NotFound => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await
                }
                Err(status) => anyhow::bail!("{status:?}"),
            }
        }
    })
    .await??;
    assert_eq!(applied.locale, "zh-Hant");
    assert_eq!(applied.text, "陳美 您好，訂單 12345 已寄出。");
    let (sent, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.reply_id == applied.reply_id => {
            Some((r.text.clone(), r.author.clone()))
        }
        _ => None,
    })
    .await?;
    assert_eq!(sent, (applied.text.clone(), "agent:ana".to_string()));

    // A placeholder the conversation cannot fill refuses to send a reply with a hole in it.
    let needs_a_link = Macro {
        macro_id: "see-article".into(),
        name: "See the article".into(),
        texts: HashMap::from([("en".to_string(), "Please read {{article_link}}".to_string())]),
        ..Macro::default()
    };
    sue.save_macro(SaveMacroRequest { r#macro: Some(needs_a_link), expected_version: 0 }).await?;
    let link = ApplyMacroRequest { macro_id: "see-article".into(), idempotency_key: "k-2".into(), ..apply };
    let refused = loop {
        match ana.apply_macro(link.clone()).await {
            Err(status) if status.code() == Code::NotFound => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            other => break other.expect_err("no article link configured"),
        }
    };
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("{{article_link}}"), "{refused:?}");
    cluster.stop().await
}

#[tokio::test]
async fn a_conversation_only_the_bot_handled_is_closed_as_the_bot_s_once_quiet() -> anyhow::Result<()> {
    use switchboard_proto::desk::v1::ConversationStatus;
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.bot_idle_close = Some(std::time::Duration::from_secs(1));
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;
    publish_tracking_article_with(&cluster).await?;
    let answered =
        cluster.intake().await?.submit_message(message("lee", "Where is my order?", "lee-1")).await?;
    let id = answered.into_inner().conversation_id;
    let (closed, at) =
        wait_for_event(&bus, "switchboard.events.conversation-lifecycle.>", |event| match &event.body {
            Some(Body::ConversationClosed(closed)) if closed.conversation_id == id => Some(closed.clone()),
            _ => None,
        })
        .await?;
    assert_eq!((closed.reason.as_str(), closed.handled_by.as_str()), ("idle", "bot"));
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let seen = view(&mut ana, &id, at).await?;
    assert_eq!(seen.conversation.as_ref().map(|c| c.status()), Some(ConversationStatus::Resolved));
    assert!(seen.entries.iter().any(|e| e.event == "resolved" && e.text == "idle"), "{:?}", seen.entries);
    cluster.stop().await
}

#[tokio::test]
async fn a_person_sets_a_conversation_pending_open_resolved_and_reopened() -> anyhow::Result<()> {
    use switchboard_proto::desk::v1::{ConversationStatus, SetStatusRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let (id, _) = pat_asks_for_a_person(&cluster, &bus).await?;
    let mut bob = desk(&cluster, Role::Agent, "bob").await?;
    let claimed = bob.claim(ClaimRequest { conversation_id: id.clone() }).await?.into_inner();
    view(&mut bob, &id, claimed.sequence).await?;
    let set = |status: StatusChange| SetStatusRequest {
        conversation_id: id.clone(),
        status: status.into(),
        reason: String::new(),
    };
    let status_of = |seen: &ConversationView| seen.conversation.as_ref().map(|c| c.status());

    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let refused = ana.set_status(set(StatusChange::Resolved)).await.expect_err("Bob holds it");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let unknown = bob.set_status(set(StatusChange::Unspecified)).await.expect_err("no status");
    assert_eq!(unknown.code(), Code::InvalidArgument);

    let pending = bob.set_status(set(StatusChange::Pending)).await?.into_inner();
    assert_eq!(pending.status(), ConversationStatus::Pending);
    assert_eq!(status_of(&view(&mut bob, &id, pending.sequence).await?), Some(ConversationStatus::Pending));
    let open = bob.set_status(set(StatusChange::Open)).await?.into_inner();
    assert_eq!(status_of(&view(&mut bob, &id, open.sequence).await?), Some(ConversationStatus::Assigned));

    let resolved = bob.set_status(set(StatusChange::Resolved)).await?.into_inner();
    assert_eq!(resolved.status(), ConversationStatus::Resolved);
    let (closed, _) =
        wait_for_event(&bus, "switchboard.events.conversation-lifecycle.>", |event| match &event.body {
            Some(Body::ConversationClosed(closed)) if closed.conversation_id == id => Some(closed.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(closed.handled_by, "human");
    let seen = view(&mut bob, &id, resolved.sequence).await?;
    assert_eq!(status_of(&seen), Some(ConversationStatus::Resolved));
    assert_eq!(
        bob.set_status(set(StatusChange::Pending)).await.expect_err("resolved").code(),
        Code::FailedPrecondition
    );

    let reopened = ana.set_status(set(StatusChange::Reopened)).await?.into_inner();
    let seen = view(&mut ana, &id, reopened.sequence).await?;
    assert_eq!(status_of(&seen), Some(ConversationStatus::Escalated), "back in the queue, nobody holds it");
    assert!(seen.entries.iter().any(|e| e.event == "reopened"), "{:?}", seen.entries);
    let again = ana.claim(ClaimRequest { conversation_id: id.clone() }).await?.into_inner();
    assert_eq!(again.agent_id, "ana", "a reopened conversation can be claimed anew");
    cluster.stop().await
}
