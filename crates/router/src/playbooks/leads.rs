//! Lead qualification: the bot asks the questions a sales team needs, one at a time (slots
//! configured in the rule set), checks each answer, and hands a qualified lead with the answers
//! to sales. Two answers in a row that do not fit hand off to a human at once.

use serde::Deserialize;
use switchboard_phrases::say;
use switchboard_proto::events::v1::PlaybookProgressed;

use super::Step;

pub const NAME: &str = "lead_qualification";
/// Answers in a row that do not fit before a human takes over.
const MAX_MISSES: u32 = 2;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where qualified leads go.
    pub queue: String,
    pub slots: Vec<Slot>,
    /// What the customer is told once every answer is in, in the tenant's words; by default a
    /// thank-you in the customer's language.
    #[serde(default)]
    pub done_reply: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub name: String,
    pub question: String,
    #[serde(default)]
    pub kind: Kind,
    /// With `kind: option`: the answers accepted.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Text,
    Number,
    Option,
}

impl Settings {
    pub fn validate(&self) -> Result<(), String> {
        if !crate::rules::is_queue_name(&self.queue) {
            return Err("lead_qualification.queue: letters, digits, '-' or '_'".into());
        }
        if self.slots.is_empty() {
            return Err("lead_qualification.slots: give at least one".into());
        }
        for (index, slot) in self.slots.iter().enumerate() {
            if slot.name.trim().is_empty() || slot.question.trim().is_empty() {
                return Err(format!("lead_qualification.slots[{index}]: name and question are required"));
            }
            if self.slots[..index].iter().any(|other| other.name == slot.name) {
                return Err(format!("lead_qualification.slots[{index}]: {} is used twice", slot.name));
            }
            if (slot.kind == Kind::Option) == slot.options.is_empty() {
                return Err(format!(
                    "lead_qualification.slots[{index}]: options go with kind: option, and only with it"
                ));
            }
        }
        Ok(())
    }
}

/// The first question.
pub fn start(settings: &Settings, conversation_id: &str) -> Step {
    let state = PlaybookProgressed {
        conversation_id: conversation_id.to_string(),
        playbook: NAME.into(),
        asking: settings.slots[0].name.clone(),
        ..PlaybookProgressed::default()
    };
    Step::Ask { reply: settings.slots[0].question.clone(), state }
}

/// Takes `text` as the answer to the slot asked, then asks the next one or finishes.
pub fn answer(settings: &Settings, mut state: PlaybookProgressed, text: &str, language: &str) -> Step {
    let Some(index) = settings.slots.iter().position(|slot| slot.name == state.asking) else {
        // The rule set changed under the conversation: start over.
        return start(settings, &state.conversation_id);
    };
    let slot = &settings.slots[index];
    let Some(value) = fit(slot, text) else {
        state.misses += 1;
        if state.misses >= MAX_MISSES {
            state.done = true;
            return Step::HandOff { state, queue: settings.queue.clone() };
        }
        return Step::Ask { reply: format!("{} {}", hint(slot, language), slot.question), state };
    };
    state.collected.insert(slot.name.clone(), value);
    state.misses = 0;
    match settings.slots.get(index + 1) {
        Some(next) => {
            state.asking = next.name.clone();
            Step::Ask { reply: next.question.clone(), state }
        }
        None => {
            state.asking.clear();
            state.done = true;
            let handover = Some((settings.queue.clone(), "qualified-lead".to_string()));
            let reply = if settings.done_reply.is_empty() {
                say(language, "leads.thanks", &[])
            } else {
                settings.done_reply.clone()
            };
            Step::Done { reply, state, handover }
        }
    }
}

/// The answer as the slot takes it, or `None` when it does not fit.
fn fit(slot: &Slot, text: &str) -> Option<String> {
    let text = text.trim();
    match slot.kind {
        Kind::Text => (!text.is_empty()).then(|| text.chars().take(200).collect()),
        Kind::Number => number(text),
        Kind::Option => {
            let lower = text.to_lowercase();
            let words: Vec<&str> =
                lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
            slot.options.iter().find(|option| words.contains(&option.to_lowercase().as_str())).cloned()
        }
    }
}

/// The first number in the text: `about 3,500 kWh` gives `3500`, `2.5` gives `2.5`.
fn number(text: &str) -> Option<String> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    let digits = digits.trim_end_matches('.').to_string();
    digits.parse::<f64>().ok().map(|_| digits)
}

fn hint(slot: &Slot, language: &str) -> String {
    match slot.kind {
        Kind::Number => say(language, "leads.need_number", &[]),
        Kind::Option => say(language, "leads.need_option", &[("options", &slot.options.join(", "))]),
        Kind::Text => say(language, "leads.not_understood", &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solar() -> Settings {
        Settings {
            queue: "sales".into(),
            slots: vec![
                Slot {
                    name: "monthly_kwh".into(),
                    question: "How many kWh do you use a month?".into(),
                    kind: Kind::Number,
                    options: vec![],
                },
                Slot {
                    name: "roof".into(),
                    question: "Which way does your roof face?".into(),
                    kind: Kind::Option,
                    options: vec!["south".into(), "east".into(), "west".into(), "north".into()],
                },
            ],
            done_reply: String::new(),
        }
    }

    fn state(step: Step) -> PlaybookProgressed {
        match step {
            Step::Ask { state, .. } | Step::Done { state, .. } | Step::HandOff { state, .. } => state,
        }
    }

    #[test]
    fn given_answers_that_fit_when_each_is_given_then_the_lead_is_qualified() {
        let settings = solar();
        let asked = start(&settings, "c");
        let after_kwh = answer(&settings, state(asked), "about 3,500 kWh I think", "en");
        let Step::Ask { reply, state: after_kwh } = after_kwh else { panic!("asks the next slot") };
        assert_eq!(reply, "Which way does your roof face?");
        let Step::Done { state: done, .. } = answer(&settings, after_kwh, "It faces South mostly", "en")
        else {
            panic!("qualified");
        };
        assert!(done.done);
        assert_eq!(done.collected.get("monthly_kwh").map(String::as_str), Some("3500"));
        assert_eq!(done.collected.get("roof").map(String::as_str), Some("south"));
    }

    #[test]
    fn given_answers_that_do_not_fit_when_repeated_then_a_human_takes_over() {
        let settings = solar();
        let asked = state(start(&settings, "c"));
        let Step::Ask { reply, state: once } = answer(&settings, asked, "no idea", "en") else {
            panic!("asks again")
        };
        assert!(reply.starts_with("Sorry, I need a number there."), "{reply}");
        assert!(matches!(answer(&settings, once, "really no idea", "en"), Step::HandOff { .. }));
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let mut settings = solar();
        settings.slots[0].options = vec!["x".into()];
        assert!(settings.validate().expect_err("options without kind option").contains("options go with"));
    }
}
