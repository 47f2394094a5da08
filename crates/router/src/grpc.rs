//! The thin tonic adapter over the rule table.

use std::sync::Arc;

use switchboard_proto::router::v1::{
    EvaluateRequest, EvaluateResponse, ListRulesRequest, ListRulesResponse, Rule as WireRule, router_server,
};
use tonic::{Request, Response, Status};

use crate::rules::{Facts, Rule, Rules};

pub struct RouterApi {
    rules: Arc<Rules>,
}

impl RouterApi {
    pub(crate) fn new(rules: Arc<Rules>) -> Self {
        Self { rules }
    }
}

#[tonic::async_trait]
impl router_server::Router for RouterApi {
    async fn list_rules(
        &self,
        _request: Request<ListRulesRequest>,
    ) -> Result<Response<ListRulesResponse>, Status> {
        let rules = self.rules.rules().iter().map(wire).collect();
        Ok(Response::new(ListRulesResponse { rules }))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let request = request.into_inner();
        if request.text.trim().is_empty() && request.intent.is_empty() {
            return Err(Status::invalid_argument("give a text, an intent, or both"));
        }
        let facts = Facts { text: &request.text, intent: &request.intent, confidence: request.confidence };
        let (rule, reason) = self.rules.evaluate(&facts);
        Ok(Response::new(EvaluateResponse { rule: Some(wire(rule)), reason }))
    }
}

fn wire(rule: &Rule) -> WireRule {
    WireRule {
        name: rule.name.clone(),
        intents: rule.intents.clone(),
        keywords: rule.keywords.clone(),
        min_confidence: rule.min_confidence,
        action: rule.action.name().to_string(),
        queue: rule.queue.clone(),
        priority: rule.priority.wire().into(),
    }
}
