//! The router with two tenants, acme and globex, on one cluster, using the same customer ids,
//! order numbers, conversation ids, return ids and agent ids: each tenant's calls see and change
//! only its own data, each tenant's messages are decided by its own rules and read models and
//! assigned to its own agents, and the default tenant routes as before.

mod common;

use common::{Api, Backing, Cluster, message, submit, wait_for_event};
use switchboard_auth::Role;
use switchboard_bus::{Bus, Draft};
use switchboard_proto::{
    desk::v1::{AgentActivity, DecideReturnRequest, RecordAgentActivityRequest, desk_client::DeskClient},
    events::v1::{
        AgentUpdated, Channel, MessageReceived, MessageRouted, OrderStatus, OrderUpdated, RouteAction,
        event::Body,
    },
    router::v1::{
        Customer, EvaluateRequest, GetCustomerRequest, ListRulesRequest, PublishRulesRequest,
        PutCustomerRequest, router_client::RouterClient,
    },
};
use tonic::Code;

type Router = RouterClient<Api>;
type Desk = DeskClient<Api>;

/// Order questions are answered from the order; gold customers and everything else queue.
const ACME_RULES: &str = r#"
rules:
  - name: order-status
    when: {intents: [order_status]}
    then: {action: answer, playbook: order_status, queue: orders}
  - name: gold-customers
    when: {customer: {tier: [gold]}}
    then: {action: queue, queue: gold-desk, tags: [acme-rules]}
  - name: everything-else
    then: {action: queue, queue: desk, tags: [acme-rules], assign: round_robin}
"#;

/// The same names, but everything else escalates.
const GLOBEX_RULES: &str = r#"
rules:
  - name: order-status
    when: {intents: [order_status]}
    then: {action: answer, playbook: order_status, queue: orders}
  - name: gold-customers
    when: {customer: {tier: [gold]}}
    then: {action: queue, queue: gold-desk, tags: [globex-rules]}
  - name: everything-else
    then: {action: escalate, queue: desk, tags: [globex-rules], assign: round_robin}
"#;

/// One cluster, and an admin of each tenant.
struct World {
    /// The servers; they live as long as the world.
    _backing: Backing,
    cluster: Cluster,
    bus: Bus,
    acme: Router,
    globex: Router,
    default: Router,
}

impl World {
    async fn start() -> anyhow::Result<Self> {
        let backing = Backing::start().await?;
        let cluster = Cluster::start(backing.config()).await?;
        let bus = backing.bus().await?;
        let acme = admin(&cluster, "acme").await?;
        let globex = admin(&cluster, "globex").await?;
        let default = admin(&cluster, switchboard_bus::DEFAULT_TENANT).await?;
        Ok(Self { _backing: backing, cluster, bus, acme, globex, default })
    }

    /// The desk as `tenant`'s agent.
    async fn as_agent(&self, tenant: &str, agent: &str) -> anyhow::Result<Desk> {
        Ok(DeskClient::new(self.cluster.channel_as(tenant, Role::Agent, agent).await?))
    }

    /// The desk as `tenant`'s admin.
    async fn desk(&self, tenant: &str) -> anyhow::Result<Desk> {
        let admin = format!("{tenant}-admin");
        Ok(DeskClient::new(self.cluster.channel_as(tenant, Role::Admin, &admin).await?))
    }

    /// A customer's message of `tenant` as intake publishes it.
    async fn receive(
        &self,
        tenant: &str,
        conversation_id: &str,
        message_id: &str,
        customer_id: &str,
        text: &str,
    ) -> anyhow::Result<()> {
        let received = MessageReceived {
            conversation_id: conversation_id.into(),
            message_id: message_id.into(),
            customer_id: customer_id.into(),
            channel: Channel::Web.into(),
            text: text.into(),
            idempotency_key: message_id.into(),
            starts_conversation: true,
            customer_verified: true,
            ..MessageReceived::default()
        };
        let event = Draft::new(tenant, conversation_id, Body::MessageReceived(received)).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }

    /// The decision on `tenant`'s message (read from the tenant's own subjects).
    async fn routed(&self, tenant: &str, message_id: &str) -> anyhow::Result<MessageRouted> {
        let filter = format!("switchboard.events.routing.{tenant}.>");
        let (routed, _) = wait_for_event(&self.bus, &filter, |event| match &event.body {
            Some(Body::MessageRouted(r)) if r.message_id == message_id => Some(r.clone()),
            _ => None,
        })
        .await?;
        Ok(routed)
    }

    /// The bot's reply to `tenant`'s message.
    async fn reply(&self, tenant: &str, message_id: &str) -> anyhow::Result<String> {
        let filter = format!("switchboard.events.reply.{tenant}.>");
        let (text, _) = wait_for_event(&self.bus, &filter, |event| match &event.body {
            Some(Body::ReplyRequested(r)) if r.in_reply_to == message_id => Some(r.text.clone()),
            _ => None,
        })
        .await?;
        Ok(text)
    }

