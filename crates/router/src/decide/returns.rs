//! The returns playbook in a decision: policy check, the return opened, the refund held for a
//! human's approval.

use switchboard_bus::{Draft, HandlerError, key_id};
use switchboard_proto::events::v1::{Channel, MessageRouted, ReturnOpened, RouteAction, event::Body};

use super::{Answer, Decider, Turn};
use crate::facts::conversation_language;
use crate::playbooks::{
    orders,
    returns::{self, Eligibility},
};
use crate::rules::HandoffReason;

impl Decider {
    /// The return goes to a person in `queue`, the decision saying `why`.
    async fn return_to_a_person(
        &self,
        turn: &Turn<'_>,
        mut routed: MessageRouted,
        queue: &str,
        why: &str,
    ) -> Result<(), HandlerError> {
        routed.action = RouteAction::Queue.into();
        routed.queue = queue.to_string();
        routed.reason = format!("{}; {why}", routed.reason);
        self.hand_off(turn, &mut routed, HandoffReason::MissingKnowledge, true).await?;
        self.conclude(turn, routed, None).await
    }

    pub(super) async fn open_return(
        &self,
        turn: Turn<'_>,
        mut routed: MessageRouted,
    ) -> Result<(), HandlerError> {
        let Some(settings) = turn.rules.playbooks().returns.clone() else {
            return self.conclude(&turn, routed, None).await;
        };
        let classified = turn.classified;
        if !classified.customer_verified {
            // Whose order it is cannot be told: a person checks who they are.
            let why = "the customer is not verified, so a human takes the return";
            return self.return_to_a_person(&turn, routed, &settings.queue, why).await;
        }
        let order = orders::find(&self.bus, self.directory.pool(), turn.tenant, classified).await?;
        let language = conversation_language(classified);
        routed.rule_action = "answer".into();
        let orders::Lookup::Found(order) = order else {
            let why = "no order of this customer to return, so a human takes it";
            return self.return_to_a_person(&turn, routed, &settings.queue, why).await;
        };
        let eligibility = returns::eligibility(&settings, &order, turn.at);
        if eligibility != Eligibility::Eligible {
            routed.action = RouteAction::AutoReply.into();
            routed.reason =
                format!("{}; order {} is not returnable under the policy", routed.reason, order.order_id);
            let text = returns::refused(&order, &eligibility, &settings, language);
            return self.conclude(&turn, routed, Some(Answer::said(text))).await;
        }
        // One return per asking message, whatever the redeliveries.
        let key = format!("{}/return/{}", turn.tenant, classified.message_id);
        let return_id = format!("R-{}", &key_id(&key).simple().to_string()[..10]);
        let opened = ReturnOpened {
            return_id: return_id.clone(),
            order_id: order.order_id.clone(),
            customer_id: classified.customer_id.clone(),
            conversation_id: classified.conversation_id.clone(),
            message_id: classified.message_id.clone(),
            channel: Channel::try_from(classified.channel).unwrap_or(Channel::Unspecified).into(),
            reason: classified.text.chars().take(500).collect(),
            warehouse: settings.warehouse.clone(),
        };
        let event =
            Draft::caused_by(turn.event, return_id.clone(), Body::ReturnOpened(opened)).keyed(key).build()?;
        self.bus.publish(&event).await?;
        routed.action = RouteAction::Queue.into();
        routed.queue.clone_from(&settings.queue);
        routed.tags.push("return-approval".into());
        routed.collected.insert("return_id".into(), return_id.clone());
        routed.collected.insert("order_id".into(), order.order_id.clone());
        routed.reason =
            format!("{}; return {return_id} opened, the refund waits for approval", routed.reason);
        self.hand_off(&turn, &mut routed, HandoffReason::Policy, false).await?;
        let text = returns::opened(&order.order_id, &return_id, language);
        self.conclude(&turn, routed, Some(Answer::said(text))).await
    }
}
