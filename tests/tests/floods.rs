//! Floods and slow clients against the channels' listeners: HTTP headers sent too slowly, too
//! many connections, too many requests from one address, unsigned webhooks with huge bodies,
//! SMTP connections per address and held too long, and chat frames past a socket's budget. Each
//! limit holds, and says so the way its protocol expects.

mod common;

use std::{num::NonZeroU32, time::Duration};

use common::{Backing, Cluster, WAIT};
use futures::{SinkExt as _, StreamExt as _};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::TcpStream,
};

fn n(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("non-zero")
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream) -> anyhow::Result<String> {
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut seen)).await??;
    Ok(String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn the_http_listener_closes_slow_headers_refuses_past_its_caps_and_rate_limits() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.webhook_secret = Some("whsec-floods".into());
    config.channels.http_limits = switchboard_channels::http::HttpLimits {
        max_connections: 3,
        max_per_client: 2,
        header_timeout: Duration::from_secs(2),
        per_client_rate: n(1),
        per_client_burst: n(5),
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;

    // Headers that never end: the connection is closed once their deadline passes.
    let mut slow = TcpStream::connect(cluster.http).await?;
    slow.write_all(b"GET /chat/widget.js HTTP/1.1\r\nHost: x\r\n").await?;
    until_closed(&mut slow).await?;

    // Two connections hold this address's places: a third is answered 503 and closed.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(cluster.http).await?);
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // let the listener accept them
    let mut fourth = TcpStream::connect(cluster.http).await?;
    let answer = until_closed(&mut fourth).await?;
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("Retry-After"), "{answer:?}");
    drop(held);

    // Past the burst from one address: 429 with Retry-After.
    let client = reqwest::Client::new();
    let url = format!("http://{}/console/api/me", cluster.http);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let response = client.get(&url).send().await?;
        if response.status() == 429 {
            let wait: u64 = response.headers()["retry-after"].to_str()?.parse()?;
            assert!(wait >= 1, "{wait}");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");

    // Files served from memory are not counted: a page load asks for dozens at once (the
    // console's scripts), and the widget's script is fetched by every page a site shows.
    for file in ["console/", "console/js/main.js", "console/console.css", "chat/widget.js", "chat/demo"] {
        for _ in 0..10 {
            let response = client.get(format!("http://{}/{file}", cluster.http)).send().await?;
            assert_eq!(response.status(), 200, "{file}");
        }
    }
    assert_eq!(client.get(&url).send().await?.status(), 429, "the API's budget is still spent");
    let nothing = client.get(format!("http://{}/no/such/path", cluster.http)).send().await?;
    assert_eq!(nothing.status(), 429, "a path nothing serves is counted too");
    cluster.stop().await
}

#[tokio::test]
async fn an_unsigned_webhook_is_refused_before_its_body_is_read() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.webhook_secret = Some("whsec-floods".into());
    config.channels.max_email_bytes = 2 << 20;
    config.channels.webhook_bytes_in_flight = 3 << 19; // room for one 1 MiB body, not two
    let cluster = Cluster::start(config).await?;
    // Headers promising 500 MB and no signature, and then nothing: the answer comes at once.
    let mut stream = TcpStream::connect(cluster.http).await?;
    let head = "POST /hooks/sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000000\r\n\r\n";
    stream.write_all(head.as_bytes()).await?;
    let mut first = vec![0; 64];
    let read = tokio::time::timeout(WAIT, stream.read(&mut first)).await??;
    assert!(String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 401"), "{:?}", &first[..read]);
    // Signed, but declaring more than the limit: refused the same way, with 413.
    let mut stream = TcpStream::connect(cluster.http).await?;
    let signature = common::peers::sign("whsec-floods", chrono::Utc::now().timestamp(), b"");
    let head = format!(
        "POST /hooks/sms HTTP/1.1\r\nHost: x\r\nX-Switchboard-Signature: {signature}\r\nContent-Length: 500000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let read = tokio::time::timeout(WAIT, stream.read(&mut first)).await??;
    assert!(String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 413"), "{:?}", &first[..read]);

    // A freshly forged signature passes the header check, so the bodies being read at once are
    // bounded: while one email body holds the budget, the next is answered 503.
    let mut holding = TcpStream::connect(cluster.http).await?;
    let forged = format!("t={},v1={}", chrono::Utc::now().timestamp(), "0".repeat(64));
    let head = |length: usize| {
        format!(
            "POST /email/inbound HTTP/1.1\r\nHost: x\r\nX-Switchboard-Signature: {forged}\r\nContent-Length: {length}\r\n\r\n"
        )
    };
    holding.write_all(head(1 << 20).as_bytes()).await?; // and no body: it holds its room
    tokio::time::sleep(Duration::from_millis(300)).await; // let the listener read those headers
    let mut next = TcpStream::connect(cluster.http).await?;
    next.write_all(head(1 << 20).as_bytes()).await?;
    let read = tokio::time::timeout(WAIT, next.read(&mut first)).await??;
    let answer = String::from_utf8_lossy(&first[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    drop(holding);
    cluster.stop().await
}

/// The webhook secret of a second site (tenant), acme.
const ACME_SECRET: &str = "whsec-acme-floods-0123456789abcdef0123";

/// A site (tenant) past its rate of signed webhooks is answered 429 with `Retry-After`, while
/// another site's are still taken; forged requests spend no site's budget.
#[tokio::test]
async fn a_site_past_its_webhook_rate_gets_429_and_other_sites_do_not() -> anyhow::Result<()> {
    use common::peers::post_signed;
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.webhook_secret = Some("whsec-floods".into());
    let acme = switchboard_channels::tenants::TenantChannels {
        webhook_secret: Some(ACME_SECRET.into()),
        ..Default::default()
    };
    config.channels.tenants = std::collections::BTreeMap::from([("acme".to_string(), acme)]);
    config.channels.http_limits = switchboard_channels::http::HttpLimits {
        per_client_rate: n(1000),
        per_client_burst: n(1000),
        per_site_rate: n(1),
        per_site_burst: n(3),
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;
    let body = |i: usize| {
        serde_json::json!({"customer_id": "c-1", "text": "Where is my parcel?", "message_id": format!("m-{i}")})
            .to_string()
            .into_bytes()
    };
    let default_site = format!("http://{}/hooks/sms", cluster.http);
    // Forged requests first: refused as unsigned, and they spend nothing.
    for i in 0..5 {
        let (status, _) = post_signed(&default_site, Some("not-the-secret"), body(i)).await?;
        assert_eq!(status, 401);
    }
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(post_signed(&default_site, Some("whsec-floods"), body(i)).await?.0);
    }
    assert_eq!(&statuses[..3], [202, 202, 202], "the burst is taken: {statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let acme_site = format!("http://{}/tenants/acme/hooks/sms", cluster.http);
    let (status, _) = post_signed(&acme_site, Some(ACME_SECRET), body(0)).await?;
    assert_eq!(status, 202, "another site keeps its own budget");
    let response = reqwest::Client::new()
        .post(&default_site)
        .header(
            "X-Switchboard-Signature",
            common::peers::sign("whsec-floods", chrono::Utc::now().timestamp(), &body(9)),
        )
        .body(body(9))
        .send()
        .await?;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"), "{:?}", response.headers());
    cluster.stop().await
}

/// A body sent too slowly gets 408 once the request deadline passes, and a kept-alive connection
/// left idle is closed at the header deadline.
#[tokio::test]
async fn a_slow_body_gets_408_and_an_idle_kept_alive_connection_is_closed() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.webhook_secret = Some("whsec-floods".into());
    config.channels.http_limits = switchboard_channels::http::HttpLimits {
        header_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;
    let mut stream = TcpStream::connect(cluster.http).await?;
    let signature = common::peers::sign("whsec-floods", chrono::Utc::now().timestamp(), b"{}");
    let head = format!(
        "POST /hooks/sms HTTP/1.1\r\nHost: x\r\nX-Switchboard-Signature: {signature}\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await?; // one byte of the hundred promised, then nothing
    let mut first = vec![0; 64];
    let read = tokio::time::timeout(WAIT, stream.read(&mut first)).await??;
    assert!(String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 408"), "{:?}", &first[..read]);

    let mut kept = TcpStream::connect(cluster.http).await?;
    kept.write_all(b"GET /chat/widget.js HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n").await?;
    let answer = until_closed(&mut kept).await?;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "answered, then closed once idle: {:?}",
        &answer[..40.min(answer.len())]
    );
    cluster.stop().await
}

/// An SMTP conversation's next reply line.
async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> anyhow::Result<String> {
    let mut line = String::new();
    tokio::time::timeout(WAIT, read.read_line(&mut line)).await??;
    Ok(line)
}

#[tokio::test]
async fn the_smtp_listener_limits_connections_per_address_and_a_session_s_length() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.smtp_limits = switchboard_channels::email::SmtpLimits {
        max_per_client: 2,
        session_deadline: Duration::from_secs(2),
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let (read, write) = TcpStream::connect(cluster.smtp).await?.into_split();
        let mut read = BufReader::new(read);
        assert!(reply(&mut read).await?.starts_with("220"));
        sessions.push((read, write));
    }
    let (read, _write) = TcpStream::connect(cluster.smtp).await?.into_split();
    let refused = reply(&mut BufReader::new(read)).await?;
    assert!(refused.starts_with("421") && refused.contains("too many connections"), "{refused}");
    // A session that keeps talking is still ended at its deadline.
    let (read, write) = &mut sessions[0];
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            write.write_all(b"NOOP\r\n").await?;
            let line = reply(read).await?;
            if line.starts_with("421") || line.is_empty() {
                return anyhow::Ok(line);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await??;
    assert!(ended.is_empty() || ended.contains("session too long"), "{ended}");
    cluster.stop().await
}

#[tokio::test]
async fn a_chat_socket_past_its_budget_is_told_to_slow_down_and_then_closed() -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::Message;
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    config.channels.chat_limits = switchboard_channels::chat::ChatLimits {
        socket_rate: n(1),
        socket_burst: n(3),
        strikes: 5,
        max_sockets_per_client: 2,
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;
    let url = format!("ws://{}/chat/ws?site=demo&visitor=v-flood", cluster.http);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    for _ in 0..20 {
        socket.send(Message::text(r#"{"type":"typing"}"#)).await?;
    }
    let (mut slow_down, mut closed) = (0, None);
    let _ = tokio::time::timeout(WAIT, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Text(text)) if text.contains("slow down") => slow_down += 1,
                Ok(Message::Close(frame)) => {
                    closed = frame.map(|f| u16::from(f.code));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
    .await;
    assert!(slow_down >= 1, "no slow-down frame");
    assert_eq!(closed, Some(1008), "the socket was not closed for policy");
    drop(socket);

    // Sockets outlive their HTTP connection, so they have a cap per address of their own.
    let mut open = Vec::new();
    let mut refused = None;
    for visitor in 0..4 {
        let url = format!("ws://{}/chat/ws?site=demo&visitor=v-many-{visitor}", cluster.http);
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => open.push(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                refused = Some(response.status().as_u16());
                break;
            }
            Err(other) => return Err(other.into()),
        }
    }
    assert_eq!(refused, Some(429), "{} sockets were opened", open.len());
    assert!(open.len() <= 2, "{} sockets were opened", open.len());
    cluster.stop().await
}

/// A host flooding a site through several sockets is held to its own budget, so the site's
/// budget is left for its other customers: one on another address is let in at once.
#[tokio::test]
async fn a_host_flooding_a_site_leaves_the_sites_budget_to_its_other_customers() -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    config.channels.chat_limits = switchboard_channels::chat::ChatLimits {
        client_message_rate: n(1),
        client_message_burst: n(3),
        site_message_rate: n(1),
        site_message_burst: n(10),
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;
    let message = |id: String| {
        Message::text(serde_json::json!({"type": "message", "id": id, "text": "flood"}).to_string())
    };
    // Given four sockets from 127.0.0.1, each sending five messages (its own burst): twenty
    let mut flooders = Vec::new();
    for socket in 0..4 {
        let url = format!("ws://{}/chat/ws?site=demo&visitor=v-flood-{socket}", cluster.http);
        let (mut flooder, _) = tokio_tungstenite::connect_async(url).await?;
        for n in 0..5 {
            flooder.send(message(format!("f-{socket}-{n}"))).await?;
        }
        flooders.push(flooder);
    }
    // when a customer of the same site writes from another address, 127.0.0.2
    let stream = tokio::net::TcpSocket::new_v4()?;
    stream.bind("127.0.0.2:0".parse()?)?;
    let stream = stream.connect(cluster.http).await?;
    let request =
        format!("ws://{}/chat/ws?site=demo&visitor=v-customer", cluster.http).into_client_request()?;
    let (mut customer, _) = tokio_tungstenite::client_async(request, stream).await?;
    customer.send(message("c-1".into())).await?;
    // then the customer's message is taken (the bot starts typing), not refused
    let first = tokio::time::timeout(WAIT, async {
        while let Some(Ok(frame)) = customer.next().await {
            if let Message::Text(text) = frame
                && (text.contains("typing") || text.contains("error"))
            {
                return text.to_string();
            }
        }
        String::new()
    })
    .await?;
    assert!(first.contains("typing"), "the customer was answered {first:?}");
    // and the flooding host was let in three times (its client's burst) of twenty.
    let (mut slow_down, answered_by) = (0, tokio::time::Instant::now() + Duration::from_secs(3));
    for flooder in &mut flooders {
        let _ = tokio::time::timeout_at(answered_by, async {
            while let Some(Ok(frame)) = flooder.next().await {
                if let Message::Text(text) = frame
                    && text.contains("slow down")
                {
                    slow_down += 1;
                }
            }
        })
        .await;
    }
    assert!((15..=17).contains(&slow_down), "{slow_down} of the flood's 20 messages were refused");
    cluster.stop().await
}

/// The server pings a chat socket, and closes one whose customer sends nothing (pongs are not
/// activity) once the idle deadline passes, saying why.
#[tokio::test]
async fn a_silent_chat_socket_is_pinged_then_closed_as_idle() -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::Message;
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    config.channels.chat_limits = switchboard_channels::chat::ChatLimits {
        idle: Duration::from_secs(2),
        ping_every: Duration::from_millis(300),
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;
    let url = format!("ws://{}/chat/ws?site=demo&visitor=v-silent", cluster.http);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let (mut pings, mut closed) = (0, None);
    tokio::time::timeout(WAIT, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Ping(_)) => pings += 1,
                Ok(Message::Close(frame)) => {
                    closed = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
    .await?;
    assert!(pings >= 1, "no ping before the close");
    assert_eq!(closed, Some((1008, "idle".to_string())));
    cluster.stop().await
}
