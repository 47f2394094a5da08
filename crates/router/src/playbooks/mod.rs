//! Playbooks: what the bot does for a rule whose action is `answer`. `faq` answers from the
//! knowledge base; `order_status` tells where the customer's order is from the shop's order
//! events (and falls back to the knowledge base without one); `password_reset` sends the reset
//! path without ever handling a password; `account_balance`, `data_usage` and `sim_activation`
//! serve telecom customers from their account (see [`account`]).

pub mod account;
pub mod booking;
pub mod clarify;
pub mod identity;
pub mod leads;
pub mod orders;
pub mod returns;

use serde::Deserialize;
use switchboard_proto::events::v1::PlaybookProgressed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Playbook {
    #[default]
    Faq,
    OrderStatus,
    PasswordReset,
    /// Multi-turn: asks the configured questions, then routes the lead with the answers.
    LeadQualification,
    /// Checks the return policy, opens the return, holds the refund for approval.
    Returns,
    /// Multi-turn: offers free slots from a calendar and confirms the one chosen.
    Booking,
    /// The account's balance and due date.
    AccountBalance,
    /// Data used this period, and what is left.
    DataUsage,
    /// Multi-turn: confirms the SIM's last four digits, then activates it.
    SimActivation,
}

impl Playbook {
    pub fn name(self) -> &'static str {
        match self {
            Self::Faq => "faq",
            Self::OrderStatus => "order_status",
            Self::PasswordReset => "password_reset",
            Self::LeadQualification => leads::NAME,
            Self::Returns => "returns",
            Self::Booking => booking::NAME,
            Self::AccountBalance => "account_balance",
            Self::DataUsage => "data_usage",
            Self::SimActivation => account::SIM_ACTIVATION,
        }
    }
}

/// What the bot does with a message in a multi-turn playbook.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Reply (a question, or the question again with a hint) and wait.
    Ask { reply: String, state: PlaybookProgressed },
    /// Finished: thank the customer; `handover` names the queue and tag when a human takes what
    /// was collected (a qualified lead), `None` when nobody needs to (a booking).
    Done { reply: String, state: PlaybookProgressed, handover: Option<(String, String)> },
    /// The answers do not fit: a human in `queue` takes over.
    HandOff { state: PlaybookProgressed, queue: String },
}

/// Playbook settings in the rule set (`playbooks:`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub password_reset: Option<PasswordReset>,
    #[serde(default)]
    pub lead_qualification: Option<leads::Settings>,
    #[serde(default)]
    pub returns: Option<returns::Settings>,
    #[serde(default)]
    pub booking: Option<booking::Settings>,
    #[serde(default)]
    pub sim_activation: Option<account::SimSettings>,
    /// Asking which article the customer means when no answer is confident (on by default).
    #[serde(default)]
    pub clarify: clarify::Settings,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// Where customers reset their password themselves.
    pub url: String,
}

/// Whether replies go out in Chinese (Simplified or Traditional) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tongue {
    English,
    Simplified,
    Traditional,
}

impl Tongue {
    pub fn of(language: &str) -> Self {
        match language {
            tag if tag.eq_ignore_ascii_case("zh-Hant")
                || tag.starts_with("zh-TW")
                || tag.starts_with("zh-HK") =>
            {
                Self::Traditional
            }
            tag if tag.starts_with("zh") => Self::Simplified,
            _ => Self::English,
        }
    }
}

/// The after-hours reply: closed now, and when an agent answers.
pub fn after_hours(opens: Option<&str>, tongue: Tongue) -> String {
    match (tongue, opens) {
        (Tongue::English, Some(opens)) => format!(
            "Thank you for your message. We are closed right now; an agent will reply from {opens}."
        ),
        (Tongue::English, None) => {
            "Thank you for your message. We are closed right now; an agent will reply as soon as we open again.".into()
        }
        (Tongue::Simplified, Some(opens)) => format!("感谢您的留言。我们目前不在服务时间，客服将于 {opens} 起回复您。"),
        (Tongue::Simplified, None) => "感谢您的留言。我们目前不在服务时间，客服上班后会尽快回复您。".into(),
        (Tongue::Traditional, Some(opens)) => format!("感謝您的留言。我們目前不在服務時間，客服將於 {opens} 起回覆您。"),
        (Tongue::Traditional, None) => "感謝您的留言。我們目前不在服務時間，客服上班後會盡快回覆您。".into(),
    }
}

/// The password-reset reply: the self-service path, and the promise never to ask for it.
pub fn password_reset(settings: &PasswordReset, tongue: Tongue) -> String {
    match tongue {
        Tongue::English => format!(
            "You can reset your password yourself at {}: enter your email address and follow the link we send you. \
             We will never ask you for your password.",
            settings.url
        ),
        Tongue::Simplified => format!(
            "您可以在 {} 自行重设密码：输入电子邮箱，然后点击我们发送的链接。我们绝不会向您索要密码。",
            settings.url
        ),
        Tongue::Traditional => format!(
            "您可以在 {} 自行重設密碼：輸入電子郵件，然後點選我們寄出的連結。我們絕不會向您索取密碼。",
            settings.url
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_follow_the_conversation_language() {
        assert_eq!(Tongue::of("zh-Hant"), Tongue::Traditional);
        assert_eq!(Tongue::of("zh-Hans"), Tongue::Simplified);
        assert_eq!(Tongue::of("de"), Tongue::English);
        let reset = PasswordReset { url: "https://shop.example/reset".into() };
        let text = password_reset(&reset, Tongue::English);
        assert!(text.contains("https://shop.example/reset") && text.contains("never ask"), "{text}");
    }
}