    /// The agent `tenant`'s conversation was assigned to.
    async fn assigned(&self, tenant: &str, conversation_id: &str) -> anyhow::Result<String> {
        let filter = format!("switchboard.events.agent-load.{tenant}.>");
        let (agent, _) = wait_for_event(&self.bus, &filter, |event| match &event.body {
            Some(Body::ConversationAssigned(a)) if a.conversation_id == conversation_id => {
                Some(a.agent_id.clone())
            }
            _ => None,
        })
        .await?;
        Ok(agent)
    }

    async fn publish_order(&self, tenant: &str, update: OrderUpdated) -> anyhow::Result<()> {
        let event = Draft::new(tenant, update.order_id.clone(), Body::OrderUpdated(update)).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }
}

async fn admin(cluster: &Cluster, tenant: &str) -> anyhow::Result<Router> {
    Ok(RouterClient::new(cluster.channel_as(tenant, Role::Admin, &format!("{tenant}-admin")).await?))
}

fn customer(id: &str, tier: &str) -> PutCustomerRequest {
    PutCustomerRequest {
        customer: Some(Customer { customer_id: id.into(), tier: tier.into(), ..Customer::default() }),
        wait: true,
    }
}

fn agent(id: &str) -> AgentUpdated {
    AgentUpdated {
        agent_id: id.into(),
        available: true,
        queues: vec!["desk".into()],
        languages: vec![],
        skills: vec![],
        capacity: [("web".to_string(), 5)].into(),
    }
}

fn activity(conversation_id: &str, activity: AgentActivity) -> RecordAgentActivityRequest {
    RecordAgentActivityRequest { conversation_id: conversation_id.into(), activity: activity.into() }
}

#[tokio::test]
async fn two_tenants_with_the_same_ids_each_see_change_and_route_only_their_own() -> anyhow::Result<()> {
    let mut world = World::start().await?;
    each_tenant_publishes_and_lists_its_own_rules(&mut world).await?;
    customers_of_one_id_are_two_customers_and_each_tenants_rules_read_its_own(&mut world).await?;
    an_order_number_of_two_tenants_is_told_to_each_tenants_customer_as_its_own(&world).await?;
    messages_route_by_their_tenants_rules_and_go_only_to_their_tenants_agents(&mut world).await?;
    a_return_is_decided_only_by_its_own_tenant(&mut world).await?;
    the_default_tenant_routes_by_the_configured_rules_as_before(&mut world).await?;
    world.cluster.stop().await
}

/// Given acme and globex publishing different rule sets, when each lists the rules in force,
/// then each sees its own version 1, the default tenant still has the built-in rules, and a
/// tenant that published nothing is routed by the configured (built-in) rules.
async fn each_tenant_publishes_and_lists_its_own_rules(world: &mut World) -> anyhow::Result<()> {
    for (router, text) in [(&mut world.acme, ACME_RULES), (&mut world.globex, GLOBEX_RULES)] {
        let published = router.publish_rules(PublishRulesRequest { text: text.into(), wait: true }).await?;
        assert_eq!(published.into_inner().version, 1, "each tenant's first version");
    }
    let acme = world.acme.list_rules(ListRulesRequest {}).await?.into_inner();
    let globex = world.globex.list_rules(ListRulesRequest {}).await?.into_inner();
    assert_eq!((acme.version, acme.text.as_str(), acme.source.as_str()), (1, ACME_RULES, "grpc"));
    assert_eq!((globex.version, globex.text.as_str()), (1, GLOBEX_RULES));
    let default = world.default.list_rules(ListRulesRequest {}).await?.into_inner();
    assert_eq!((default.version, default.source.as_str()), (1, "builtin"), "untouched by acme and globex");
    let mut initech = admin(&world.cluster, "initech").await?;
    let unpublished = initech.list_rules(ListRulesRequest {}).await?.into_inner();
    assert_eq!((unpublished.version, unpublished.source.as_str()), (0, "builtin"));
    assert_eq!(unpublished.rules.len(), default.rules.len());
    Ok(())
}

