//! What customers, the bot and agents write, per language: the previews the desk shows. Some
//! are longer than the preview keeps; `{order}` becomes an order number.

/// A customer's messages in `language` (the primary subtag decides).
pub(crate) fn customer(language: &str) -> &'static [&'static str] {
    match primary(language) {
        "de" => &[
            "Wo ist meine Bestellung {order}? Sie sollte schon seit Montag da sein.",
            "Ich möchte die Rücksendung für Bestellung {order} anmelden, die Jacke passt nicht.",
            "Meine Rechnung ist doppelt abgebucht worden, bitte korrigieren Sie das umgehend, sonst muss ich meine Bank einschalten und die Lastschrift zurückgeben lassen.",
            "Kann ich bitte mit einem Menschen sprechen?",
        ],
        "fr" => &[
            "Où en est ma commande {order} ? Le suivi ne bouge plus depuis trois jours.",
            "Je voudrais être remboursé pour la commande {order}, l'article est arrivé cassé.",
            "Bonjour, je n'arrive plus à me connecter à mon compte depuis la mise à jour de l'application, le mot de passe est refusé alors que je viens de le changer.",
        ],
        "es" => &[
            "¿Dónde está mi pedido {order}? Llevo una semana esperando.",
            "Quiero cambiar la talla del pedido {order}, ¿cómo lo hago?",
            "Me habéis cobrado dos veces la suscripción este mes.",
        ],
        "nl" => &[
            "Waar blijft mijn bestelling {order}?",
            "Ik wil graag mijn abonnement opzeggen per volgende maand.",
        ],
        "zh" => &[
            "我的訂單 {order} 什麼時候會到？已經等了一個星期了。",
            "請問可以退貨嗎？訂單 {order} 的尺寸不對。",
            "我要找真人客服，機器人一直聽不懂我的問題，我已經重複說明三次了，請盡快安排專人處理我的帳單問題。",
        ],
        "ja" => &["注文 {order} はいつ届きますか？", "請求書の金額が間違っています。担当者と話せますか？"],
        "pt" => &["Onde está o meu pedido {order}?", "Quero cancelar a minha assinatura, por favor."],
        _ => &[
            "Where is my order {order}? It was supposed to arrive on Monday.",
            "I want to return order {order}, the jacket does not fit.",
            "My invoice for last month is wrong: I was charged twice for the same plan and nobody answered my email from last week, so please sort this out today.",
            "I want to talk to a real person",
            "The parcel for order {order} arrived damaged, the screen is cracked.",
            "How do I reset my password? The link in the email has expired.",
            "hi",
            "Your app keeps crashing when I open my orders, I'm on the latest version and I have already reinstalled it twice. This is really frustrating.",
        ],
    }
}

/// The bot's answers (it answers in English when it has no text in the language).
pub(crate) const BOT: &[&str] = &[
    "Your order {order} left our warehouse yesterday and should arrive within two working days. You can follow it with the tracking link in your confirmation email.",
    "You can return any item within 30 days: open your order, choose \"Return an item\" and print the label.",
    "To reset your password, use \"Forgot password\" on the sign-in page; the link is valid for one hour.",
];

/// What agents write.
pub(crate) const AGENT: &[&str] = &[
    "Thanks for your patience! I've refunded the double charge; you'll see it on your statement in 3-5 days.",
    "I'm sorry about the damaged parcel. A replacement for order {order} is on its way, no need to send the old one back.",
    "I've checked with the courier: your parcel is at the local depot and will be delivered tomorrow.",
    "Could you send me a photo of the label on the box? Then I can open a claim with the courier.",
    "Danke für Ihre Geduld, die Gutschrift ist unterwegs.",
];

fn primary(language: &str) -> &str {
    language.split('-').next().unwrap_or(language)
}
