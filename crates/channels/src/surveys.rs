//! Survey answers: the link in a survey opens `GET /surveys/{token}` (a small page with the
//! scale: CSAT 1-5 or NPS 0-10), which posts `{"score", "comment"}` to `POST /surveys/{token}`. The answer becomes a
//! `SurveyAnswered` event, once per conversation (appended against the survey's last sequence,
//! so two answers racing cannot both land), carrying who handled the conversation from the
//! `SurveySent` before it.

use axum::http::{HeaderMap, header};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::json;
use switchboard_bus::{Draft, Expected};
use switchboard_phrases::{direction, say, served};
use switchboard_projection::Deps;
use switchboard_proto::events::v1::{SurveyAnswered, SurveySent, event::Body};

use crate::signature::survey_conversation;

#[derive(Clone)]
pub struct Surveys {
    pub deps: Deps,
    pub secret: Option<String>,
}

pub fn routes(surveys: Surveys) -> Router {
    Router::new().route("/surveys/{token}", get(page).post(answer)).with_state(surveys)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// What is known of a conversation's survey.
struct Survey {
    sent: SurveySent,
    tenant: String,
    answered: bool,
    /// The survey subject's last sequence (the append guard).
    last: u64,
}

impl Surveys {
    async fn find(&self, token: &str) -> Result<Survey, Response> {
        let secret = self.secret.as_deref().unwrap_or_default();
        let (tenant, conversation) = survey_conversation(secret.as_bytes(), token)
            .filter(|_| !secret.is_empty())
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "unknown survey link"))?;
        let events = self
            .deps
            .bus
            .events_of("survey", &tenant, &conversation)
            .await
            .map_err(|bus| error(StatusCode::SERVICE_UNAVAILABLE, format!("try again later: {bus}")))?;
        let mut found: Option<Survey> = None;
        for (event, sequence) in events {
            match (event.body, found.as_mut()) {
                (Some(Body::SurveySent(sent)), _) => {
                    found = Some(Survey { sent, tenant: event.tenant, answered: false, last: sequence })
                }
                (Some(Body::SurveyAnswered(_)), Some(survey)) => {
                    survey.answered = true;
                    survey.last = sequence;
                }
                _ => {}
            }
        }
        found.ok_or_else(|| error(StatusCode::NOT_FOUND, "no survey was sent for this conversation"))
    }
}

/// The survey's page in the language it was sent in: its scale, or thanks once answered. A link
/// that names no survey gets a page in the browser's language saying so.
async fn page(State(surveys): State<Surveys>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    match surveys.find(&token).await {
        Ok(survey) if survey.answered => Html(thanks(&survey.sent.language)).into_response(),
        Ok(survey) => {
            let language = &survey.sent.language;
            Html(page_in(language, &Scale::of(&survey.sent.kind).page(language))).into_response()
        }
        Err(response) if response.status() == StatusCode::NOT_FOUND => {
            let language = browser_language(&headers);
            let body = format!("<p>{}</p>", say(language, "survey.unknown_link", &[]));
            (StatusCode::NOT_FOUND, Html(page_in(language, &body))).into_response()
        }
        Err(response) => response,
    }
}

/// The first language the browser asks for (`Accept-Language`), else none.
fn browser_language(headers: &HeaderMap) -> &str {
    let accepted = headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()).unwrap_or("");
    accepted.split([',', ';']).next().unwrap_or("").trim()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rating {
    score: u32,
    #[serde(default)]
    comment: String,
}

