//! Account data (orders, balances, usage, SIMs) is told only to a customer the channel verified:
//! a signed chat identity, a system that signed the customer in. A caller ID, a From address or a
//! gateway's sender id proves nothing, so an unverified customer gets this safe answer instead,
//! with the way to be verified on their channel, and a person if they ask.

use switchboard_proto::events::v1::Channel;

use super::Tongue;

/// What an unverified customer asking about their account is told.
pub fn verify_first(channel: Channel, tongue: Tongue) -> String {
    let voice = channel == Channel::Voice;
    match (tongue, voice) {
        (Tongue::English, true) => "For your security I need to check it is you first: key in your account \
             PIN and press hash, then ask again. Or say \"agent\" and a person will help you."
            .into(),
        (Tongue::English, false) => "To tell you about your orders or your account I need to know it is \
             you: please sign in on our website and ask in the chat there. Or ask for a person and they \
             will check and help you."
            .into(),
        (Tongue::Simplified, _) => {
            "为了保护您的账户，我需要先确认您的身份：请登录我们的网站，在那里的聊天窗口中询问；或者要求转人工，由客服为您核实。".into()
        }
        (Tongue::Traditional, _) => {
            "為了保護您的帳戶，我需要先確認您的身分：請登入我們的網站，在那裡的聊天視窗中詢問；或者要求轉人工，由客服為您核實。".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safe_answer_names_the_way_to_be_verified_on_the_channel() {
        assert!(verify_first(Channel::Email, Tongue::English).contains("sign in"));
        assert!(verify_first(Channel::Voice, Tongue::English).contains("agent"));
        assert!(verify_first(Channel::Web, Tongue::Simplified).contains("登录"));
    }
}
