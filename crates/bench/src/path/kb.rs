//! The message path's tenant: a small help centre (articles written here) and rules that answer
//! every question from it, so that each message takes the whole automated path: received,
//! classified, routed, the knowledge base asked, the reply requested and delivered.

use anyhow::Context as _;
use switchboard_proto::knowledge::v1::{PublishArticleRequest, knowledge_client::KnowledgeClient};

/// Every message is answered from the knowledge base; one without a confident answer goes to
/// `general` (the bench counts those and says so).
pub(crate) const RULES: &str = "rules:
  - name: answer-from-the-knowledge-base
    then:
      action: answer
      queue: general
";

/// (id, title, body, questions customers ask about it).
const ARTICLES: [(&str, &str, &str, [&str; 2]); 8] = [
    (
        "shipping-times",
        "How long does delivery take",
        "Standard delivery takes three to five working days within the country. Express delivery \
         arrives the next working day when you order before 2 pm. You receive a tracking link by \
         email as soon as the parcel leaves our warehouse.",
        ["How long does delivery take?", "How many days does standard delivery take?"],
    ),
    (
        "reset-password",
        "Reset your password",
        "To reset your password, open the sign-in page and choose 'Forgot password'. Enter the \
         email address of your account and we send you a reset link that is valid for one hour. \
         Choose a new password of at least twelve characters.",
        ["How do I reset my password?", "I need a password reset link"],
    ),
    (
        "return-policy",
        "Returning an item",
        "You can return any item within 30 days of delivery for a full refund. Pack the item in \
         its original packaging, print the prepaid return label from your account and drop the \
         parcel at any post office. Refunds reach your card within five working days.",
        ["How do I return an item?", "How can I return an item for a refund?"],
    ),
    (
        "payment-methods",
        "Payment methods we accept",
        "We accept Visa, Mastercard, American Express, PayPal and bank transfer. Cards are charged \
         when the order ships. Bank transfers must arrive within seven days or the order is \
         cancelled.",
        ["Which payment methods do you accept?", "What payment methods do you accept?"],
    ),
    (
        "change-address",
        "Change your delivery address",
        "You can change the delivery address of an order until it ships. Open the order in your \
         account, choose 'Change address' and save the new delivery address. Once the order has \
         shipped, contact the carrier with your tracking number.",
        ["How can I change my delivery address?", "Can I change the delivery address of my order?"],
    ),
    (
        "cancel-order",
        "Cancel an order",
        "Orders can be cancelled free of charge until they ship. Open the order in your account and \
         choose 'Cancel order'; the payment is released within two working days. A shipped order \
         cannot be cancelled, but you can return it.",
        ["How do I cancel my order?", "Can I cancel an order before it ships?"],
    ),
    (
        "warranty",
        "Warranty on products",
        "Every product carries a two-year warranty against manufacturing defects. To make a \
         warranty claim, send us the order number and a photo of the defect; we repair or replace \
         the product at no cost.",
        ["How long is the warranty on products?", "How do I make a warranty claim?"],
    ),
    (
        "gift-cards",
        "Gift cards",
        "Gift cards are available from 10 to 500 euros and never expire. Redeem a gift card at \
         checkout by entering its code; any remaining balance stays on the card for your next \
         order.",
        ["How do I redeem a gift card?", "How do I use a gift card at checkout?"],
    ),
];

/// The customers' questions, in turn.
pub(crate) fn question(n: usize) -> &'static str {
    let (article, asked) = (n % ARTICLES.len(), (n / ARTICLES.len()) % 2);
    ARTICLES[article].3[asked]
}

/// Publishes the articles into the default tenant, each searchable when this returns.
pub(crate) async fn publish(
    mut knowledge: KnowledgeClient<switchboard_auth::Authorized>,
) -> anyhow::Result<()> {
    for (id, title, body, questions) in ARTICLES {
        let request = PublishArticleRequest {
            article_id: id.into(),
            title: title.into(),
            body: body.into(),
            locale: "en".into(),
            example_questions: questions.iter().map(|q| (*q).to_string()).collect(),
            wait: true,
            ..Default::default()
        };
        knowledge.publish_article(request).await.with_context(|| format!("publishing {id}"))?;
    }
    Ok(())
}
