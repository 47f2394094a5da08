//! The thin tonic adapter: rule sets, evaluation without side effects, customer profiles and
//! orders. Every call acts on its caller's tenant (the token's, never a request field): another
//! tenant's customers and orders are not found.

use std::sync::Arc;
use std::time::Duration;

use switchboard_auth::Caller;
use switchboard_bus::Bus;
use switchboard_projection::wait_for_checkpoint;
use switchboard_proto::{
    events::v1::{Feeling, MessageClassified},
    router::v1::{
        Customer as WireCustomer, EvaluateRequest, EvaluateResponse, GetCustomerRequest, ListRulesRequest,
        PublishRulesRequest, PutCustomerRequest, Rule as WireRule, RulesResponse, UpdateAccountRequest,
        UpdateAccountResponse, UpdateOrderRequest, UpdateOrderResponse, router_server,
    },
    time::to_datetime,
    to_status,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{
    Error,
    customers::{Directory, attributes},
    facts::{Context, facts_of, routed_for},
    rules::{Customer, Rule, When},
    store::{self, ActiveRules, RuleStore},
};

/// How long a request with `wait` waits.
const WAIT: Duration = Duration::from_secs(5);

pub struct RouterApi {
    bus: Bus,
    store: Arc<RuleStore>,
    directory: Directory,
    checkpoint: watch::Receiver<u64>,
}

impl RouterApi {
    pub(crate) fn new(
        bus: Bus,
        store: Arc<RuleStore>,
        directory: Directory,
        checkpoint: watch::Receiver<u64>,
    ) -> Self {
        Self { bus, store, directory, checkpoint }
    }
}

fn status(error: Error) -> Status {
    to_status(&error)
}

#[tonic::async_trait]
impl router_server::Router for RouterApi {
    async fn publish_rules(
        &self,
        request: Request<PublishRulesRequest>,
    ) -> Result<Response<RulesResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let request = request.into_inner();
        let version = store::publish(&self.bus, &tenant, &request.text, "grpc").await.map_err(status)?;
        if request.wait && !self.store.wait_for_version(&tenant, version, WAIT).await {
            return Err(status(Error::NotCaughtUp(u64::from(version))));
        }
        let mut response = rules_response(&self.store.current(&tenant));
        if response.version != version {
            // Not waited for: answer with what was published.
            response =
                RulesResponse { version, text: request.text, source: "grpc".into(), rules: response.rules };
        }
        Ok(Response::new(response))
    }

    async fn list_rules(
        &self,
        request: Request<ListRulesRequest>,
    ) -> Result<Response<RulesResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        Ok(Response::new(rules_response(&self.store.current(&tenant))))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let r = request.into_inner();
        if r.text.trim().is_empty() && r.intent.is_empty() {
            return Err(Status::invalid_argument("give a text, an intent, or both"));
        }
        let at = r.at.as_ref().map_or_else(chrono::Utc::now, |at| to_datetime(Some(at)));
        let classified = MessageClassified {
            customer_id: r.customer_id,
            channel: r.channel,
            text: r.text,
            intent: r.intent,
            confidence: r.confidence,
            language: r.language,
            feeling: Some(Feeling {
                sentiment_score: r.sentiment_score,
                sentiment: r.sentiment,
                urgency: r.urgency,
            }),
            ..MessageClassified::default()
        };
        let active = self.store.current(&tenant);
        let context = Context::read(&self.directory, &tenant, &active.rules, &classified, at)
            .await
            .map_err(|e| status(e.into()))?;
        let decision = active.rules.evaluate(&facts_of(&classified, &context, at));
        let routed = routed_for(&classified, &decision, active.version);
        Ok(Response::new(EvaluateResponse {
            rule: Some(wire(decision.rule)),
            reason: routed.reason,
            fired: routed.fired,
            action: decision.rule.then.action.map(|a| a.name().to_string()).unwrap_or_default(),
            queue: routed.queue,
            priority: routed.priority,
            tags: routed.tags,
            inputs: routed.inputs,
            // Where decisions and notices go, never the secret in a webhook's path (the rule
            // set's author has it).
            notify: routed.notify.iter().map(|target| switchboard_bus::shown_target(target)).collect(),
            webhooks: routed.webhooks.iter().map(|url| switchboard_bus::shown_webhook(url)).collect(),
            rules_version: routed.rules_version,
            assignment: routed.assignment,
        }))
    }

    async fn put_customer(
        &self,
        request: Request<PutCustomerRequest>,
    ) -> Result<Response<WireCustomer>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let r = request.into_inner();
        let wire = r.customer.ok_or_else(|| Status::invalid_argument("customer is required"))?;
        let customer = Customer {
            tier: wire.tier.clone(),
            plan: wire.plan.clone(),
            country: wire.country.clone(),
            attributes: attributes(&wire.attributes),
        };
        let sequence = self.directory.put(&tenant, &wire.customer_id, customer).await.map_err(status)?;
        if r.wait && !wait_for_checkpoint(&self.checkpoint, sequence, WAIT).await {
            return Err(status(Error::NotCaughtUp(sequence)));
        }
        Ok(Response::new(wire))
    }

    async fn get_customer(
        &self,
        request: Request<GetCustomerRequest>,
    ) -> Result<Response<WireCustomer>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let id = request.into_inner().customer_id;
        let customer = self.directory.customer(&tenant, &id).await.map_err(|e| status(e.into()))?;
        let customer = customer.ok_or_else(|| status(Error::NotFound(format!("customer {id}"))))?;
        Ok(Response::new(WireCustomer {
            customer_id: id,
            tier: customer.tier,
            plan: customer.plan,
            country: customer.country,
            attributes: customer.attributes.into_iter().collect(),
        }))
    }

    async fn update_order(
        &self,
        request: Request<UpdateOrderRequest>,
    ) -> Result<Response<UpdateOrderResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let r = request.into_inner();
        let order = r.order.ok_or_else(|| Status::invalid_argument("order is required"))?;
        let published = crate::order_updates::update(&self.bus, &tenant, order).await.map_err(status)?;
        if let Some(sequence) = published
            && r.wait
            && !wait_for_checkpoint(&self.checkpoint, sequence, WAIT).await
        {
            return Err(status(Error::NotCaughtUp(sequence)));
        }
        Ok(Response::new(UpdateOrderResponse {
            changed: published.is_some(),
            sequence: published.unwrap_or_default(),
        }))
    }

    async fn update_account(
        &self,
        request: Request<UpdateAccountRequest>,
    ) -> Result<Response<UpdateAccountResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let r = request.into_inner();
        let account = r.account.ok_or_else(|| Status::invalid_argument("account is required"))?;
        let sequence = crate::account_updates::update(&self.bus, &tenant, &r.account_id, account)
            .await
            .map_err(status)?;
        if r.wait && !wait_for_checkpoint(&self.checkpoint, sequence, WAIT).await {
            return Err(status(Error::NotCaughtUp(sequence)));
        }
        Ok(Response::new(UpdateAccountResponse { sequence }))
    }
}