/// Given customer c-1 gold at acme and bronze at globex, when each tenant reads and evaluates
/// c-1, then each sees its own profile, the default tenant has no c-1, a customer of one tenant
/// is not found by the other, and each tenant's rules read its own c-1's tier.
async fn customers_of_one_id_are_two_customers_and_each_tenants_rules_read_its_own(
    world: &mut World,
) -> anyhow::Result<()> {
    world.acme.put_customer(customer("c-1", "gold")).await?;
    world.globex.put_customer(customer("c-1", "bronze")).await?;
    world.acme.put_customer(customer("only-acme", "gold")).await?;
    let get = |id: &str| GetCustomerRequest { customer_id: id.into() };
    assert_eq!(world.acme.get_customer(get("c-1")).await?.into_inner().tier, "gold");
    assert_eq!(world.globex.get_customer(get("c-1")).await?.into_inner().tier, "bronze");
    let missing = world.default.get_customer(get("c-1")).await.expect_err("not the default tenant's");
    assert_eq!(missing.code(), Code::NotFound);
    let missing = world.globex.get_customer(get("only-acme")).await.expect_err("acme's customer");
    assert_eq!(missing.code(), Code::NotFound);

    let evaluate = || EvaluateRequest {
        customer_id: "c-1".into(),
        text: "hello there".into(),
        ..EvaluateRequest::default()
    };
    let acme = world.acme.evaluate(evaluate()).await?.into_inner();
    assert_eq!((acme.queue.as_str(), acme.tags.as_slice()), ("gold-desk", &["acme-rules".to_string()][..]));
    assert_eq!(acme.inputs.get("customer.tier").map(String::as_str), Some("gold"));
    let globex = world.globex.evaluate(evaluate()).await?.into_inner();
    assert_eq!(
        (globex.rule.map(|r| r.name), globex.action.as_str(), globex.queue.as_str()),
        (Some("everything-else".into()), "escalate", "desk"),
        "globex's c-1 is bronze, whatever acme's c-1 is"
    );
    Ok(())
}

/// Given order 1001 of each tenant's c-1 (shipped at acme, paid at globex), when each tenant's
/// verified c-1 asks where order 1001 is, then each is told its own order's status.
async fn an_order_number_of_two_tenants_is_told_to_each_tenants_customer_as_its_own(
    world: &World,
) -> anyhow::Result<()> {
    let shipped = OrderUpdated {
        order_id: "1001".into(),
        customer_id: "c-1".into(),
        status: OrderStatus::Shipped.into(),
        carrier: "DHL".into(),
        tracking_url: "https://track.example/acme-1001".into(),
        ..OrderUpdated::default()
    };
    world.publish_order("acme", shipped).await?;
    let paid = OrderUpdated {
        order_id: "1001".into(),
        customer_id: "c-1".into(),
        status: OrderStatus::Paid.into(),
        ..OrderUpdated::default()
    };
    world.publish_order("globex", paid).await?;

    world.receive("acme", "conv-1", "m-acme-1", "c-1", "Where is my order 1001?").await?;
    world.receive("globex", "conv-1", "m-globex-1", "c-1", "Where is my order 1001?").await?;
    assert_eq!(
        world.reply("acme", "m-acme-1").await?,
        "Your order 1001 has shipped with DHL. Follow it here: https://track.example/acme-1001."
    );
    assert_eq!(
        world.reply("globex", "m-globex-1").await?,
        "Your order 1001 is paid and being prepared for shipping."
    );
    Ok(())
}

