//! Roles and the rights each holds.

use serde::{Deserialize, Serialize};

/// What a token's holder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Channel adapters and the company's own systems.
    Service,
    /// A person answering customers.
    Agent,
    /// Runs a team: rules, approvals, analytics, besides an agent's work.
    Supervisor,
    /// Owns the tenant: models, articles, tokens, and everything else.
    Admin,
}

/// One thing a caller may do. Each RPC requires exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// Ask who the token names.
    Identify,
    SubmitMessages,
    ReadConversations,
    ReplyToCustomers,
    ReadCustomers,
    WriteCustomers,
    /// Record one's own work on a conversation (replied, resolved, waiting on the customer).
    RecordWork,
    DecideReturns,
    ManageAgents,
    ReadRules,
    WriteRules,
    /// Search, suggest, deflect, answer and assist from the knowledge base.
    UseKnowledge,
    WriteArticles,
    Classify,
    CorrectIntents,
    ManageModels,
    ReadAnalytics,
    ReadDeliveries,
    ManageTokens,
    /// The desk's list of conversations to work.
    ReadDesk,
    /// Work conversations: claim, transfer or release one's own, notes, status, presence.
    ClaimConversations,
    /// Give conversations to agents, and take them from others.
    AssignConversations,
    /// Create, change and delete macros.
    ManageMacros,
}

impl Right {
    pub const ALL: [Self; 23] = [
        Self::Identify,
        Self::SubmitMessages,
        Self::ReadConversations,
        Self::ReplyToCustomers,
        Self::ReadCustomers,
        Self::WriteCustomers,
        Self::RecordWork,
        Self::DecideReturns,
        Self::ManageAgents,
        Self::ReadRules,
        Self::WriteRules,
        Self::UseKnowledge,
        Self::WriteArticles,
        Self::Classify,
        Self::CorrectIntents,
        Self::ManageModels,
        Self::ReadAnalytics,
        Self::ReadDeliveries,
        Self::ManageTokens,
        Self::ReadDesk,
        Self::ClaimConversations,
        Self::AssignConversations,
        Self::ManageMacros,
    ];

    /// The right's name in answers and docs, e.g. `conversations.read`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identify => "identity.read",
            Self::SubmitMessages => "messages.submit",
            Self::ReadConversations => "conversations.read",
            Self::ReplyToCustomers => "conversations.reply",
            Self::ReadCustomers => "customers.read",
            Self::WriteCustomers => "customers.write",
            Self::RecordWork => "work.record",
            Self::DecideReturns => "returns.decide",
            Self::ManageAgents => "agents.manage",
            Self::ReadRules => "rules.read",
            Self::WriteRules => "rules.write",
            Self::UseKnowledge => "knowledge.use",
            Self::WriteArticles => "articles.write",
            Self::Classify => "intents.classify",
            Self::CorrectIntents => "intents.correct",
            Self::ManageModels => "models.manage",
            Self::ReadAnalytics => "analytics.read",
            Self::ReadDeliveries => "deliveries.read",
            Self::ManageTokens => "tokens.manage",
            Self::ReadDesk => "desk.read",
            Self::ClaimConversations => "conversations.claim",
            Self::AssignConversations => "conversations.assign",
            Self::ManageMacros => "macros.manage",
        }
    }
}

const SERVICE: &[Right] = &[
    Right::Identify,
    Right::SubmitMessages,
    Right::ReadConversations,
    Right::ReadCustomers,
    Right::WriteCustomers,
    Right::UseKnowledge,
    Right::Classify,
];

const AGENT: &[Right] = &[
    Right::Identify,
    Right::ReadConversations,
    Right::ReplyToCustomers,
    Right::ReadCustomers,
    Right::RecordWork,
    Right::UseKnowledge,
    Right::Classify,
    Right::CorrectIntents,
    Right::ReadDesk,
    Right::ClaimConversations,
];

/// A supervisor's rights beyond an agent's.
const SUPERVISOR: &[Right] = &[
    Right::DecideReturns,
    Right::AssignConversations,
    Right::ManageMacros,
    Right::ManageAgents,
    Right::ReadRules,
    Right::WriteRules,
    Right::ReadAnalytics,
    Right::ReadDeliveries,
    // The knowledge base their team answers from, written where the dashboard shows it lacking.
    Right::WriteArticles,
];

impl Role {
    pub const ALL: [Self; 4] = [Self::Service, Self::Agent, Self::Supervisor, Self::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Agent => "agent",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
        }
    }

    /// Whether the role holds `right`. Admins hold every right.
    pub fn grants(self, right: Right) -> bool {
        match self {
            Self::Service => SERVICE.contains(&right),
            Self::Agent => AGENT.contains(&right),
            Self::Supervisor => AGENT.contains(&right) || SUPERVISOR.contains(&right),
            Self::Admin => true,
        }
    }

    /// Every right the role holds, by name.
    pub fn rights(self) -> Vec<&'static str> {
        Right::ALL.into_iter().filter(|right| self.grants(*right)).map(Right::name).collect()
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.name() == name)
            .ok_or_else(|| format!("unknown role {name:?}; known: service, agent, supervisor, admin"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_hold_what_the_contract_says() {
        use Right::*;
        let service = [SubmitMessages, WriteCustomers];
        assert!(service.iter().all(|r| Role::Service.grants(*r)));
        for right in [ReplyToCustomers, WriteRules, ManageModels, WriteArticles, ManageTokens, DecideReturns]
        {
            assert!(!Role::Service.grants(right), "service holds {}", right.name());
        }
        assert!(Role::Agent.grants(ReplyToCustomers) && !Role::Agent.grants(WriteRules));
        assert!(!Role::Agent.grants(SubmitMessages), "agents reply, they do not pose as customers");
        for right in [ReadDesk, ClaimConversations] {
            assert!(Role::Agent.grants(right) && Role::Supervisor.grants(right) && Role::Admin.grants(right));
            assert!(!Role::Service.grants(right), "the desk is for people, not systems");
        }
        for right in [AssignConversations, ManageMacros] {
            assert!(!Role::Agent.grants(right) && Role::Supervisor.grants(right), "{}", right.name());
        }
        for right in [WriteRules, DecideReturns, ReadAnalytics, ReplyToCustomers, WriteArticles] {
            assert!(Role::Supervisor.grants(right), "supervisor lacks {}", right.name());
        }
        for right in [ManageModels, ManageTokens] {
            assert!(!Role::Supervisor.grants(right) && Role::Admin.grants(right));
        }
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().expect_err("unknown").contains("known: service"));
    }
}
