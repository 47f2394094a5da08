//! Nobody acts where they don't belong: every RPC needs a token, each role holds only its rights,
//! the tenant and the agent come from the token, and a revoked token is refused by every replica.

mod common;

use std::time::Duration;

use common::{Backing, Cluster, WAIT, message};
use switchboard_auth::{RIGHTS, Role};
use switchboard_proto::{
    auth::v1::{IssueTokenRequest, RevokeTokenRequest, WhoAmIRequest, auth_client::AuthClient},
    intake::v1::{GetConversationRequest, SendAgentReplyRequest, intake_client::IntakeClient},
    router::v1::{ListRulesRequest, router_client::RouterClient},
};
use tonic::{Code, transport::Channel};

/// Calls `path` with an empty message through `channel`: enough to see what the guard says.
async fn empty_call<T>(channel: T, path: &'static str) -> Result<(), tonic::Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.into().to_string()))?;
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(()), path, codec).await.map(|_| ())
}

async fn bare(cluster: &Cluster) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{}", cluster.address))?.connect().await?)
}

#[tokio::test]
async fn every_rpc_refuses_a_caller_without_a_token_or_without_the_right() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bare = bare(&cluster).await?;
    let service = cluster.channel_as("default", Role::Service, "crm").await?;
    for (path, right) in RIGHTS {
        let missing = empty_call(bare.clone(), path).await.expect_err("no token");
        assert_eq!(missing.code(), Code::Unauthenticated, "{path} without a token: {missing:?}");
        if !Role::Service.grants(*right) {
            let denied =
                empty_call(service.clone(), path).await.expect_err("a service token lacks the right");
            assert_eq!(denied.code(), Code::PermissionDenied, "{path}: {denied:?}");
            assert!(denied.message().contains(right.name()), "{path}: {}", denied.message());
        }
    }
    // Health and reflection answer without a token.
    let mut health = tonic_health::pb::health_client::HealthClient::new(bare.clone());
    health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await?;
    cluster.stop().await
}

#[tokio::test]
async fn a_token_of_another_key_an_expired_one_and_garbage_are_unauthenticated() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let other = switchboard_auth::Keys::from_secret(b"some other cluster's key, 32 bytes long")?;
    let grant = switchboard_auth::Grant {
        tenant: "default".into(),
        subject: "mallory".into(),
        role: Role::Admin,
        ttl: Duration::from_secs(60),
    };
    let (foreign, _) = other.issue(&grant)?;
    let short = switchboard_auth::Grant { ttl: Duration::from_secs(1), ..grant };
    let (expiring, _) = switchboard_testkit::auth_keys().issue(&short)?;
    tokio::time::sleep(Duration::from_secs(7)).await; // past its expiry and the 5 s leeway
    for token in [foreign.as_str(), expiring.as_str(), "garbage"] {
        let channel = common::Api::new(
            bare(&cluster).await?,
            switchboard_auth::Credentials::bearer(token).map_err(anyhow::Error::msg)?,
        );
        let status = RouterClient::new(channel).list_rules(ListRulesRequest {}).await.expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{token}: {status:?}");
    }
    cluster.stop().await
}

#[tokio::test]
async fn the_tenant_and_the_agent_are_the_tokens() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let default_service = IntakeClient::new(cluster.channel_as("default", Role::Service, "crm").await?);

    // A field naming another tenant is refused; an empty one is the token's.
    let mut posing = message("c-1", "Where is my order?", "k-1");
    posing.tenant = "acme".into();
    let refused = default_service.clone().submit_message(posing).await.expect_err("another tenant");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let sent = default_service
        .clone()
        .submit_message(message("c-1", "Where is my order?", "k-1"))
        .await?
        .into_inner();

    // Another tenant's token does not find the default tenant's conversation, and its own
    // submissions are its own.
    let acme = cluster.channel_as("acme", Role::Admin, "root").await?;
    let read =
        GetConversationRequest { conversation_id: sent.conversation_id.clone(), min_sequence: sent.sequence };
    let hidden =
        IntakeClient::new(acme.clone()).get_conversation(read.clone()).await.expect_err("other tenant");
    assert_eq!(hidden.code(), Code::NotFound);
    let submitted = IntakeClient::new(acme.clone()).submit_message(message("c-1", "Hi", "k-1")).await?;
    assert_ne!(submitted.into_inner().conversation_id, sent.conversation_id, "the same key, another tenant");

    // An agent replies as itself only.
    let mut ana = IntakeClient::new(cluster.channel_as("default", Role::Agent, "ana").await?);
    ana.get_conversation(read).await?;
    let reply = |agent: &str| SendAgentReplyRequest {
        conversation_id: sent.conversation_id.clone(),
        agent_id: agent.into(),
        text: "Hello".into(),
        idempotency_key: "r-1".into(),
    };
    let posing = ana.send_agent_reply(reply("bob")).await.expect_err("impersonation");
    assert_eq!(posing.code(), Code::PermissionDenied);
    assert!(posing.message().contains("agent_id"), "{}", posing.message());
    let replied = ana.send_agent_reply(reply("")).await?.into_inner();
    let (author, _) = common::wait_for_event(&backing.bus().await?, "switchboard.events.reply.>", |event| {
        match &event.body {
            Some(switchboard_proto::events::v1::event::Body::ReplyRequested(r))
                if r.reply_id == replied.reply_id =>
            {
                Some(r.author.clone())
            }
            _ => None,
        }
    })
    .await?;
    assert_eq!(author, "agent:ana");
    // Another agent's reply with the same key is a reply of its own, not a duplicate of Ana's.
    let mut bo = IntakeClient::new(cluster.channel_as("default", Role::Agent, "bo").await?);
    let other = bo.send_agent_reply(reply("")).await?.into_inner();
    assert!(!other.duplicate && other.reply_id != replied.reply_id);
    cluster.stop().await
}

