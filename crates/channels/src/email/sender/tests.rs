use std::{collections::BTreeMap, time::Duration};

use base64::Engine as _;
use mail_auth::{
    common::{crypto::Ed25519Key, headers::HeaderWriter as _},
    dkim::DkimSigner,
};

use super::*;

fn pass(domain: &str) -> Identity {
    Identity { verdict: Verdict::Pass, domain: domain.into() }
}

fn fail(domain: &str) -> Identity {
    Identity { verdict: Verdict::Fail, domain: domain.into() }
}

#[test]
fn given_the_same_domain_in_any_case_when_compared_then_it_is_aligned() {
    assert!(aligned("shop.example", "shop.example"));
    assert!(aligned("Shop.Example", "shop.example."));
}

#[test]
fn given_a_subdomain_of_the_same_organization_when_compared_then_it_is_aligned() {
    assert!(aligned("shop.example", "mail.shop.example"));
    assert!(aligned("eu.shop.co.uk", "bounces.shop.co.uk"));
}

#[test]
fn given_another_organization_when_compared_then_it_is_not_aligned() {
    assert!(!aligned("shop.example", "evil.example"));
    assert!(!aligned("shop.example", "shop.example.evil.example"));
    // Under a public suffix, sharing the suffix is not sharing an organization.
    assert!(!aligned("shop.co.uk", "evil.co.uk"));
    assert!(!aligned("alice.github.io", "mallory.github.io"));
    assert!(!aligned("", ""));
    assert!(!aligned("shop.example", ""));
}

#[test]
fn given_an_internationalized_domain_when_compared_with_its_a_label_then_it_is_aligned() {
    assert!(aligned("bücher.example", "xn--bcher-kva.example"));
}

#[test]
fn given_an_aligned_passing_signature_when_decided_then_the_sender_is_verified() {
    let check = decide(Some("shop.example"), &[pass("shop.example")], None);
    assert_eq!(check, SenderCheck { dkim: Verdict::Pass, spf: Verdict::Unchecked, aligned: true });
    assert!(check.verified());
}

#[test]
fn given_a_passing_signature_of_another_domain_when_decided_then_the_sender_is_not_verified() {
    let check = decide(Some("evil.example"), &[pass("shop.example")], None);
    assert_eq!(check, SenderCheck { dkim: Verdict::Pass, spf: Verdict::Unchecked, aligned: false });
}

#[test]
fn given_a_failing_aligned_signature_when_decided_then_the_sender_is_not_verified() {
    let check = decide(Some("shop.example"), &[fail("shop.example"), pass("evil.example")], None);
    assert_eq!((check.dkim, check.aligned), (Verdict::Pass, false));
    let check = decide(Some("shop.example"), &[fail("shop.example")], None);
    assert_eq!((check.dkim, check.aligned), (Verdict::Fail, false));
}

#[test]
fn given_spf_pass_for_an_aligned_mail_from_when_decided_then_the_sender_is_verified() {
    let check = decide(Some("shop.example"), &[], Some(&pass("bounces.shop.example")));
    assert_eq!(check, SenderCheck { dkim: Verdict::None, spf: Verdict::Pass, aligned: true });
}

#[test]
fn given_spf_pass_for_another_domain_or_no_pass_when_decided_then_the_sender_is_not_verified() {
    assert!(!decide(Some("shop.example"), &[], Some(&pass("evil.example"))).verified());
    let soft = Identity { verdict: Verdict::SoftFail, domain: "shop.example".into() };
    assert!(!decide(Some("shop.example"), &[], Some(&soft)).verified());
    let temp = Identity { verdict: Verdict::TempError, domain: "shop.example".into() };
    assert!(!decide(Some("shop.example"), &[], Some(&temp)).verified());
}

#[test]
fn given_no_single_from_domain_when_decided_then_nothing_verifies() {
    let check = decide(None, &[pass("shop.example")], Some(&pass("shop.example")));
    assert!(!check.verified());
}

fn authenticated(raw: &[u8]) -> AuthenticatedMessage<'_> {
    AuthenticatedMessage::parse(raw).expect("a message")
}

#[test]
fn given_one_from_address_when_read_then_its_domain_is_the_author_domain() {
    let raw = b"From: Pat <Pat@Shop.example>\r\nSubject: x\r\n\r\nhi\r\n";
    assert_eq!(author_domain("pat@shop.example", &authenticated(raw)).as_deref(), Some("shop.example"));
}

#[test]
fn given_two_from_headers_or_addresses_when_read_then_there_is_no_author_domain() {
    let two_headers = b"From: pat@shop.example\r\nFrom: mallory@shop.example\r\n\r\nhi\r\n";
    assert_eq!(author_domain("pat@shop.example", &authenticated(two_headers)), None);
    let two_addresses = b"From: pat@shop.example, mallory@evil.example\r\n\r\nhi\r\n";
    assert_eq!(author_domain("pat@shop.example", &authenticated(two_addresses)), None);
    let other = b"From: mallory@shop.example\r\n\r\nhi\r\n";
    assert_eq!(author_domain("pat@shop.example", &authenticated(other)), None);
}

/// A fresh Ed25519 key: signs for `domain` with selector `s1`; its DNS record.
fn key(domain: &str) -> (impl Fn(&[u8]) -> Vec<u8>, (String, String)) {
    key_signing(domain, &["From", "To", "Subject", "Message-ID"])
}

