//! The voice webhook, as a telephony provider calls it (form posts signed with
//! `X-Twilio-Signature`, TwiML answers): a caller asks for their balance and data usage, activates
//! their SIM by saying its last digits, then asks for a person and is put through.

mod common;

use base64::Engine as _;
use common::{Backing, Cluster, wait_for_event};
use hmac::{Hmac, Mac as _};
use switchboard_bus::{DEFAULT_TENANT, Draft};
use switchboard_proto::{
    events::v1::{AccountUpdated, event::Body},
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};

const TOKEN: &str = "twilio-auth-token-for-tests";
const CALLER: &str = "+15550100";
/// The German line's caller: its own number, so that no other test's PIN tries count against it.
const GERMAN_CALLER: &str = "+4930555010";

const TELECOM_RULES: &str = r#"
playbooks:
  sim_activation: {queue: mobile}
rules:
  - name: human
    when: {keywords: [person, human, agent]}
    then: {action: escalate, queue: mobile, priority: high}
  - name: sim-activation
    when: {keywords: [activate, activation]}
    then: {action: answer, playbook: sim_activation, queue: mobile}
  - name: data-usage
    when: {keywords: [data, usage, gigabytes]}
    then: {action: answer, playbook: data_usage, queue: mobile}
  - name: billing
    when: {keywords: [balance, bill, owe]}
    then: {action: answer, playbook: account_balance, queue: billing}
  - name: everything-else
    then: {action: queue, queue: mobile}
"#;

/// Signed as the provider signs: HMAC-SHA1 over the URL and the sorted fields, base64.
fn signature(url: &str, fields: &[(&str, &str)]) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A cluster whose voice webhook takes signed calls and puts people through to the support line,
/// deciding by `rules`.
async fn voice_cluster(rules: &str) -> anyhow::Result<(Backing, Cluster)> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.twilio_auth_token = Some(TOKEN.into());
    config.channels.support_line = Some("+15550199".into());
    let cluster = Cluster::start(config).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    Ok((backing, cluster))
}