async fn answer(
    State(surveys): State<Surveys>,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let rating: Rating = match serde_json::from_slice(&body) {
        Ok(rating) => rating,
        Err(parse) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"score\": 1-5, \"comment\"?}}: {parse}"),
            );
        }
    };
    let survey = match surveys.find(&token).await {
        Ok(survey) => survey,
        Err(response) => return response,
    };
    let scale = Scale::of(&survey.sent.kind);
    if !(scale.low..=scale.high).contains(&rating.score) || rating.comment.len() > 2000 {
        let wanted = format!("score is {} to {}; a comment at most 2000 bytes", scale.low, scale.high);
        return error(StatusCode::BAD_REQUEST, wanted);
    }
    if survey.answered {
        return error(StatusCode::CONFLICT, "this conversation was rated already; thank you");
    }
    let answered = SurveyAnswered {
        conversation_id: survey.sent.conversation_id.clone(),
        kind: survey.sent.kind.clone(),
        score: rating.score,
        handled_by: survey.sent.handled_by.clone(),
        channel: survey.sent.channel,
        comment: rating.comment,
    };
    let appended = async {
        let event =
            Draft::new(&survey.tenant, &answered.conversation_id, Body::SurveyAnswered(answered.clone()))
                .build()?;
        surveys.deps.bus.append(&event, Expected::Sequence(survey.last), None).await
    }
    .await;
    match appended {
        Ok(_) => {
            tracing::info!(score = answered.score, handled_by = answered.handled_by, "survey answered");
            (StatusCode::CREATED, Json(json!({ "score": answered.score }))).into_response()
        }
        Err(switchboard_bus::Error::Conflict { .. }) => {
            error(StatusCode::CONFLICT, "this conversation was rated already; thank you")
        }
        Err(bus) => error(StatusCode::SERVICE_UNAVAILABLE, format!("try again later: {bus}")),
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="{lang}" dir="{dir}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
button{font-size:1.2rem;width:3rem;height:3rem;margin:.2rem}textarea{width:100%;margin-top:1rem}</style>
</head><body>{body}</body></html>"#;

/// The page around `body`, in `language` (a served tag; its title is the CSAT question).
fn page_in(language: &str, body: &str) -> String {
    let tag = served(language);
    PAGE.replace("{lang}", tag)
        .replace("{dir}", direction(tag))
        .replace("{title}", &escaped(&say(tag, "survey.csat_question", &[])))
        .replace("{body}", body)
}

fn thanks(language: &str) -> String {
    let body = format!(
        "<h1>{}</h1><p>{}</p>",
        escaped(&say(language, "survey.thanks_title", &[])),
        escaped(&say(language, "survey.thanks", &[]))
    );
    page_in(language, &body)
}

/// Text for HTML: `<`, `>`, `&` and quotes escaped.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A survey's scale: CSAT 1 (poor) to 5 (great), NPS 0 (not at all likely) to 10 (extremely).
struct Scale {
    low: u32,
    high: u32,
    /// The phrases' `survey.<kind>_question` and `_legend`.
    kind: &'static str,
}

impl Scale {
    fn of(kind: &str) -> Self {
        if kind == "nps" {
            Self { low: 0, high: 10, kind: "nps" }
        } else {
            Self { low: 1, high: 5, kind: "csat" }
        }
    }

    fn page(&self, language: &str) -> String {
        let buttons: String = (self.low..=self.high).map(|n| format!("<button>{n}</button>")).collect();
        let text = |key: &str| escaped(&say(language, &format!("survey.{}_{key}", self.kind), &[]));
        let said = |key: &str| serde_json::to_string(&say(language, key, &[])).unwrap_or_default();
        let form = SCALE_FORM
            .replace("{comment}", &escaped(&say(language, "survey.comment", &[])))
            .replace("{thanks}", &said("survey.thanks_title"))
            .replace("{rated_already}", &said("survey.rated_already"))
            .replace("{try_later}", &said("survey.try_later"));
        format!(
            "<h1>{}</h1>\n<p>{}</p>\n<div id=\"scale\">{buttons}</div>\n{form}",
            text("question"),
            text("legend")
        )
    }
}

const SCALE_FORM: &str = r#"<textarea id="comment" rows="3" placeholder="{comment}"></textarea>
<p id="said" role="status"></p>
<script>
for (const button of document.querySelectorAll('#scale button')) {
  button.onclick = async () => {
    const body = JSON.stringify({score: Number(button.textContent), comment: document.getElementById('comment').value});
    const answer = await fetch(location.pathname, {method: 'POST', headers: {'Content-Type': 'application/json'}, body});
    const said = await answer.json();
    document.getElementById('said').textContent =
      answer.ok ? {thanks} : answer.status === 409 ? {rated_already} : answer.status >= 500 ? {try_later} : said.error;
  };
}
</script>"#;
