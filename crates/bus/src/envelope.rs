//! Building event envelopes: ids, causation, aggregates and subjects.

use prost_types::Timestamp;
use switchboard_proto::events::v1::{Event, event::Body};
use uuid::Uuid;

use crate::{EVENTS_SUBJECT_PREFIX, Error, trace};

/// Tenant used when a caller names none.
pub const DEFAULT_TENANT: &str = "default";

/// An event about to be published: its body, aggregate id and where it came from.
pub struct Draft {
    body: Body,
    aggregate_id: String,
    tenant: String,
    cause: Option<Cause>,
    /// When set, the event id derives from it (see [`Draft::keyed`]).
    key: Option<String>,
}

struct Cause {
    id: String,
    correlation_id: String,
}

impl Draft {
    /// A new event caused by a command from outside (a gRPC call, an inbound message).
    pub fn new(tenant: &str, aggregate_id: impl Into<String>, body: Body) -> Self {
        let tenant = if tenant.is_empty() { DEFAULT_TENANT } else { tenant };
        Self { body, aggregate_id: aggregate_id.into(), tenant: tenant.to_string(), cause: None, key: None }
    }

    /// An event caused by `cause`: same tenant and correlation, and an id derived from the cause,
    /// so handling the cause twice publishes the same event id (deduplicated by JetStream).
    pub fn caused_by(cause: &Event, aggregate_id: impl Into<String>, body: Body) -> Self {
        Self {
            body,
            aggregate_id: aggregate_id.into(),
            tenant: cause.tenant.clone(),
            cause: Some(Cause { id: cause.id.clone(), correlation_id: cause.correlation_id.clone() }),
            key: None,
        }
    }

    /// The event id derives from `key` instead: whoever publishes the same key (another
    /// replica, a redelivery, another message of the same conversation) stores one event.
    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The envelope, stamped now with the current trace context.
    pub fn build(self) -> Result<Event, Error> {
        validate_aggregate_id(&self.aggregate_id)?;
        validate_tenant(&self.tenant)?;
        let event_type = event_type_of(&self.body);
        let id = match (&self.key, &self.cause) {
            (Some(key), _) => key_id(key),
            (None, Some(cause)) => derived_id(&cause.id, event_type, &self.aggregate_id),
            (None, None) => Uuid::now_v7(),
        }
        .to_string();
        let (correlation_id, causation_id) = match self.cause {
            Some(cause) => (cause.correlation_id, cause.id),
            None => (id.clone(), String::new()),
        };
        let (traceparent, tracestate) = trace::current_context();
        Ok(Event {
            id,
            r#type: event_type.to_string(),
            schema_version: 1,
            aggregate: aggregate_of(&self.body).to_string(),
            aggregate_id: self.aggregate_id,
            occurred_at: Some(now()),
            tenant: self.tenant,
            correlation_id,
            causation_id,
            traceparent,
            tracestate,
            body: Some(self.body),
        })
    }
}

