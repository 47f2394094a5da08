//! Survey answers: the link in a survey opens `GET /surveys/{token}` (a small page with the
//! scale: CSAT 1-5 or NPS 0-10), which posts `{"score", "comment"}` to `POST /surveys/{token}`. The answer becomes a
//! `SurveyAnswered` event, once per conversation (appended against the survey's last sequence,
//! so two answers racing cannot both land), carrying who handled the conversation from the
//! `SurveySent` before it.

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

async fn page(State(surveys): State<Surveys>, Path(token): Path<String>) -> Response {
    match surveys.find(&token).await {
        Ok(survey) if survey.answered => Html(PAGE.replace("{body}", THANKS)).into_response(),
        Ok(survey) => Html(PAGE.replace("{body}", &Scale::of(&survey.sent.kind).page())).into_response(),
        Err(response) => response,
    }
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
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>How did we do?</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
button{font-size:1.2rem;width:3rem;height:3rem;margin:.2rem}textarea{width:100%;margin-top:1rem}</style>
</head><body>{body}</body></html>"#;

const THANKS: &str = "<h1>Thank you!</h1><p>Your rating helps us help you.</p>";

/// A survey's scale: CSAT 1 (poor) to 5 (great), NPS 0 (not at all likely) to 10 (extremely).
struct Scale {
    low: u32,
    high: u32,
    question: &'static str,
    legend: &'static str,
}

impl Scale {
    fn of(kind: &str) -> Self {
        if kind == "nps" {
            Self {
                low: 0,
                high: 10,
                question: "How likely are you to recommend us to a friend?",
                legend: "0 is not at all likely, 10 is extremely likely.",
            }
        } else {
            Self { low: 1, high: 5, question: "How did we do?", legend: "1 is poor, 5 is great." }
        }
    }

    fn page(&self) -> String {
        let buttons: String = (self.low..=self.high).map(|n| format!("<button>{n}</button>")).collect();
        format!(
            "<h1>{}</h1>\n<p>{}</p>\n<div id=\"scale\">{buttons}</div>\n{SCALE_FORM}",
            self.question, self.legend
        )
    }
}

const SCALE_FORM: &str = r#"<textarea id="comment" rows="3" placeholder="Anything to add? (optional)"></textarea>
<p id="said" role="status"></p>
<script>
for (const button of document.querySelectorAll('#scale button')) {
  button.onclick = async () => {
    const body = JSON.stringify({score: Number(button.textContent), comment: document.getElementById('comment').value});
    const answer = await fetch(location.pathname, {method: 'POST', headers: {'Content-Type': 'application/json'}, body});
    const said = await answer.json();
    document.getElementById('said').textContent = answer.ok ? 'Thank you!' : said.error;
  };
}
</script>"#;