/// Publishes the shop's account record and waits until the voice channel (its PIN) and the
/// router (its balance) both hold it: a call made before would find no account, and be told so.
async fn publish_account(
    backing: &Backing,
    bus: &switchboard_bus::Bus,
    account: AccountUpdated,
) -> anyhow::Result<()> {
    let customer = account.customer_id.clone();
    bus.publish(&Draft::new(DEFAULT_TENANT, "p15550100", Body::AccountUpdated(account)).build()?).await?;
    let pool = backing.database.pool().await?;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let (pins, accounts): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM channels.voice_pins WHERE customer_id = $1),
                    (SELECT count(*) FROM router.accounts WHERE customer_id = $1)",
        )
        .bind(&customer)
        .fetch_one(&pool)
        .await?;
        if pins > 0 && accounts > 0 {
            pool.close().await;
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the account of {customer} was never projected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

struct Call {
    base: String,
    sid: &'static str,
    next: String,
    /// Who calls (`From`).
    caller: &'static str,
}

impl Call {
    async fn post(&self, path: &str, fields: &[(&str, &str)], signed: bool) -> anyhow::Result<(u16, String)> {
        let url = format!("{}{path}", self.base);
        let mut request = reqwest::Client::new().post(&url).form(fields);
        if signed {
            request = request.header("X-Twilio-Signature", signature(&url, fields));
        }
        let response = request.send().await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// Says `speech` at the current turn; returns what the caller hears and moves on.
    async fn say(&mut self, speech: &str) -> anyhow::Result<String> {
        let fields =
            [("CallSid", self.sid), ("From", self.caller), ("SpeechResult", speech), ("Confidence", "0.92")];
        self.answer(&fields).await
    }

    /// Keys in `digits` ended by `#` at the current turn; returns what the caller hears.
    async fn key_in(&mut self, digits: &str) -> anyhow::Result<String> {
        let keyed = format!("{digits}#");
        self.answer(&[("CallSid", self.sid), ("From", self.caller), ("Digits", keyed.as_str())]).await
    }

    async fn answer(&mut self, fields: &[(&str, &str)]) -> anyhow::Result<String> {
        let (status, twiml) = self.post(&self.next.clone(), fields, true).await?;
        anyhow::ensure!(status == 200, "{status}: {twiml}");
        if let Some(start) = twiml.find("action=\"") {
            let rest = &twiml[start + 8..];
            self.next = rest[..rest.find('"').unwrap_or(0)].replace("&amp;", "&");
        }
        Ok(twiml)
    }
}

#[tokio::test]
async fn a_caller_checks_balance_and_usage_activates_a_sim_and_reaches_a_person() -> anyhow::Result<()> {
    let (backing, cluster) = voice_cluster(TELECOM_RULES).await?;
    let bus = backing.bus().await?;
    let account = AccountUpdated {
        customer_id: CALLER.into(),
        plan: "Unlimited Talk 10 GB".into(),
        balance_minor: 4250,
        currency: "EUR".into(),
        due_date: "2026-12-15".into(),
        data_used_mb: 3277,
        data_allowance_mb: 10240,
        sim_last4: "4821".into(),
        sim_status: "inactive".into(),
        pin_hash: switchboard_channels::voice::pin::hash_pin("2468").map_err(anyhow::Error::msg)?,
    };
    publish_account(&backing, &bus, account).await?;

    let mut call =
        Call { base: format!("http://{}", cluster.http), sid: "CA0001", next: String::new(), caller: CALLER };
    let greeting_fields = [("CallSid", "CA0001"), ("From", CALLER)];
    let (status, greeting) = call.post("/voice/incoming", &greeting_fields, true).await?;
    assert_eq!(status, 200);
    assert!(
        greeting.contains("<Gather input=\"dtmf speech\" language=\"en-US\" finishOnKey=\"#\"")
            && greeting.contains("How can I help"),
        "{greeting}"
    );
    call.next = "/voice/gather?turn=1".into();

    // The caller ID alone (anyone can spoof it) tells nothing; the PIN does.
    let unverified = call.say("What is my balance?").await?;
    assert!(unverified.contains("key in your account PIN") && !unverified.contains("42.50"), "{unverified}");
    let wrong = call.key_in("1357").await?;
    assert!(wrong.contains("not right") && wrong.contains("2 more"), "{wrong}");
    let right = call.key_in("2468").await?;
    assert!(right.contains("that is right"), "{right}");
    let balance = call.say("What is my balance?").await?;
    assert!(balance.contains("Your balance is 42.50 EUR, due on 2026-12-15"), "{balance}");
    assert!(call.next.contains("conversation="), "{}", call.next);
    let usage = call.say("How much data have I used?").await?;
    assert!(usage.contains("6.8 GB are left"), "{usage}");
    let asked = call.say("I want to activate my new SIM card").await?;
    assert!(asked.contains("last four digits"), "{asked}");
    let wrong = call.say("one one one one").await?;
    assert!(wrong.contains("do not match"), "{wrong}");
    let activated = call.say("four eight two one").await?;
    assert!(activated.contains("ending in 4821 is now active"), "{activated}");
    wait_for_event(&bus, "switchboard.events.account.>", |event| match &event.body {
        Some(Body::SimActivated(s)) if s.customer_id == CALLER && s.sim_last4 == "4821" => Some(()),
        _ => None,
    })
    .await?;
    let handed = call.say("Thanks. Can I talk to a person about roaming?").await?;
    assert!(handed.contains("<Dial>+15550199</Dial>"), "{handed}");

    // Unsigned or mis-signed requests are refused; so is a turn without its query.
    let fields = [("CallSid", "CA0002"), ("From", CALLER), ("SpeechResult", "balance")];
    assert_eq!(call.post("/voice/gather?turn=1", &fields, false).await?.0, 403);
    let url = format!("{}/voice/gather?turn=1", call.base);
    let forged = reqwest::Client::new()
        .post(&url)
        .header("X-Twilio-Signature", signature(&url, &[("CallSid", "CA0002")]))
        .form(&fields)
        .send()
        .await?;
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(call.post("/voice/gather", &fields, true).await?.0, 400);
    // Another call from the same (spoofed) number is not verified by the first one's PIN, and
    // wrong PINs are limited: after three in a call a person takes over.
    let mut spoofer =
        Call { base: call.base.clone(), sid: "CA0003", next: "/voice/gather?turn=1".into(), caller: CALLER };
    let told = spoofer.say("What is my balance?").await?;
    assert!(!told.contains("42.50"), "{told}");
    for guess in ["0000", "1111"] {
        assert!(spoofer.key_in(guess).await?.contains("not right"));
    }
    let locked = spoofer.key_in("2222").await?;
    assert!(locked.contains("<Dial>+15550199</Dial>"), "{locked}");
    cluster.stop().await
}

#[tokio::test]
async fn after_hours_a_caller_and_a_texter_hear_when_we_open_and_nobody_is_dialled() -> anyhow::Result<()> {
    use chrono::Timelike as _;
    let backing = Backing::start().await?;
    let (gateway, received) = common::peers::receiver().await?;
    let mut config = backing.config();
    config.channels.twilio_auth_token = Some(TOKEN.into());
    config.channels.support_line = Some("+15550199".into());
    config.channels.webhook_secret = Some("whsec-after-hours".into());
    config.notifier.gateways = [("sms".to_string(), format!("{gateway}/sms"))].into();
    let cluster = Cluster::start(config).await?;
    // Open one hour a day, starting two hours from now: closed whenever the test runs.
    let opens = (chrono::Utc::now().hour() + 2) % 24;
    let rules = format!(
        "calendars:\n  default: {{timezone: UTC, hours: {{mon-sun: \"{opens:02}:00-{:02}:00\"}}}}\nrules:\n\
         \x20 - name: after-hours\n    when: {{business_hours: closed}}\n    then: {{after_hours_reply: true}}\n    continue: true\n\
         \x20 - name: everything-else\n    then: {{action: queue, queue: general}}\n",
        opens + 1
    );
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: rules, wait: true }).await?;

    let mut call = Call {
        base: format!("http://{}", cluster.http),
        sid: "CA0003",
        next: "/voice/gather?turn=1".into(),
        caller: CALLER,
    };
    let heard = call.say("Can someone call me back about my contract?").await?;
    assert!(heard.contains("We are closed right now"), "{heard}");
    assert!(
        heard.contains("call you back") && heard.contains("<Hangup/>") && !heard.contains("<Dial>"),
        "{heard}"
    );

    let text = serde_json::json!({"customer_id": "+15550111", "text": "Is anyone there?", "message_id": "sms-night-1"});
    let (status, _) = common::peers::post_signed(
        &format!("http://{}/hooks/sms", cluster.http),
        Some("whsec-after-hours"),
        serde_json::to_vec(&text)?,
    )
    .await?;
    assert_eq!(status, 202);
    let reply =
        common::peers::received(&received, "/sms", |r| r.json()["customer_id"] == "+15550111").await?;
    let said = reply.json()["text"].as_str().unwrap_or_default().to_string();
    assert!(said.contains("We are closed right now") && said.contains(&format!("{opens:02}:00")), "{said}");
    cluster.stop().await
}