/// The aggregate an event body belongs to.
pub fn aggregate_of(body: &Body) -> &'static str {
    match body {
        Body::MessageReceived(_) => "conversation",
        Body::MessageClassified(_) => "classification",
        Body::MessageRouted(_) => "routing",
        Body::ReplyRequested(_) => "reply",
        Body::ReplyDelivered(_) | Body::DeliveryFailed(_) => "delivery",
        Body::ArticleDrafted(_)
        | Body::ArticlePublished(_)
        | Body::ArticleUnpublished(_)
        | Body::ArticleArchived(_) => "article",
        Body::KnowledgeQueried(_) | Body::DeflectionRecorded(_) => "knowledge-query",
        Body::RoutingRulesPublished(_) => "routing-rules",
        Body::CustomerProfileUpdated(_) => "customer",
        Body::OrderUpdated(_) => "order",
        Body::SlaStarted(_)
        | Body::SlaWarning(_)
        | Body::SlaBreached(_)
        | Body::SlaMet(_)
        | Body::SlaPaused(_)
        | Body::SlaResumed(_) => "sla",
        Body::PlaybookProgressed(_) => "playbook",
        Body::ReturnOpened(_) | Body::ReturnApproved(_) | Body::ReturnRejected(_) => "return",
        Body::NotificationRequested(_) => "notification",
        Body::NotificationDelivered(_) | Body::NotificationFailed(_) => "delivery",
        Body::InboundRefused(_) => "inbound-refusal",
        Body::DeviceAlertRaised(_) => "device",
        Body::OutageDeclared(_) => "outage",
        Body::SurveySent(_) | Body::SurveyAnswered(_) => "survey",
        Body::OnboardingStepTaken(_) => "onboarding",
        Body::AccountUpdated(_) | Body::SimActivated(_) | Body::SimActivationRefused(_) => "account",
        Body::AgentUpdated(_) => "agent",
        Body::ConversationAssigned(_) | Body::ConversationReleased(_) => "agent-load",
        Body::ConversationClaimed(_) | Body::ConversationTransferred(_) => "claim",
        Body::AgentPresenceChanged(_) => "agent-presence",
        Body::NoteAdded(_) => "note",
        Body::ConversationReopened(_) => "conversation-lifecycle",
        Body::MacroSaved(_) | Body::MacroDeleted(_) => "macro",
        Body::ConversationUpdated(_) => "conversation-update",
        Body::BookingConfirmed(_) => "booking",
        Body::ConversationClosed(_) => "conversation-lifecycle",
        Body::ModelTrained(_) => "model",
        Body::ModelActivated(_) => "model-activation",
        Body::IntentCorrected(_) => "intent-feedback",
        Body::TokenRevoked(_) | Body::TokenIssued(_) => "token",
        Body::CredentialSet(_) => "credential",
    }
}

/// The conversation an event is about, for every body that names one (traces and logs carry
/// it; empty ids count as none).
pub fn conversation_of(event: &Event) -> Option<&str> {
    let id = match event.body.as_ref()? {
        Body::MessageReceived(e) => &e.conversation_id,
        Body::MessageClassified(e) => &e.conversation_id,
        Body::MessageRouted(e) => &e.conversation_id,
        Body::ReplyRequested(e) => &e.conversation_id,
        Body::ReplyDelivered(e) => &e.conversation_id,
        Body::DeliveryFailed(e) => &e.conversation_id,
        Body::KnowledgeQueried(e) => &e.conversation_id,
        Body::SlaStarted(e) => &e.conversation_id,
        Body::SlaWarning(e) => &e.conversation_id,
        Body::SlaBreached(e) => &e.conversation_id,
        Body::SlaMet(e) => &e.conversation_id,
        Body::PlaybookProgressed(e) => &e.conversation_id,
        Body::ReturnOpened(e) => &e.conversation_id,
        Body::NotificationRequested(e) => &e.conversation_id,
        Body::ConversationAssigned(e) => &e.conversation_id,
        Body::ConversationReleased(e) => &e.conversation_id,
        Body::BookingConfirmed(e) => &e.conversation_id,
        Body::SlaPaused(e) => &e.conversation_id,
        Body::SlaResumed(e) => &e.conversation_id,
        Body::ConversationClosed(e) => &e.conversation_id,
        Body::NotificationDelivered(e) => &e.conversation_id,
        Body::NotificationFailed(e) => &e.conversation_id,
        Body::SurveySent(e) => &e.conversation_id,
        Body::SurveyAnswered(e) => &e.conversation_id,
        Body::SimActivated(e) => &e.conversation_id,
        Body::SimActivationRefused(e) => &e.conversation_id,
        Body::ConversationClaimed(e) => &e.conversation_id,
        Body::NoteAdded(e) => &e.conversation_id,
        Body::ConversationReopened(e) => &e.conversation_id,
        Body::ConversationUpdated(e) => &e.conversation_id,
        Body::ConversationTransferred(e) => &e.conversation_id,
        _ => return None,
    };
    (!id.is_empty()).then_some(id.as_str())
}

