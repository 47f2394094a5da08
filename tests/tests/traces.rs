//! One customer message is one trace across every process it crosses: the services run as
//! separate `switchboard serve` processes exporting to a real OTLP/gRPC receiver started here,
//! and the spans of the message share its trace id and link parent to child across processes
//! (NATS headers between consumers, gRPC metadata from the router to knowledge). Spans name the
//! tenant, the event type and the conversation, never what the customer wrote.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context as _;
use futures::SinkExt as _;
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
};
use switchboard_proto::events::v1::event::Body;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

const SERVICES: [&str; 6] = ["channels", "intake", "classifier", "router", "knowledge", "notifier"];
const QUESTION: &str = "Where is my order 12345?";

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    attributes: BTreeMap<String, String>,
}

/// The collector's trace service: keeps every span exported to it.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().map_err(|_| tonic::Status::internal("lock"))?;
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .map(|attribute| text(attribute.value.as_ref().and_then(|value| value.value.as_ref())))
                .unwrap_or_default();
            for span in resource.scope_spans.into_iter().flat_map(|scope| scope.spans) {
                let attributes = span
                    .attributes
                    .iter()
                    .map(|a| (a.key.clone(), text(a.value.as_ref().and_then(|value| value.value.as_ref()))))
                    .collect();
                kept.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace: span.trace_id,
                    id: span.span_id,
                    parent: span.parent_span_id,
                    attributes,
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::IntValue(number)) => number.to_string(),
        Some(Value::BoolValue(flag)) => flag.to_string(),
        Some(Value::DoubleValue(number)) => number.to_string(),
        _ => String::new(),
    }
}

impl Receiver {
    async fn start(self) -> anyhow::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(self))
                .serve_with_incoming(incoming),
        );
        Ok(address)
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().map(|spans| spans.clone()).unwrap_or_default()
    }
}

/// `count` distinct free loopback addresses: held together while they are picked, so that no
/// two are the same port.
fn loopbacks(count: usize) -> anyhow::Result<Vec<SocketAddr>> {
    let held: Vec<std::net::TcpListener> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    Ok(held.iter().map(std::net::TcpListener::local_addr).collect::<Result<_, _>>()?)
}

