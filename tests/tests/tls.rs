//! TLS on the gRPC listener: clients that trust the certificate are served, plaintext ones are
//! not, and the services' own calls to each other (the router asking knowledge) go over TLS too.

mod common;

use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_proto::{
    auth::v1::{WhoAmIRequest, auth_client::AuthClient},
    events::v1::{RouteAction, event::Body},
};
use switchboard_testkit::TestCertificates;

#[tokio::test]
async fn the_grpc_listener_serves_tls_and_services_call_each_other_over_it() -> anyhow::Result<()> {
    let made = TestCertificates::make()?;
    let read = |path: std::path::PathBuf| TestCertificates::read(&path);
    let (ca, certificate, key) = (read(made.ca())?, read(made.certificate())?, read(made.key())?);
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.tls =
        Some(switchboard_server::ServerTls { certificate, key, ca: Some(ca), domain: "localhost".into() });
    let cluster = Cluster::start(config).await?;

    let me = AuthClient::new(cluster.channel().await?).who_am_i(WhoAmIRequest {}).await?.into_inner();
    assert_eq!(me.subject, "test-admin");
    let plaintext = common::connect(cluster.address, None).await;
    let refused = match plaintext {
        Err(_) => true,
        Ok(channel) => {
            let api = common::Api::new(
                channel,
                switchboard_testkit::credentials("default", switchboard_auth::Role::Admin, "x"),
            );
            AuthClient::new(api).who_am_i(WhoAmIRequest {}).await.is_err()
        }
    };
    assert!(refused, "a plaintext client was served");

    // The router reaches knowledge through the TLS listener to answer from an article.
    common::publish_tracking_article_with(&cluster).await?;
    let sent = submit(&cluster, message("c-1", "Where is my order 12345?", "k-1")).await?;
    let bus = backing.bus().await?;
    let (routed, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.conversation_id == sent.conversation_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    assert_eq!(routed.article_ids, ["track-your-order"]);
    cluster.stop().await
}

#[tokio::test]
async fn the_database_url_sslmode_is_honoured() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let with = |mode: &str| {
        let separator = if backing.database.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}sslmode={mode}", backing.database.url)
    };
    let plain = sqlx::PgPool::connect(&backing.database.url).await?;
    let server_has_ssl: String = sqlx::query_scalar("SHOW ssl").fetch_one(&plain).await?;
    let config = |mode: &str| switchboard_server::Config { database_url: with(mode), ..backing.config() };
    if server_has_ssl == "on" {
        let deps = switchboard_server::connect(&config("require")).await?;
        let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&deps.pool)
            .await?;
        assert!(encrypted, "sslmode=require gave an unencrypted connection");
    } else {
        let refused =
            switchboard_server::connect(&config("require")).await.err().expect("no TLS on the server");
        assert!(format!("{refused:#}").contains("PostgreSQL"), "{refused:#}");
    }
    // verify-full checks the certificate against trusted roots: the test server's is not one of them.
    let refused = switchboard_server::connect(&config("verify-full")).await.err().expect("untrusted");
    assert!(!format!("{refused:#}").contains("password"), "{refused:#}");
    Ok(())
}