/// The dotted event type of a body, e.g. `conversation.message_received`.
pub fn event_type_of(body: &Body) -> &'static str {
    match body {
        Body::MessageReceived(_) => "conversation.message_received",
        Body::MessageClassified(_) => "classification.message_classified",
        Body::MessageRouted(_) => "routing.message_routed",
        Body::ReplyRequested(_) => "reply.reply_requested",
        Body::ReplyDelivered(_) => "delivery.reply_delivered",
        Body::DeliveryFailed(_) => "delivery.delivery_failed",
        Body::ArticlePublished(_) => "article.article_published",
        Body::ArticleArchived(_) => "article.article_archived",
        Body::ArticleDrafted(_) => "article.article_drafted",
        Body::ArticleUnpublished(_) => "article.article_unpublished",
        Body::KnowledgeQueried(_) => "knowledge-query.knowledge_queried",
        Body::DeflectionRecorded(_) => "knowledge-query.deflection_recorded",
        Body::RoutingRulesPublished(_) => "routing-rules.routing_rules_published",
        Body::CustomerProfileUpdated(_) => "customer.customer_profile_updated",
        Body::OrderUpdated(_) => "order.order_updated",
        Body::SlaStarted(_) => "sla.sla_started",
        Body::SlaWarning(_) => "sla.sla_warning",
        Body::SlaBreached(_) => "sla.sla_breached",
        Body::SlaMet(_) => "sla.sla_met",
        Body::SlaPaused(_) => "sla.sla_paused",
        Body::SlaResumed(_) => "sla.sla_resumed",
        Body::PlaybookProgressed(_) => "playbook.playbook_progressed",
        Body::ReturnOpened(_) => "return.return_opened",
        Body::ReturnApproved(_) => "return.return_approved",
        Body::ReturnRejected(_) => "return.return_rejected",
        Body::NotificationRequested(_) => "notification.notification_requested",
        Body::NotificationDelivered(_) => "delivery.notification_delivered",
        Body::NotificationFailed(_) => "delivery.notification_failed",
        Body::InboundRefused(_) => "inbound-refusal.inbound_refused",
        Body::DeviceAlertRaised(_) => "device.device_alert_raised",
        Body::OutageDeclared(_) => "outage.outage_declared",
        Body::SurveySent(_) => "survey.survey_sent",
        Body::SurveyAnswered(_) => "survey.survey_answered",
        Body::OnboardingStepTaken(_) => "onboarding.onboarding_step_taken",
        Body::AccountUpdated(_) => "account.account_updated",
        Body::SimActivated(_) => "account.sim_activated",
        Body::SimActivationRefused(_) => "account.sim_activation_refused",
        Body::AgentUpdated(_) => "agent.agent_updated",
        Body::ConversationAssigned(_) => "agent-load.conversation_assigned",
        Body::ConversationReleased(_) => "agent-load.conversation_released",
        Body::ConversationClaimed(_) => "claim.conversation_claimed",
        Body::ConversationTransferred(_) => "claim.conversation_transferred",
        Body::AgentPresenceChanged(_) => "agent-presence.agent_presence_changed",
        Body::NoteAdded(_) => "note.note_added",
        Body::ConversationReopened(_) => "conversation-lifecycle.conversation_reopened",
        Body::MacroSaved(_) => "macro.macro_saved",
        Body::MacroDeleted(_) => "macro.macro_deleted",
        Body::ConversationUpdated(_) => "conversation-update.conversation_updated",
        Body::BookingConfirmed(_) => "booking.booking_confirmed",
        Body::ConversationClosed(_) => "conversation-lifecycle.conversation_closed",
        Body::ModelTrained(_) => "model.model_trained",
        Body::ModelActivated(_) => "model-activation.model_activated",
        Body::IntentCorrected(_) => "intent-feedback.intent_corrected",
        Body::TokenRevoked(_) => "token.token_revoked",
        Body::TokenIssued(_) => "token.token_issued",
        Body::CredentialSet(_) => "credential.credential_set",
    }
}