const GERMAN_LINE_RULES: &str = r#"
rules:
  - name: billing
    when: {intents: [billing_invoice]}
    then: {action: answer, playbook: account_balance, queue: billing}
  - name: everything-else
    then: {action: queue, queue: mobile}
"#;

#[tokio::test]
async fn a_number_for_german_callers_greets_hears_and_answers_them_in_german() -> anyhow::Result<()> {
    let (backing, cluster) = voice_cluster(GERMAN_LINE_RULES).await?;
    let bus = backing.bus().await?;
    let account = AccountUpdated {
        customer_id: GERMAN_CALLER.into(),
        plan: "Flex 10".into(),
        balance_minor: 1999,
        currency: "EUR".into(),
        due_date: "2026-12-15".into(),
        pin_hash: switchboard_channels::voice::pin::hash_pin("2468").map_err(anyhow::Error::msg)?,
        ..AccountUpdated::default()
    };
    publish_account(&backing, &bus, account).await?;
    let german = |key: &str| switchboard_phrases::say("de", key, &[]);

    // The number's webhook names its language; every turn after carries it on.
    let mut call = Call {
        base: format!("http://{}", cluster.http),
        sid: "CA0101",
        next: String::new(),
        caller: GERMAN_CALLER,
    };
    let (status, greeting) = call
        .post("/voice/incoming?lang=de-DE", &[("CallSid", "CA0101"), ("From", GERMAN_CALLER)], true)
        .await?;
    assert_eq!(status, 200, "{greeting}");
    assert!(greeting.contains("<Gather input=\"dtmf speech\" language=\"de-DE\""), "{greeting}");
    assert!(greeting.contains(&german("voice.greeting")), "{greeting}");
    assert!(
        greeting.contains(&format!("<Say language=\"de-DE\">{}</Say>", german("voice.silence"))),
        "{greeting}"
    );
    call.next = "/voice/gather?turn=1&lang=de-DE".into();
    let wrong = call.key_in("1357").await?;
    let tries = switchboard_phrases::say("de", "voice.pin_wrong", &[("left", "2")]);
    assert!(wrong.contains(&tries) && wrong.contains("lang=de-DE"), "{wrong}");
    let right = call.key_in("2468").await?;
    assert!(right.contains(&german("voice.pin_right")), "{right}");

    // One word is too little to tell a language by; the line's language is believed.
    let answered = call.say("Rechnung").await?;
    let (classified, _) =
        wait_for_event(&bus, "switchboard.events.classification.>", |event| match &event.body {
            Some(Body::MessageClassified(c)) if c.customer_id == GERMAN_CALLER => Some(c.clone()),
            _ => None,
        })
        .await?;
    assert_eq!((classified.language.as_str(), classified.language_reliable), ("de", true));
    assert_eq!(classified.conversation_language, "de");
    let balance = switchboard_phrases::say(
        "de",
        "account.balance",
        &[("money", "19.99 EUR"), ("date", "2026-12-15"), ("plan", "Flex 10")],
    );
    assert!(answered.contains(&format!("<Say language=\"de-DE\">{balance}")), "{answered}");
    assert!(answered.contains(&german("voice.anything_else")), "{answered}");

    // A tag that is not a language is refused; one without texts of its own is held in English.
    let (status, _) = call
        .post("/voice/incoming?lang=%3Cx%3E", &[("CallSid", "CA0102"), ("From", GERMAN_CALLER)], true)
        .await?;
    assert_eq!(status, 400);
    let (_, polish) = call
        .post("/voice/incoming?lang=pl-PL", &[("CallSid", "CA0103"), ("From", GERMAN_CALLER)], true)
        .await?;
    assert!(polish.contains("language=\"en-US\"") && polish.contains("How can I help"), "{polish}");
    cluster.stop().await
}