fn key_signing(
    domain: &str,
    headers: &'static [&'static str],
) -> (impl Fn(&[u8]) -> Vec<u8>, (String, String)) {
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("a key");
    let public = Ed25519Key::from_pkcs8_der(&pkcs8).expect("a key").public_key();
    let record =
        format!("v=DKIM1; k=ed25519; p={}", base64::engine::general_purpose::STANDARD.encode(public));
    let name = format!("s1._domainkey.{domain}");
    let domain = domain.to_string();
    let sign = move |raw: &[u8]| {
        let signer = DkimSigner::from_key(Ed25519Key::from_pkcs8_der(&pkcs8).expect("a key"))
            .domain(domain.clone())
            .selector("s1")
            .headers(headers.iter().copied());
        let signature = signer.sign(raw).expect("signed").to_header();
        [signature.as_bytes(), raw].concat()
    };
    (sign, (name, record))
}

fn offline(records: &[(String, String)]) -> SenderAuth {
    let records: BTreeMap<String, String> = records.iter().cloned().collect();
    let settings = SenderVerification { dns: SenderDns::Records(records), ..SenderVerification::default() };
    SenderAuth::new(&settings, "switchboard.test").expect("an authenticator")
}

const MAIL: &[u8] =
    b"From: pat@shop.example\r\nTo: support@acme.example\r\nSubject: Order\r\nMessage-ID: <o1@shop.example>\r\n\r\nWhere is my order 12345?\r\n";

#[tokio::test]
async fn given_a_message_signed_by_its_from_domain_when_checked_then_it_is_verified() {
    let (sign, record) = key("shop.example");
    let senders = offline(&[record]);
    let check = senders.check(&sign(MAIL), "pat@shop.example", None).await;
    assert_eq!(check, SenderCheck { dkim: Verdict::Pass, spf: Verdict::Unchecked, aligned: true });
}

#[tokio::test]
async fn given_a_valid_signature_that_does_not_sign_from_when_checked_then_it_is_not_verified() {
    let (sign, record) = key_signing("shop.example", &["To", "Subject", "Message-ID"]);
    let check = offline(&[record]).check(&sign(MAIL), "pat@shop.example", None).await;
    assert_eq!((check.dkim, check.aligned), (Verdict::Neutral, false));
}

#[tokio::test]
async fn given_a_tampered_body_when_checked_then_it_is_not_verified() {
    let (sign, record) = key("shop.example");
    let senders = offline(&[record]);
    let signed = String::from_utf8(sign(MAIL)).expect("text").replace("12345", "99999");
    let check = senders.check(signed.as_bytes(), "pat@shop.example", None).await;
    assert!(!check.verified(), "{check:?}");
    assert_ne!(check.dkim, Verdict::Pass);
}

#[tokio::test]
async fn given_a_signature_whose_key_is_not_in_dns_when_checked_then_it_is_not_verified() {
    let (sign, _) = key("shop.example");
    let check = offline(&[]).check(&sign(MAIL), "pat@shop.example", None).await;
    assert_eq!((check.dkim, check.aligned), (Verdict::TempError, false));
}

fn client(mail_from: &str) -> SmtpClient {
    SmtpClient {
        ip: "127.0.0.1".parse().expect("an ip"),
        helo: "client.test".into(),
        mail_from: mail_from.into(),
    }
}

#[tokio::test]
async fn given_spf_allowing_the_client_for_the_from_domain_when_checked_then_it_is_verified() {
    let senders = offline(&[("shop.example".into(), "v=spf1 ip4:127.0.0.1 -all".into())]);
    let check = senders.check(MAIL, "pat@shop.example", Some(&client("pat@shop.example"))).await;
    assert_eq!(check, SenderCheck { dkim: Verdict::None, spf: Verdict::Pass, aligned: true });
}

#[tokio::test]
async fn given_spf_pass_for_an_unaligned_mail_from_when_checked_then_it_is_not_verified() {
    let senders = offline(&[("evil.example".into(), "v=spf1 ip4:127.0.0.1 -all".into())]);
    let check = senders.check(MAIL, "pat@shop.example", Some(&client("bounce@evil.example"))).await;
    assert_eq!((check.spf, check.aligned), (Verdict::Pass, false));
}

#[tokio::test]
async fn given_spf_excluding_the_client_when_checked_then_it_is_not_verified() {
    let senders = offline(&[("shop.example".into(), "v=spf1 ip4:192.0.2.1 -all".into())]);
    let check = senders.check(MAIL, "pat@shop.example", Some(&client("pat@shop.example"))).await;
    assert_eq!((check.spf, check.aligned), (Verdict::Fail, false));
}

#[tokio::test]
async fn given_no_dns_at_all_when_checked_then_it_ends_unverified_well_within_the_deadline() {
    let settings = SenderVerification {
        dns: SenderDns::Records(BTreeMap::new()),
        deadline: Duration::from_secs(3600),
        ..SenderVerification::default()
    };
    let senders = SenderAuth::new(&settings, "switchboard.test").expect("an authenticator");
    // Were a lookup to wait on a server, this would hang for an hour rather than end.
    let check = senders.check(MAIL, "pat@shop.example", Some(&client("pat@shop.example"))).await;
    assert_eq!(check, SenderCheck { dkim: Verdict::None, spf: Verdict::TempError, aligned: false });
}
