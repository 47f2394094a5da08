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
}

/// Templates every deployment must define, in English at least.
const REQUIRED: [&str; 3] = ["email_reply", "team_notice_subject", "team_notice"];

impl Templates {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let templates: Self =
            serde_norway::from_str(text).map_err(|error| Error::Templates(error.to_string()))?;
        for name in REQUIRED {
            if !templates.templates.get(name).is_some_and(|locales| locales.contains_key("en")) {
                return Err(Error::Templates(format!("template {name:?} needs at least an `en` text")));
            }
        }
        Ok(templates)
    }

    /// `name` in `locale` (or its language, or English) with `variables` filled in.
    pub fn render(&self, name: &str, locale: &str, variables: &[(&str, &str)]) -> String {
        let Some(locales) = self.templates.get(name) else { return String::new() };
        let language = locale.split(['-', '_']).next().unwrap_or_default().to_lowercase();
        let text = locales.get(locale).or_else(|| locales.get(&language)).or_else(|| locales.get("en"));
        let mut rendered = text.cloned().unwrap_or_default();
        for (variable, value) in variables.iter().chain(&[("brand", self.brand.as_str())]) {
            rendered = rendered.replace(&format!("{{{variable}}}"), value);
        }
        rendered
    }
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
    fn refuses_templates_without_the_required_texts() {
        let error = Templates::parse("brand: X\ntemplates:\n  email_reply:\n    de: x\n").expect_err("no en");
        assert!(error.to_string().contains("email_reply"), "{error}");
        assert!(Templates::parse("brand: [").is_err());
    }
}