/// Sends a message on the web channel and waits for its decision.
async fn turn(
    cluster: &Cluster,
    bus: &switchboard_bus::Bus,
    conversation: Option<&str>,
    text: &str,
    key: &str,
) -> anyhow::Result<switchboard_proto::events::v1::MessageRouted> {
    let mut request = common::verified_message("c-sim", text, key);
    request.conversation_id = conversation.map(str::to_string);
    let sent = common::submit(cluster, request).await?;
    let (routed, _) = wait_for_event(bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.message_id == sent.message_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    Ok(routed)
}

#[tokio::test]
async fn guessing_sim_digits_stops_after_five_wrong_answers_a_day_whatever_the_conversation()
-> anyhow::Result<()> {
    use switchboard_proto::events::v1::RouteAction;
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: TELECOM_RULES.into(), wait: true }).await?;
    let bus = backing.bus().await?;
    let account = AccountUpdated {
        customer_id: "c-sim".into(),
        sim_last4: "4821".into(),
        sim_status: "inactive".into(),
        ..Default::default()
    };
    bus.publish(&Draft::new(DEFAULT_TENANT, "acct-c-sim", Body::AccountUpdated(account)).build()?).await?;

    // Three wrong answers end the first conversation with a person; two more in a second one.
    let first = turn(&cluster, &bus, None, "Please activate my SIM", "g-1").await?;
    let conversation = first.conversation_id.clone();
    for (digits, key) in [("1111", "g-2"), ("2222", "g-3")] {
        assert_eq!(
            turn(&cluster, &bus, Some(&conversation), digits, key).await?.action(),
            RouteAction::AutoReply
        );
    }
    assert_eq!(
        turn(&cluster, &bus, Some(&conversation), "3333", "g-4").await?.action(),
        RouteAction::Escalate
    );
    let second = turn(&cluster, &bus, None, "Activate my SIM card please", "g-5").await?;
    for (digits, key) in [("4444", "g-6"), ("5555", "g-7")] {
        turn(&cluster, &bus, Some(&second.conversation_id), digits, key).await?;
    }
    // Now even the right digits go to a person, in a new conversation.
    let third = turn(&cluster, &bus, None, "I need to activate my SIM", "g-8").await?;
    let locked = turn(&cluster, &bus, Some(&third.conversation_id), "four eight two one", "g-9").await?;
    assert_eq!(locked.action(), RouteAction::Escalate, "{locked:?}");
    let activations = common::events(&bus, "switchboard.events.account.>").await?;
    assert!(!activations.iter().any(|e| matches!(e.body, Some(Body::SimActivated(_)))), "nothing activated");
    cluster.stop().await
}