#[tokio::test]
async fn admins_issue_shorter_lived_non_admin_tokens_over_the_api_and_each_is_recorded() -> anyhow::Result<()>
{
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut admin = AuthClient::new(cluster.channel().await?);
    let ask =
        |role: &str, ttl_seconds| IssueTokenRequest { role: role.into(), subject: "sam".into(), ttl_seconds };
    let refused = admin.issue_token(ask("admin", 60)).await.expect_err("admin over the API");
    assert_eq!(refused.code(), Code::PermissionDenied);
    // The test admin's token lives an hour: a year is cut to what is left of it.
    let issued = admin.issue_token(ask("agent", 365 * 86_400)).await?.into_inner();
    let identity = issued.identity.expect("identity");
    let expires = identity.expires_at.expect("expiry").seconds;
    assert!(expires <= chrono::Utc::now().timestamp() + 3600, "{expires}");
    let bus = backing.bus().await?;
    let (recorded, _) =
        common::wait_for_event(&bus, "switchboard.events.token.>", |event| match &event.body {
            Some(switchboard_proto::events::v1::event::Body::TokenIssued(t))
                if t.token_id == identity.token_id =>
            {
                Some((t.subject.clone(), t.role.clone(), t.issued_by.clone(), event.tenant.clone()))
            }
            _ => None,
        })
        .await?;
    assert_eq!(recorded, ("sam".into(), "agent".into(), "test-admin".into(), "default".into()));
    cluster.stop().await
}

