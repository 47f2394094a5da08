//! Replies in the customer's language: for every language the classifier detects, a customer who
//! writes in it gets the bot's reply in it (here the after-hours reply, on the running cluster).

mod common;

use common::{Backing, Cluster, closed_now_rules, message, submit, wait_for_event};
use switchboard_proto::{
    events::v1::event::Body,
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};

/// "Can someone call me back about my contract tomorrow morning?", one per language detected.
const ASKED: &[(&str, &str)] = &[
    ("en", "Can someone call me back about my contract tomorrow morning, please?"),
    ("es", "¿Alguien puede llamarme mañana por la mañana para hablar de mi contrato?"),
    ("fr", "Quelqu'un peut-il me rappeler demain matin au sujet de mon contrat, s'il vous plaît ?"),
    ("de", "Kann mich bitte morgen früh jemand wegen meines Vertrags zurückrufen?"),
    ("pt", "Alguém pode me ligar amanhã de manhã para falar sobre o meu contrato?"),
    ("it", "Qualcuno può richiamarmi domani mattina per parlare del mio contratto, per favore?"),
    ("nl", "Kan iemand mij morgenochtend terugbellen over mijn contract, alstublieft?"),
    ("tr", "Yarın sabah biri beni sözleşmem hakkında geri arayabilir mi, lütfen?"),
    ("vi", "Ai đó có thể gọi lại cho tôi vào sáng mai về hợp đồng của tôi được không?"),
    ("id", "Bisakah seseorang menelepon saya kembali besok pagi tentang kontrak saya?"),
    ("ru", "Может ли кто-нибудь перезвонить мне завтра утром по поводу моего договора?"),
    ("zh-Hans", "请问明天上午能有人给我回电话，谈谈我的合同吗？"),
    ("zh-Hant", "請問明天上午能有人給我回電話，談談我的合約嗎？"),
    ("ja", "明日の朝、契約について誰かから折り返し電話をいただけますか？"),
    ("ko", "내일 아침에 제 계약에 대해 누군가 다시 전화해 주실 수 있나요?"),
    ("th", "พรุ่งนี้เช้ามีใครโทรกลับหาฉันเรื่องสัญญาได้ไหมคะ"),
    ("ar", "هل يمكن لأحد أن يتصل بي صباح الغد بخصوص عقدي؟"),
    ("hi", "क्या कोई कल सुबह मेरे अनुबंध के बारे में मुझे वापस कॉल कर सकता है?"),
    ("he", "האם מישהו יכול לחזור אליי מחר בבוקר בנוגע לחוזה שלי?"),
    ("el", "Μπορεί κάποιος να με καλέσει αύριο το πρωί σχετικά με το συμβόλαιό μου;"),
];

#[test]
fn every_language_detected_is_asked_in_and_detected_as_itself() {
    let asked: Vec<&str> = ASKED.iter().map(|(tag, _)| *tag).collect();
    for tag in switchboard_nlu::language::supported() {
        assert!(asked.contains(&tag), "no question in {tag}");
    }
    for (tag, text) in ASKED {
        let detected = switchboard_nlu::language::detect(text);
        assert_eq!((detected.language, detected.reliable), (*tag, true), "{text}");
    }
}

#[tokio::test]
async fn a_customer_who_writes_in_any_language_served_gets_the_reply_in_it() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let (opens, rules) = closed_now_rules();
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: rules, wait: true }).await?;
    let mut sent = Vec::new();
    for (tag, text) in ASKED {
        let customer = format!("c-{tag}");
        sent.push((*tag, submit(&cluster, message(&customer, text, &format!("ask-{tag}"))).await?));
    }
    let bus = backing.bus().await?;
    for (tag, submitted) in sent {
        let ((text, language), _) =
            wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
                Some(Body::ReplyRequested(r)) if r.in_reply_to == submitted.message_id => {
                    Some((r.text.clone(), r.language.clone()))
                }
                _ => None,
            })
            .await?;
        assert_eq!(language, tag, "the reply is marked with the conversation's language");
        let model = switchboard_phrases::say(tag, "after_hours.opens", &[]);
        let (before, after) = model.split_once("{opens}").expect("the reply names when we open");
        assert!(text.starts_with(before) && text.ends_with(after), "{tag}: {text}");
        assert!(text.contains(&format!("{opens:02}:00")), "{tag}: {text}");
    }
    cluster.stop().await
}

const ANSWER_RULES: &str = "rules:\n  - name: answer\n    then: {action: answer, queue: general}\n";

/// Publishes `rules` and waits until the router decides by them.
async fn decide_by(cluster: &Cluster, rules: &str) -> anyhow::Result<()> {
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    Ok(())
}

#[tokio::test]
async fn without_an_article_in_the_customers_language_the_bot_hands_off_or_answers_from_another_as_configured()
-> anyhow::Result<()> {
    use switchboard_proto::{
        events::v1::RouteAction,
        knowledge::v1::{PublishArticleRequest, knowledge_client::KnowledgeClient},
    };
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let returns = PublishArticleRequest {
        article_id: "returns".into(),
        title: "Returning an item".into(),
        body: "You can return any item within 30 days. Start the return under Orders in your account, \
               print the label and drop the parcel at a post office. The refund reaches your card within \
               five days of our receiving it."
            .into(),
        locale: "en".into(),
        tags: vec!["intent:return_refund".into()],
        wait: true,
        ..PublishArticleRequest::default()
    };
    KnowledgeClient::new(cluster.channel().await?).publish_article(returns).await?;
    let decided = |message_id: String| {
        let bus = bus.clone();
        async move {
            wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
                Some(Body::MessageRouted(r)) if r.message_id == message_id => Some(r.clone()),
                _ => None,
            })
            .await
        }
    };

    // Off (the default): nothing in Spanish answers, so a person takes the question.
    decide_by(&cluster, ANSWER_RULES).await?;
    let asked = "Quiero devolver un producto y recuperar mi dinero, ¿cómo lo hago?";
    let sent = submit(&cluster, message("c-es-1", asked, "es-return-1")).await?;
    let (routed, _) = decided(sent.message_id).await?;
    assert_eq!(routed.action(), RouteAction::Queue, "{routed:?}");

    // On: the English article on the same intent answers, after a sentence in Spanish saying so.
    decide_by(
        &cluster,
        &format!("playbooks:\n  other_languages: {{answer: true, from: [en]}}\n{ANSWER_RULES}"),
    )
    .await?;
    let sent = submit(&cluster, message("c-es-2", asked, "es-return-2")).await?;
    let (routed, _) = decided(sent.message_id.clone()).await?;
    assert_eq!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    let ((text, language), _) =
        wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
            Some(Body::ReplyRequested(r)) if r.in_reply_to == sent.message_id => {
                Some((r.text.clone(), r.language.clone()))
            }
            _ => None,
        })
        .await?;
    let notice = switchboard_phrases::say("es", "knowledge.other_language", &[("language", "English")]);
    assert_eq!(language, "es");
    assert!(text.starts_with(&notice) && text.contains("(Returning an item)"), "{text}");

    // A rule set that names no language to answer from is refused with the reason.
    let mut router = RouterClient::new(cluster.channel().await?);
    let refused = router
        .publish_rules(PublishRulesRequest {
            text: format!("playbooks:\n  other_languages: {{answer: true, from: []}}\n{ANSWER_RULES}"),
            wait: true,
        })
        .await
        .expect_err("no language to answer from");
    assert!(refused.message().contains("other_languages"), "{}", refused.message());
    cluster.stop().await
}
