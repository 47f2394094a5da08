//! The one table of what each RPC requires. A test holds it equal to the descriptor set, so a
//! new RPC cannot be served before it declares its right.

use crate::Right;

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token: health checks and reflection.
    Open,
    /// A valid token whose role holds the right.
    Requires(Right),
}

/// Every RPC of every `switchboard.*` service, by its HTTP/2 path.
pub const RIGHTS: &[(&str, Right)] = &[
    ("/switchboard.auth.v1.Auth/WhoAmI", Right::Identify),
    ("/switchboard.auth.v1.Auth/IssueToken", Right::ManageTokens),
    ("/switchboard.auth.v1.Auth/RevokeToken", Right::ManageTokens),
    ("/switchboard.auth.v1.Auth/SetPassword", Right::ManageTokens),
    ("/switchboard.intake.v1.Intake/SubmitMessage", Right::SubmitMessages),
    ("/switchboard.intake.v1.Intake/GetConversation", Right::ReadConversations),
    ("/switchboard.intake.v1.Intake/SendAgentReply", Right::ReplyToCustomers),
    ("/switchboard.classifier.v1.Classifier/Classify", Right::Classify),
    ("/switchboard.classifier.v1.Classifier/Train", Right::ManageModels),
    ("/switchboard.classifier.v1.Classifier/Evaluate", Right::ManageModels),
    ("/switchboard.classifier.v1.Classifier/ListModels", Right::ManageModels),
    ("/switchboard.classifier.v1.Classifier/ActivateModel", Right::ManageModels),
    ("/switchboard.classifier.v1.Classifier/SubmitFeedback", Right::CorrectIntents),
    ("/switchboard.router.v1.Router/PublishRules", Right::WriteRules),
    ("/switchboard.router.v1.Router/ListRules", Right::ReadRules),
    ("/switchboard.router.v1.Router/Evaluate", Right::ReadRules),
    ("/switchboard.router.v1.Router/PutCustomer", Right::WriteCustomers),
    ("/switchboard.router.v1.Router/GetCustomer", Right::ReadCustomers),
    ("/switchboard.router.v1.Router/UpdateOrder", Right::WriteCustomers),
    ("/switchboard.router.v1.Router/UpdateAccount", Right::WriteCustomers),
    ("/switchboard.notifier.v1.Notifier/DeclareOutage", Right::WriteCustomers),
    ("/switchboard.notifier.v1.Notifier/RaiseDeviceAlert", Right::WriteCustomers),
    ("/switchboard.knowledge.v1.Knowledge/SaveDraft", Right::WriteArticles),
    ("/switchboard.knowledge.v1.Knowledge/PublishArticle", Right::WriteArticles),
    ("/switchboard.knowledge.v1.Knowledge/UnpublishArticle", Right::WriteArticles),
    ("/switchboard.knowledge.v1.Knowledge/ArchiveArticle", Right::WriteArticles),
    ("/switchboard.knowledge.v1.Knowledge/GetArticle", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/ListVersions", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/ListArticles", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/Search", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/Suggest", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/Deflect", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/RecordDeflection", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/Answer", Right::UseKnowledge),
    ("/switchboard.knowledge.v1.Knowledge/Assist", Right::UseKnowledge),
    ("/switchboard.notifier.v1.Notifier/ListDeliveries", Right::ReadDeliveries),
    ("/switchboard.analytics.v1.Analytics/GetCounts", Right::ReadAnalytics),
    ("/switchboard.analytics.v1.Analytics/ListContentGaps", Right::ReadAnalytics),
    ("/switchboard.analytics.v1.Analytics/ListArticleDeflections", Right::ReadAnalytics),
    ("/switchboard.analytics.v1.Analytics/GetReport", Right::ReadAnalytics),
    ("/switchboard.analytics.v1.Analytics/ListTrends", Right::ReadAnalytics),
    ("/switchboard.desk.v1.Desk/ListConversations", Right::ReadDesk),
    ("/switchboard.desk.v1.Desk/GetConversation", Right::ReadDesk),
    ("/switchboard.desk.v1.Desk/Claim", Right::ClaimConversations),
    ("/switchboard.desk.v1.Desk/Assign", Right::AssignConversations),
    ("/switchboard.desk.v1.Desk/Transfer", Right::ClaimConversations),
    ("/switchboard.desk.v1.Desk/Unassign", Right::ClaimConversations),
    ("/switchboard.desk.v1.Desk/Reply", Right::ReplyToCustomers),
    ("/switchboard.desk.v1.Desk/AddNote", Right::ClaimConversations),
    ("/switchboard.desk.v1.Desk/SetStatus", Right::ClaimConversations),
    ("/switchboard.desk.v1.Desk/SaveMacro", Right::ManageMacros),
    ("/switchboard.desk.v1.Desk/ListMacros", Right::ReadDesk),
    ("/switchboard.desk.v1.Desk/DeleteMacro", Right::ManageMacros),
    ("/switchboard.desk.v1.Desk/ApplyMacro", Right::ReplyToCustomers),
    ("/switchboard.desk.v1.Desk/ListApprovals", Right::DecideReturns),
    ("/switchboard.desk.v1.Desk/DecideApproval", Right::DecideReturns),
    ("/switchboard.desk.v1.Desk/WatchInbox", Right::ReadDesk),
    ("/switchboard.desk.v1.Desk/WatchTyping", Right::ReadDesk),
    ("/switchboard.desk.v1.Desk/SignalTyping", Right::ReplyToCustomers),
    ("/switchboard.desk.v1.Desk/SetPresence", Right::ClaimConversations),
    ("/switchboard.desk.v1.Desk/GetOverview", Right::ReadDesk),
    ("/switchboard.desk.v1.Desk/PutAgent", Right::ManageAgents),
    ("/switchboard.desk.v1.Desk/RecordAgentActivity", Right::RecordWork),
    ("/switchboard.desk.v1.Desk/DecideReturn", Right::DecideReturns),
];

/// Services answered without a token: health (probes) and reflection (tools such as grpcurl).
const OPEN_SERVICES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// RPCs of ours answered without a token: signing in, which is how a person gets one.
pub const OPEN_RPCS: &[&str] = &["/switchboard.auth.v1.Auth/SignIn"];

/// What a call on `path` needs; `None` for a path nobody declared (refused).
pub fn access_of(path: &str) -> Option<Access> {
    if OPEN_SERVICES.iter().any(|prefix| path.starts_with(prefix)) || OPEN_RPCS.contains(&path) {
        return Some(Access::Open);
    }
    RIGHTS.iter().find(|(rpc, _)| *rpc == path).map(|(_, right)| Access::Requires(*right))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message as _;
    use prost_types::FileDescriptorSet;

    use super::*;

    /// Every RPC the server can serve, read from the compiled descriptor set.
    fn served_rpcs() -> BTreeSet<String> {
        let set = FileDescriptorSet::decode(switchboard_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        let mut paths = BTreeSet::new();
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    paths.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
        paths
    }

    #[test]
    fn every_rpc_in_the_descriptor_set_declares_exactly_one_right() {
        let served = served_rpcs();
        assert!(served.len() > 30, "descriptor set read: {served:?}");
        let declared: BTreeSet<String> =
            RIGHTS.iter().map(|(path, _)| *path).chain(OPEN_RPCS.iter().copied()).map(String::from).collect();
        assert_eq!(declared.len(), RIGHTS.len() + OPEN_RPCS.len(), "an RPC is declared twice");
        let undeclared: Vec<_> = served.difference(&declared).collect();
        assert!(undeclared.is_empty(), "RPCs without a right: {undeclared:?}");
        let stale: Vec<_> = declared.difference(&served).collect();
        assert!(stale.is_empty(), "rights for RPCs that do not exist: {stale:?}");
    }

    /// docs/SECURITY.md's table of rights, as the code grants them.
    fn rights_table() -> String {
        use crate::Role;
        let mut table = String::from(
            "| right | RPCs | service | agent | supervisor | admin |\n|---|---|---|---|---|---|\n",
        );
        for right in Right::ALL {
            let rpcs: Vec<&str> = RIGHTS
                .iter()
                .filter(|(_, r)| *r == right)
                .filter_map(|(path, _)| path.rsplit('.').next())
                .collect();
            if rpcs.is_empty() {
                continue;
            }
            let marks: Vec<&str> =
                Role::ALL.iter().map(|role| if role.grants(right) { "✓" } else { "" }).collect();
            table += &format!("| `{}` | {} | {} |\n", right.name(), rpcs.join(", "), marks.join(" | "));
        }
        table + "| (none: no token) | Auth/SignIn, health, reflection | | | | |\n"
    }

    #[test]
    fn the_security_guide_shows_every_rpc_under_the_right_the_code_requires() {
        let guide = include_str!("../../../docs/SECURITY.md");
        let table = rights_table();
        assert!(guide.contains(&table), "docs/SECURITY.md's table of rights must read:\n{table}");
    }

    #[test]
    fn health_and_reflection_are_open_and_unknown_paths_are_not() {
        assert_eq!(access_of("/grpc.health.v1.Health/Check"), Some(Access::Open));
        assert_eq!(
            access_of("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            Some(Access::Open)
        );
        assert_eq!(access_of("/switchboard.intake.v1.Intake/Nope"), None);
        assert_eq!(
            access_of("/switchboard.router.v1.Router/PublishRules"),
            Some(Access::Requires(Right::WriteRules))
        );
    }
}