/// Starts one process per service, each exporting its spans to `collector`.
fn start(
    backing: &common::Backing,
    collector: SocketAddr,
    grpc: &BTreeMap<&str, SocketAddr>,
    (http, smtp): (SocketAddr, SocketAddr),
) -> anyhow::Result<Vec<Child>> {
    let endpoint = |service: &str| format!("http://{}", grpc[service]);
    let mut children = Vec::new();
    for service in SERVICES {
        let child = Command::new(common::switchboard_binary()?)
            .arg("serve")
            .env_clear()
            .envs(
                ["PATH", "HOME", "TMPDIR"].iter().filter_map(|name| Some((*name, std::env::var(name).ok()?))),
            )
            .env("RUST_LOG", "info")
            .env("SWITCHBOARD_SERVICES", service)
            .env("SWITCHBOARD_GRPC_ADDR", grpc[service].to_string())
            .env("SWITCHBOARD_NATS_URL", backing.nats.url())
            .env("SWITCHBOARD_DATABASE_URL", &backing.database.url)
            .env("SWITCHBOARD_AUTH_KEY", switchboard_testkit::TEST_AUTH_KEY)
            .env("SWITCHBOARD_KNOWLEDGE_ENDPOINT", endpoint("knowledge"))
            .env("SWITCHBOARD_INTAKE_ENDPOINT", endpoint("intake"))
            .env("SWITCHBOARD_HTTP_ADDR", http.to_string())
            .env("SWITCHBOARD_SMTP_ADDR", smtp.to_string())
            .env("SWITCHBOARD_METRICS_ADDR", "off")
            .env("SWITCHBOARD_CHAT_SITES", r#"{"demo": "*"}"#)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
            .env("OTEL_SERVICE_NAME", service)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        children.push(child);
    }
    Ok(children)
}

/// Whether every service has exported its part: a span each, knowledge's call span, and the
/// notifier's handling of the reply (processes export in batches, in their own time).
fn complete(trace: &[Received]) -> bool {
    let services: BTreeSet<&str> = trace.iter().map(|span| span.service.as_str()).collect();
    let has = |service: &str, name: &str, event_type: Option<&str>| {
        trace.iter().any(|span| {
            span.service == service
                && span.name == name
                && event_type
                    .is_none_or(|wanted| span.attributes.get("event_type").is_some_and(|t| t == wanted))
        })
    };
    SERVICES.iter().all(|service| services.contains(service))
        && has("knowledge", "grpc", None)
        && has("notifier", "handle", Some("reply.reply_requested"))
        && has("intake", "handle", None)
}

/// The spans of the trace that the web channel's `inbound` span started, once every service
/// has exported its part.
async fn trace_of_the_message(receiver: &Receiver) -> anyhow::Result<Vec<Received>> {
    tokio::time::timeout(common::WAIT, async {
        loop {
            let spans = receiver.spans();
            let root = spans.iter().find(|span| {
                span.name == "inbound" && span.attributes.get("channel").is_some_and(|c| c == "web")
            });
            if let Some(root) = root {
                let trace: Vec<Received> =
                    spans.iter().filter(|span| span.trace == root.trace).cloned().collect();
                if complete(&trace) {
                    return trace;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .with_context(|| format!("no trace spanning {SERVICES:?}: {:#?}", receiver.spans()))
}

#[tokio::test]
async fn a_message_is_one_trace_across_every_process_it_crosses() -> anyhow::Result<()> {
    let backing = common::Backing::start().await?;
    let receiver = Receiver::default();
    let collector = receiver.clone().start().await?;
    let mut addresses = loopbacks(SERVICES.len() + 2)?;
    let (http, smtp) = (addresses.remove(0), addresses.remove(0));
    let grpc: BTreeMap<&str, SocketAddr> = SERVICES.into_iter().zip(addresses).collect();
    let _children = start(&backing, collector, &grpc, (http, smtp))?;
    for address in grpc.values() {
        common::wait_serving(*address).await?;
    }
    common::publish_tracking_article(grpc["knowledge"]).await?;

    // A visitor asks in the web chat; the bot answers from the knowledge base.
    let url = format!("ws://{http}/chat/ws?site=demo&visitor=v-traced");
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await?;
    let question = serde_json::json!({ "type": "message", "id": "m-1", "text": QUESTION });
    socket.send(Message::text(question.to_string())).await?;
    let bus = backing.bus().await?;
    let (conversation, _) =
        common::wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
            Some(Body::ReplyDelivered(delivered)) => Some(delivered.conversation_id.clone()),
            _ => None,
        })
        .await?;

    let trace = trace_of_the_message(&receiver).await?;
    let by_id: BTreeMap<&[u8], &Received> = trace.iter().map(|span| (span.id.as_slice(), span)).collect();
    let parent_of = |span: &Received| by_id.get(span.parent.as_slice()).copied();
    // Each process after the channel has a span whose parent is in another process.
    for service in &SERVICES[1..] {
        let crossing = trace
            .iter()
            .filter(|span| span.service == *service)
            .find_map(|span| parent_of(span).filter(|parent| parent.service != *service));
        assert!(
            crossing.is_some(),
            "no span of {service} is the child of another process's span: {trace:#?}"
        );
    }
    // Knowledge answers the router over gRPC: its call span is the child of the router's.
    let answer = trace
        .iter()
        .find(|span| span.service == "knowledge" && span.name == "grpc")
        .context("knowledge's call span")?;
    assert_eq!(parent_of(answer).map(|parent| parent.service.as_str()), Some("router"), "{answer:#?}");
    // Handling spans name the tenant, the event type and the conversation; nothing the customer
    // wrote is in any span.
    let handled: Vec<&Received> = trace.iter().filter(|span| span.name == "handle").collect();
    assert!(handled.iter().any(|span| span.service == "notifier"));
    for span in &handled {
        assert_eq!(span.attributes.get("tenant").map(String::as_str), Some("default"), "{span:#?}");
        assert_eq!(span.attributes.get("conversation"), Some(&conversation), "{span:#?}");
    }
    let types: BTreeSet<&str> =
        handled.iter().filter_map(|span| span.attributes.get("event_type")).map(String::as_str).collect();
    assert!(
        types.contains("conversation.message_received") && types.contains("reply.reply_requested"),
        "{types:?}"
    );
    for span in &trace {
        assert!(span.attributes.values().all(|value| !value.contains("order 12345")), "{span:#?}");
    }
    let _ = socket.close(None).await;
    Ok(())
}