#[tokio::test]
async fn a_revoked_token_is_refused_by_every_replica_within_seconds() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let first = Cluster::start(backing.config()).await?;
    let mut second_config = backing.config();
    second_config.services = vec![switchboard_server::Service::Analytics];
    let second = Cluster::start(second_config).await?;

    let mut admin = AuthClient::new(first.channel().await?);
    let issued = admin
        .issue_token(IssueTokenRequest { role: "supervisor".into(), subject: "sam".into(), ttl_seconds: 600 })
        .await?
        .into_inner();
    let identity = issued.identity.clone().expect("identity");
    assert_eq!((identity.tenant.as_str(), identity.role.as_str()), ("default", "supervisor"));
    let credentials = switchboard_auth::Credentials::bearer(&issued.token).map_err(anyhow::Error::msg)?;
    let on = |cluster: &Cluster| -> anyhow::Result<AuthClient<common::Api>> {
        let channel = Channel::from_shared(format!("http://{}", cluster.address))?.connect_lazy();
        Ok(AuthClient::new(common::Api::new(channel, credentials.clone())))
    };
    for cluster in [&first, &second] {
        let me = on(cluster)?.who_am_i(WhoAmIRequest {}).await?.into_inner();
        assert_eq!((me.subject.as_str(), me.token_id.as_str()), ("sam", identity.token_id.as_str()));
        assert!(
            me.rights.contains(&"rules.write".to_string())
                && !me.rights.contains(&"models.manage".to_string())
        );
    }
    // A supervisor cannot issue or revoke tokens.
    let denied = on(&first)?
        .revoke_token(RevokeTokenRequest { token_id: identity.token_id.clone(), reason: String::new() })
        .await;
    assert_eq!(denied.expect_err("supervisor").code(), Code::PermissionDenied);

    // Revoked through the command line's own code, with an admin token.
    let api = switchboard_server::api::ApiArgs {
        endpoint: Some(format!("http://{}", first.address)),
        grpc_addr: None,
        token: Some(switchboard_testkit::token("default", Role::Admin, "root")),
    };
    let revoke = switchboard_server::token::TokenCommand::Revoke {
        id: identity.token_id.clone(),
        reason: "left".into(),
        api,
    };
    switchboard_server::token::run(revoke).await?;
    assert_eq!(
        on(&first)?.who_am_i(WhoAmIRequest {}).await.expect_err("revoked").code(),
        Code::Unauthenticated
    );
    // The other replica learns it from the bus; WAIT bounds liveness, it is no speed target.
    let refused_there = tokio::time::timeout(WAIT, async {
        loop {
            if let Err(status) = on(&second)?.who_am_i(WhoAmIRequest {}).await {
                return anyhow::Ok(status.code());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await??;
    assert_eq!(refused_there, Code::Unauthenticated);
    // A replica started later knows it from the start.
    second.stop().await?;
    let third = Cluster::start(backing.config()).await?;
    assert_eq!(
        on(&third)?.who_am_i(WhoAmIRequest {}).await.expect_err("revoked").code(),
        Code::Unauthenticated
    );
    first.stop().await?;
    third.stop().await
}

#[tokio::test]
async fn an_agent_signs_in_with_the_password_an_admin_set_and_guessing_is_limited() -> anyhow::Result<()> {
    use switchboard_proto::auth::v1::{SetPasswordRequest, SignInRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut admin = AuthClient::new(cluster.channel().await?);
    let set = |password: &str| SetPasswordRequest {
        subject: "ana".into(),
        role: "agent".into(),
        password: password.into(),
        email: String::new(),
    };
    let short = admin.set_password(set("short")).await.expect_err("too short");
    assert_eq!(short.code(), Code::InvalidArgument);
    let admin_role = SetPasswordRequest { role: "admin".into(), ..set("a long enough password") };
    assert_eq!(
        admin.set_password(admin_role).await.expect_err("no admin passwords").code(),
        Code::InvalidArgument
    );
    admin.set_password(set("first password 1")).await?;
    admin.set_password(set("second password 2")).await?;

    // Signing in needs no token.
    let mut anonymous = AuthClient::new(bare(&cluster).await?);
    let sign_in = |password: &str| SignInRequest {
        tenant: "default".into(),
        subject: "ana".into(),
        password: password.into(),
    };
    let old = anonymous.sign_in(sign_in("first password 1")).await.expect_err("replaced");
    assert_eq!(old.code(), Code::Unauthenticated);
    let issued = anonymous.sign_in(sign_in("second password 2")).await?.into_inner();
    let credentials = switchboard_auth::Credentials::bearer(&issued.token).map_err(anyhow::Error::msg)?;
    let me = AuthClient::new(common::Api::new(bare(&cluster).await?, credentials))
        .who_am_i(WhoAmIRequest {})
        .await?;
    let me = me.into_inner();
    assert_eq!((me.subject.as_str(), me.role.as_str(), me.tenant.as_str()), ("ana", "agent", "default"));
    let unknown = SignInRequest { subject: "nobody".into(), ..sign_in("second password 2") };
    assert_eq!(
        anonymous.sign_in(unknown).await.expect_err("unknown").message(),
        old.message(),
        "same answer"
    );

    // Five wrong passwords a minute per person: then even the right one waits.
    for _ in 0..5 {
        let _ = anonymous.sign_in(sign_in("guess guess guess")).await;
    }
    let limited = anonymous.sign_in(sign_in("second password 2")).await.expect_err("limited");
    assert_eq!(limited.code(), Code::ResourceExhausted, "{limited:?}");
    cluster.stop().await
}

#[tokio::test]
async fn people_sign_in_with_their_email_which_is_one_persons_and_stops_working_once_changed()
-> anyhow::Result<()> {
    use switchboard_proto::auth::v1::{SetPasswordRequest, SignInRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut admin = AuthClient::new(cluster.channel().await?);
    let set = |subject: &str, email: &str| SetPasswordRequest {
        subject: subject.into(),
        role: "supervisor".into(),
        password: "a long enough password".into(),
        email: email.into(),
    };
    admin.set_password(set("sue", "Sue.Lee@Acme.example")).await?;
    let mut anonymous = AuthClient::new(bare(&cluster).await?);
    let sign_in = |name: &str| SignInRequest {
        tenant: "default".into(),
        subject: name.into(),
        password: "a long enough password".into(),
    };
    let issued = anonymous.sign_in(sign_in("sue.lee@acme.example")).await?.into_inner();
    let identity = issued.identity.unwrap_or_default();
    assert_eq!(
        (identity.subject.as_str(), identity.role.as_str()),
        ("sue", "supervisor"),
        "the email names sue"
    );
    anonymous.sign_in(sign_in("sue")).await?;

    let bad = admin.set_password(set("tom", "not an address")).await.expect_err("not an email");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let taken = admin.set_password(set("tom", "sue.lee@acme.example")).await.expect_err("sue's");
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    // A new password without an email keeps the email; a new email frees the old one.
    admin.set_password(set("sue", "")).await?;
    anonymous.sign_in(sign_in("Sue.Lee@acme.example")).await?;
    admin.set_password(set("sue", "sue@acme.example")).await?;
    let old = anonymous.sign_in(sign_in("sue.lee@acme.example")).await.expect_err("given up");
    assert_eq!(old.code(), Code::Unauthenticated);
    anonymous.sign_in(sign_in("sue@acme.example")).await?;
    admin.set_password(set("tom", "sue.lee@acme.example")).await?;
    let tom = anonymous.sign_in(sign_in("sue.lee@acme.example")).await?.into_inner();
    assert_eq!(tom.identity.unwrap_or_default().subject, "tom", "the freed email is tom's now");
    cluster.stop().await
}