fn rules_response(active: &ActiveRules) -> RulesResponse {
    RulesResponse {
        version: active.version,
        text: active.text.clone(),
        source: active.source.clone(),
        rules: active.rules.rules().iter().map(wire).collect(),
    }
}

fn wire(rule: &Rule) -> WireRule {
    WireRule {
        name: rule.name.clone(),
        intents: rule.when.intents.clone(),
        keywords: rule.when.keywords.clone(),
        min_confidence: rule.when.min_confidence,
        action: rule.then.action.map(|a| a.name().to_string()).unwrap_or_default(),
        queue: rule.then.queue.clone().unwrap_or_default(),
        priority: rule.then.priority.map(|p| p.wire().into()).unwrap_or_default(),
        conditions: describe(&rule.when),
        r#continue: rule.continues,
        tags: rule.then.tags.clone(),
    }
}

/// The conditions in words; `always` for none.
fn describe(when: &When) -> String {
    let list =
        |name: &str, values: &[String]| (!values.is_empty()).then(|| format!("{name} {}", values.join("|")));
    let mut parts: Vec<String> = [
        list("intent", &when.intents),
        (when.min_confidence > 0.0).then(|| format!("confidence >= {}", when.min_confidence)),
        list("keyword", &when.keywords),
        list("language", &when.languages),
        list("channel", &when.channels),
        list("sentiment", &when.sentiment),
        when.max_sentiment.map(|score| format!("sentiment score <= {score}")),
        list("urgency", &when.urgency),
        list("customer tier", &when.customer.tier),
        list("customer plan", &when.customer.plan),
        list("customer country", &when.customer.country),
        when.business_hours.map(|hours| {
            format!("{hours:?} hours ({})", when.calendar.as_deref().unwrap_or("default")).to_lowercase()
        }),
        when.previous_contacts.map(|c| format!("{}+ contacts in {} days", c.min, c.within_days)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        parts.push("always".into());
    }
    parts.join("; ")
}