/// The subject a tenant's aggregate's events are published on: the tenant is part of it, so two
/// tenants' aggregates of the same id are two histories.
pub fn event_subject(aggregate: &str, tenant: &str, aggregate_id: &str) -> String {
    format!("{EVENTS_SUBJECT_PREFIX}.{aggregate}.{tenant}.{aggregate_id}")
}

/// Whether `id` can name an aggregate (and so a subject): 1 to 128 letters, digits, '-' and '_'.
pub fn is_aggregate_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn validate_aggregate_id(id: &str) -> Result<(), Error> {
    if is_aggregate_id(id) { Ok(()) } else { Err(Error::InvalidAggregateId(id.to_string())) }
}

/// The tenant an event belongs to: an event without one (written before tenants) is the default
/// tenant's, as the rows of that time are.
pub fn tenant_of(event: &Event) -> &str {
    if event.tenant.is_empty() { DEFAULT_TENANT } else { &event.tenant }
}

/// Whether `tenant` can name a tenant (and so a subject token): 1 to 64 letters, digits, '-' and '_'.
pub fn is_tenant(tenant: &str) -> bool {
    tenant.len() <= 64 && is_aggregate_id(tenant)
}

pub(crate) fn validate_tenant(tenant: &str) -> Result<(), Error> {
    if is_tenant(tenant) { Ok(()) } else { Err(Error::InvalidTenant(tenant.to_string())) }
}

/// A UUIDv7 determined by the cause: the cause's timestamp bits, then a name-based hash.
fn derived_id(cause_id: &str, event_type: &str, aggregate_id: &str) -> Uuid {
    let name = format!("{cause_id}/{event_type}/{aggregate_id}");
    let mut bytes = *Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()).as_bytes();
    if let Ok(cause) = Uuid::parse_str(cause_id)
        && cause.get_version_num() == 7
    {
        bytes[..6].copy_from_slice(&cause.as_bytes()[..6]);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// The id an application key stands for (a UUIDv5: the same key, the same id).
pub fn key_id(key: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes())
}

fn now() -> Timestamp {
    let now = chrono::Utc::now();
    Timestamp { seconds: now.timestamp(), nanos: i32::try_from(now.timestamp_subsec_nanos()).unwrap_or(0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::events::v1::{ArticleArchived, MessageClassified};

    fn cause() -> Event {
        Draft::new("", "a1", Body::ArticleArchived(ArticleArchived { article_id: "a1".into(), version: 1 }))
            .build()
            .expect("valid draft")
    }

    #[test]
    fn a_new_event_starts_its_own_correlation() {
        let event = cause();
        assert_eq!(event.tenant, DEFAULT_TENANT);
        assert_eq!(event.correlation_id, event.id);
        assert!(event.causation_id.is_empty());
        assert_eq!(event.r#type, "article.article_archived");
        assert_eq!(Uuid::parse_str(&event.id).map(|id| id.get_version_num()), Ok(7));
    }

    #[test]
    fn a_caused_event_has_a_stable_v7_id_and_inherits_correlation() {
        let cause = cause();
        let body = || Body::MessageClassified(MessageClassified::default());
        let first = Draft::caused_by(&cause, "m1", body()).build().expect("valid");
        let again = Draft::caused_by(&cause, "m1", body()).build().expect("valid");
        assert_eq!(first.id, again.id);
        assert_eq!(first.causation_id, cause.id);
        assert_eq!(first.correlation_id, cause.correlation_id);
        let id = Uuid::parse_str(&first.id).expect("uuid");
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.as_bytes()[..6], Uuid::parse_str(&cause.id).expect("uuid").as_bytes()[..6]);
    }

    #[test]
    fn refuses_aggregate_ids_that_would_break_subjects() {
        for id in ["", "a.b", "a b", "a>", "*"] {
            let draft = Draft::new("t", id, Body::ArticleArchived(ArticleArchived::default()));
            assert!(matches!(draft.build(), Err(Error::InvalidAggregateId(_))), "{id:?}");
        }
    }
}
