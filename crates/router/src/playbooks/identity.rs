//! Account data (orders, balances, usage, SIMs) is told only to a customer the channel verified:
//! a signed chat identity, a system that signed the customer in. A caller ID, a From address or a
//! gateway's sender id proves nothing, so an unverified customer gets this safe answer instead,
//! with the way to be verified on their channel, and a person if they ask.

use switchboard_proto::events::v1::Channel;

use switchboard_phrases::say;

/// What an unverified customer asking about their account is told, in the conversation's language.
pub fn verify_first(channel: Channel, language: &str) -> String {
    let key = if channel == Channel::Voice { "verify_first.voice" } else { "verify_first.written" };
    say(language, key, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safe_answer_names_the_way_to_be_verified_on_the_channel() {
        assert!(verify_first(Channel::Email, "en").contains("sign in"));
        assert!(verify_first(Channel::Voice, "en").contains("agent"));
        assert!(verify_first(Channel::Web, "zh-Hans").contains("登录"));
    }
}
