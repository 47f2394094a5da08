//! Templates per locale with `{variable}` placeholders: bundled in `templates.yaml`, or a file
//! of the same shape. Rendering never fails: an unknown variable is left as written.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;

/// The bundled templates.
pub const DEFAULT_TEMPLATES: &str = include_str!("../templates.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    brand: String,
    templates: BTreeMap<String, BTreeMap<String, String>>,
    /// Onboarding sequences by name.
    #[serde(default)]
    sequences: BTreeMap<String, Sequence>,
}

/// Steps sent after a customer's profile gains the `trigger` attribute (e.g. `signed_up`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub trigger: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// After the start, e.g. `0s`, `90m`, `1d`.
    #[serde(deserialize_with = "duration")]
    pub after: chrono::Duration,
    pub template: String,
    /// A profile attribute that means the customer did the step: the step is skipped then.
    #[serde(default)]
    pub unless: String,
}

/// `30s`, `15m`, `2h`, `1d`.
fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<chrono::Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    let invalid =
        || serde::de::Error::custom(format!("{text:?} is not a duration such as 30s, 15m, 2h or 1d"));
    let split = text.len().checked_sub(1).ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    match unit {
        "s" => Ok(chrono::Duration::seconds(number)),
        "m" => Ok(chrono::Duration::minutes(number)),
        "h" => Ok(chrono::Duration::hours(number)),
        "d" => Ok(chrono::Duration::days(number)),
        _ => Err(invalid()),
    }
}

/// Templates every deployment must define, in English at least.
const REQUIRED: [&str; 11] = [
    "email_reply",
    "team_notice_subject",
    "team_notice",
    "order_shipped",
    "order_delivered",
    "device_ticket",
    "device_alert",
    "outage_started",
    "outage_resolved",
    "survey_csat",
    "survey_nps",
];

impl Templates {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let templates: Self =
            serde_norway::from_str(text).map_err(|error| Error::Templates(error.to_string()))?;
        for name in REQUIRED {
            if !templates.templates.get(name).is_some_and(|locales| locales.contains_key("en")) {
                return Err(Error::Templates(format!("template {name:?} needs at least an `en` text")));
            }
        }
        for (name, sequence) in &templates.sequences {
            if let Some(step) =
                sequence.steps.iter().find(|step| !templates.templates.contains_key(&step.template))
            {
                return Err(Error::Templates(format!(
                    "sequence {name:?} step {:?} names template {:?}, which is not defined",
                    step.name, step.template
                )));
            }
        }
        Ok(templates)
    }

    pub fn sequences(&self) -> &BTreeMap<String, Sequence> {
        &self.sequences
    }

    /// `name` in `locale` (or its script's text, its language, or English) with `variables`
    /// filled in.
    pub fn render(&self, name: &str, locale: &str, variables: &[(&str, &str)]) -> String {
        let Some(locales) = self.templates.get(name) else { return String::new() };
        let language = locale.split(['-', '_']).next().unwrap_or_default().to_lowercase();
        let text = locales
            .get(locale)
            .or_else(|| script_of(locale).and_then(|script| locales.get(script)))
            .or_else(|| locales.get(&language))
            .or_else(|| locales.get("en"));
        let mut rendered = text.cloned().unwrap_or_default();
        for (variable, value) in variables.iter().chain(&[("brand", self.brand.as_str())]) {
            rendered = rendered.replace(&format!("{{{variable}}}"), value);
        }
        rendered
    }
}

/// The script-qualified locale a locale's text is written in, where the script matters:
/// Chinese of Taiwan, Hong Kong and Macau, or marked `Hant`, is written in Traditional script.
fn script_of(locale: &str) -> Option<&'static str> {
    let parts: Vec<String> = locale.split(['-', '_']).map(str::to_ascii_lowercase).collect();
    // An explicit script wins over the region (`zh-Hans-HK` is Simplified).
    let explicit = parts.iter().skip(1).find(|part| matches!(part.as_str(), "hans" | "hant"));
    let traditional = parts.first().is_some_and(|language| language == "zh")
        && match explicit {
            Some(script) => script == "hant",
            None => parts.iter().skip(1).any(|part| matches!(part.as_str(), "tw" | "hk" | "mo")),
        };
    traditional.then_some("zh-Hant")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_the_locale_its_language_or_english() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("bundled templates parse");
        let vars = [("name", " Ana"), ("text", "It shipped."), ("token", "SB-1")];
        let de = templates.render("email_reply", "de-AT", &vars);
        assert!(de.starts_with("Hallo Ana,\n\nIt shipped."), "{de}");
        assert!(de.contains("Switchboard Demo") && de.contains("SB-1"), "{de}");
        let fallback = templates.render("email_reply", "sw", &vars);
        assert!(fallback.starts_with("Hello Ana,"), "{fallback}");
        assert!(templates.render("email_reply", "zh-CN", &vars).contains("工单号为 SB-1"));
    }

    #[test]
    fn chinese_of_taiwan_and_hong_kong_is_written_in_traditional_script() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("bundled templates parse");
        let link = [("link", "https://x.example/s")];
        for locale in ["zh-TW", "zh-Hant", "zh-HK", "zh_tw", "zh-Hant-TW"] {
            let survey = templates.render("survey_csat", locale, &link);
            assert!(survey.starts_with("您對本次服務滿意嗎"), "{locale}: {survey}");
        }
        for locale in ["zh", "zh-CN", "zh-Hans", "zh-SG", "zh-Hans-HK"] {
            let survey = templates.render("survey_csat", locale, &link);
            assert!(survey.starts_with("您对本次服务满意吗"), "{locale}: {survey}");
        }
    }

    /// Templates that go to staff, in the operators' language.
    const STAFF: &[&str] = &["team_notice", "team_notice_subject", "device_ticket"];

    #[test]
    fn every_customer_template_is_written_in_every_language_the_classifier_detects() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("bundled templates parse");
        for (name, locales) in templates.templates.iter().filter(|(name, _)| !STAFF.contains(&name.as_str()))
        {
            for tag in switchboard_nlu::language::supported() {
                let key = if tag == "zh-Hans" { "zh" } else { tag };
                let text = locales.get(key).unwrap_or_else(|| panic!("{name} has no {tag} text"));
                assert!(tag == "en" || *text != locales["en"], "{name} in {tag} is left in English");
            }
        }
    }

    #[test]
    fn refuses_templates_without_the_required_texts() {
        let error = Templates::parse("brand: X\ntemplates:\n  email_reply:\n    de: x\n").expect_err("no en");
        assert!(error.to_string().contains("email_reply"), "{error}");
        assert!(Templates::parse("brand: [").is_err());
        let dangling = DEFAULT_TEMPLATES.replace("template: onboarding_welcome", "template: nowhere");
        let error = Templates::parse(&dangling).expect_err("unknown template").to_string();
        assert!(error.contains("\"nowhere\""), "{error}");
        let bad_delay = DEFAULT_TEMPLATES.replace("after: 1d", "after: soon");
        assert!(Templates::parse(&bad_delay).expect_err("bad duration").to_string().contains("soon"));
    }

    #[test]
    fn the_bundled_onboarding_sequence_waits_between_steps() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("templates");
        let onboarding = &templates.sequences()["onboarding"];
        assert_eq!(onboarding.trigger, "signed_up");
        let delays: Vec<i64> = onboarding.steps.iter().map(|step| step.after.num_hours()).collect();
        assert_eq!(delays, [0, 24, 72]);
    }
}