/// Given an agent ana at acme only, when a globex conversation and then an acme conversation of
/// the same id wait for an agent, then acme's goes to acme's ana and globex's waits until
/// globex has an ana of its own; an acme agent cannot touch a globex-only conversation, and
/// resolving acme's conversation leaves globex's of the same id held.
async fn messages_route_by_their_tenants_rules_and_go_only_to_their_tenants_agents(
    world: &mut World,
) -> anyhow::Result<()> {
    world.desk("acme").await?.put_agent(agent("ana")).await?;
    world.receive("globex", "conv-2", "m-globex-2", "c-2", "I have a question about my invoice").await?;
    let globex = world.routed("globex", "m-globex-2").await?;
    assert_eq!(
        (globex.rule.as_str(), globex.action(), globex.tags.as_slice()),
        ("everything-else", RouteAction::Escalate, &["globex-rules".to_string()][..])
    );
    world.receive("acme", "conv-2", "m-acme-2", "c-2", "I have a question about my invoice").await?;
    let acme = world.routed("acme", "m-acme-2").await?;
    assert_eq!(
        (acme.rule.as_str(), acme.action(), acme.tags.as_slice()),
        ("everything-else", RouteAction::Queue, &["acme-rules".to_string()][..])
    );
    assert_eq!(world.assigned("acme", "conv-2").await?, "ana");
    // Globex's conv-2 waited first, with acme's ana free all along: she was never offered it.
    let globex_load = common::events(&world.bus, "switchboard.events.agent-load.globex.>").await?;
    assert!(globex_load.is_empty(), "globex's conversation went to an acme agent: {globex_load:?}");

    world.desk("globex").await?.put_agent(agent("ana")).await?;
    assert_eq!(world.assigned("globex", "conv-2").await?, "ana", "globex's own ana");

    world.receive("globex", "conv-globex", "m-globex-3", "c-3", "Anyone there?").await?;
    world.routed("globex", "m-globex-3").await?;
    let mut acme_ana = world.as_agent("acme", "ana").await?;
    let foreign = acme_ana
        .record_agent_activity(activity("conv-globex", AgentActivity::Resolved))
        .await
        .expect_err("globex's conversation");
    assert_eq!(foreign.code(), Code::NotFound, "never told it exists");

    acme_ana.record_agent_activity(activity("conv-2", AgentActivity::Resolved)).await?;
    let (closed, _) =
        wait_for_event(&world.bus, "switchboard.events.conversation-lifecycle.acme.>", |event| match &event
            .body
        {
            Some(Body::ConversationClosed(c)) if c.conversation_id == "conv-2" => Some(c.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(closed.customer_id, "c-2");
    let globex_closed =
        common::events(&world.bus, "switchboard.events.conversation-lifecycle.globex.>").await?;
    assert!(globex_closed.is_empty(), "acme's resolution closed globex's conv-2: {globex_closed:?}");
    let released = common::events(&world.bus, "switchboard.events.agent-load.globex.>").await?;
    let globex_released =
        released.iter().any(|event| matches!(event.body, Some(Body::ConversationReleased(_))));
    assert!(!globex_released, "globex's ana still holds globex's conv-2");
    let mut globex_ben = world.as_agent("globex", "ben").await?;
    let theirs = globex_ben
        .record_agent_activity(activity("conv-2", AgentActivity::Resolved))
        .await
        .expect_err("held by globex's ana");
    assert_eq!(theirs.code(), Code::PermissionDenied, "acme's ana freed nothing of globex's");
    Ok(())
}

/// Given a return R-1 opened at acme, when globex decides R-1, then it is not found; acme's
/// approval goes through and its warehouse notice is acme's.
async fn a_return_is_decided_only_by_its_own_tenant(world: &mut World) -> anyhow::Result<()> {
    use switchboard_proto::events::v1::ReturnOpened;
    let opened = ReturnOpened {
        return_id: "R-1".into(),
        order_id: "1001".into(),
        customer_id: "c-1".into(),
        conversation_id: "conv-1".into(),
        message_id: "m-acme-1".into(),
        channel: Channel::Web.into(),
        reason: "too small".into(),
        ..ReturnOpened::default()
    };
    world.bus.publish(&Draft::new("acme", "R-1", Body::ReturnOpened(opened)).build()?).await?;
    let approve = DecideReturnRequest {
        return_id: "R-1".into(),
        approve: true,
        approver: "lead".into(),
        ..DecideReturnRequest::default()
    };
    let refused =
        world.desk("globex").await?.decide_return(approve.clone()).await.expect_err("acme's return");
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(world.desk("acme").await?.decide_return(approve).await?.into_inner().status, "approved");
    let (notice, _) =
        wait_for_event(&world.bus, "switchboard.events.notification.acme.>", |event| match &event.body {
            Some(Body::NotificationRequested(n)) if n.text.contains("R-1") => Some(n.clone()),
            _ => None,
        })
        .await?;
    assert!(notice.text.contains("order 1001"), "{notice:?}");
    let globex_returns = common::events(&world.bus, "switchboard.events.return.globex.>").await?;
    assert!(globex_returns.is_empty(), "nothing decided for globex: {globex_returns:?}");
    Ok(())
}

/// Given acme's and globex's rules, customers and orders, when the default tenant's customer
/// c-1 asks about an invoice through intake, then the built-in rules decide as before.
async fn the_default_tenant_routes_by_the_configured_rules_as_before(
    world: &mut World,
) -> anyhow::Result<()> {
    let sent =
        submit(&world.cluster, message("c-1", "I need a copy of my invoice for last month", "default-1"))
            .await?;
    let decision = world.routed(switchboard_bus::DEFAULT_TENANT, &sent.message_id).await?;
    assert_eq!((decision.queue.as_str(), decision.rule.as_str()), ("billing", "billing-questions"));
    assert_eq!(decision.rules_version, 1, "the built-in rules' version");
    assert!(decision.tags.iter().all(|tag| !tag.ends_with("-rules")), "{:?}", decision.tags);
    let evaluate = EvaluateRequest {
        customer_id: "c-1".into(),
        text: "hello there".into(),
        ..EvaluateRequest::default()
    };
    let evaluated = world.default.evaluate(evaluate).await?.into_inner();
    assert_eq!(evaluated.queue, "general", "the default tenant's c-1 has no profile: {evaluated:?}");
    assert!(!evaluated.inputs.contains_key("customer.tier"), "{:?}", evaluated.inputs);
    Ok(())
}
