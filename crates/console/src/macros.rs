//! `/console/api/macros/{id}`: supervisors keep the team's macros (texts per locale, the status,
//! tags, queue and priority they set). Each save names the version it started from, so two
//! people editing one macro cannot overwrite each other unseen; the desk checks everything else.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use serde_json::json;
use switchboard_proto::{
    desk::v1::{DeleteMacroRequest, Macro, MacroActions, SaveMacroRequest, StatusChange},
    events::v1::Priority,
};

use crate::{
    api::Answer,
    backend::{Backend, Bearer},
    error::ApiError,
    input::named,
    json,
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionsForm {
    /// Empty: leave the status as it is; else `open`, `pending` or `resolved`.
    pub status: String,
    pub add_tags: Vec<String>,
    pub queue: String,
    /// Empty: leave it; else `low`, `normal`, `high` or `urgent`.
    pub priority: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MacroForm {
    pub name: String,
    /// Text per locale (BCP 47).
    pub texts: HashMap<String, String>,
    pub default_locale: String,
    pub actions: ActionsForm,
    /// The version this edit started from; 0 for a new macro.
    pub expected_version: u32,
}

impl MacroForm {
    /// The request to save this form as macro `macro_id`.
    pub fn request(self, macro_id: String) -> Result<SaveMacroRequest, ApiError> {
        let ActionsForm { status, add_tags, queue, priority } = self.actions;
        let actions = MacroActions {
            status: named(
                "actions.status",
                &status,
                "STATUS_CHANGE_",
                StatusChange::from_str_name,
                "open, pending, resolved",
            )?,
            add_tags,
            queue,
            priority: named(
                "actions.priority",
                &priority,
                "PRIORITY_",
                Priority::from_str_name,
                "low, normal, high, urgent",
            )?,
        };
        let saved = Macro {
            macro_id,
            name: self.name,
            texts: self.texts,
            default_locale: self.default_locale,
            actions: Some(actions),
            ..Default::default()
        };
        Ok(SaveMacroRequest { r#macro: Some(saved), expected_version: self.expected_version })
    }
}

pub async fn save(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(macro_id): Path<String>,
    Json(form): Json<MacroForm>,
) -> Answer {
    let saved = backend.desk(&bearer).save_macro(form.request(macro_id)?).await?.into_inner();
    Ok(Json(json::desk_macro(&saved)))
}

pub async fn delete(State(backend): State<Backend>, bearer: Bearer, Path(macro_id): Path<String>) -> Answer {
    backend.desk(&bearer).delete_macro(DeleteMacroRequest { macro_id: macro_id.clone() }).await?;
    Ok(Json(json!({"macro_id": macro_id, "deleted": true})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_macro_form_names_its_actions_and_unknown_names_are_refused() {
        let form = MacroForm {
            name: "Done".into(),
            texts: [("en".to_string(), "All done".to_string())].into(),
            actions: ActionsForm { status: "resolved".into(), ..Default::default() },
            expected_version: 2,
            ..Default::default()
        };
        let request = form.request("done".into()).expect("valid");
        let saved = request.r#macro.expect("a macro");
        let actions = saved.actions.expect("actions");
        assert_eq!((actions.status(), actions.priority()), (StatusChange::Resolved, Priority::Unspecified));
        assert_eq!((saved.macro_id.as_str(), request.expected_version), ("done", 2));
        let bad = MacroForm {
            actions: ActionsForm { priority: "asap".into(), ..Default::default() },
            ..Default::default()
        };
        assert!(bad.request("x".into()).expect_err("unknown").message.contains("actions.priority"));
    }
}
