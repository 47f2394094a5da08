//! The article aggregate: its state is a fold of its events; commands are pure functions from
//! that state to the event they add, or to the reason they are refused.

use switchboard_proto::events::v1::{
    ArticleArchived, ArticleDrafted, ArticlePublished, ArticleUnpublished, event::Body,
};

use crate::locale;

const MAX_TITLE_CHARS: usize = 300;
const MAX_BODY_BYTES: usize = 100 * 1024;
const MAX_TAGS: usize = 32;
const MAX_QUESTIONS: usize = 50;
const MAX_QUESTION_CHARS: usize = 500;

/// What a version of an article says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    pub title: String,
    /// Markdown.
    pub body: String,
    pub locale: String,
    pub tags: Vec<String>,
    pub product_area: String,
    pub example_questions: Vec<String>,
    /// The article this one translates; empty for an original.
    pub translation_of: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// No event yet.
    #[default]
    New,
    Draft,
    Published,
    Unpublished,
    Archived,
}

/// An article as its events leave it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleState {
    pub status: Status,
    /// Every version's content, version `n` at index `n - 1`.
    pub versions: Vec<Content>,
    /// The version in search, or last in search for unpublished and archived articles.
    pub live: u32,
}

/// Why a command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotAllowed(String),
}

impl ArticleState {
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Body>) -> Self {
        events.into_iter().fold(Self::default(), Self::apply)
    }

    fn apply(mut self, event: &Body) -> Self {
        match event {
            Body::ArticleDrafted(drafted) => {
                self.versions.push(content_of_draft(drafted));
                if self.status == Status::New {
                    self.status = Status::Draft;
                }
            }
            Body::ArticlePublished(published) => {
                if published.version as usize > self.versions.len() {
                    self.versions.push(content_of_published(published));
                }
                self.live = published.version;
                self.status = Status::Published;
            }
            Body::ArticleUnpublished(_) => self.status = Status::Unpublished,
            Body::ArticleArchived(_) => self.status = Status::Archived,
            _ => {}
        }
        self
    }

    fn next_version(&self) -> u32 {
        u32::try_from(self.versions.len() + 1).unwrap_or(u32::MAX)
    }

    pub fn version(&self, version: u32) -> Option<&Content> {
        self.versions.get((version as usize).checked_sub(1)?)
    }
}

/// Saves `content` as the next version, not live.
pub fn save_draft(state: &ArticleState, article_id: &str, mut content: Content) -> Result<Body, Refusal> {
    validate(&mut content)?;
    Ok(Body::ArticleDrafted(ArticleDrafted {
        article_id: article_id.to_string(),
        version: state.next_version(),
        title: content.title,
        body: content.body,
        locale: content.locale,
        tags: content.tags,
        product_area: content.product_area,
        example_questions: content.example_questions,
        translation_of: content.translation_of,
    }))
}

/// Publishes `content` as the next version.
pub fn publish(state: &ArticleState, article_id: &str, mut content: Content) -> Result<Body, Refusal> {
    validate(&mut content)?;
    Ok(published(article_id, state.next_version(), content))
}

/// Publishes a saved draft as it is.
pub fn publish_draft(state: &ArticleState, article_id: &str, version: u32) -> Result<Body, Refusal> {
    let content = state
        .version(version)
        .ok_or_else(|| Refusal::Invalid(format!("article {article_id} has no version {version}")))?;
    if version <= state.live && state.status == Status::Published {
        return Err(Refusal::NotAllowed(format!(
            "version {version} is not newer than the live version {}",
            state.live
        )));
    }
    Ok(published(article_id, version, content.clone()))
}

/// Takes the live version out of search.
pub fn unpublish(state: &ArticleState, article_id: &str) -> Result<Option<Body>, Refusal> {
    match state.status {
        Status::Published => Ok(Some(Body::ArticleUnpublished(ArticleUnpublished {
            article_id: article_id.to_string(),
            version: state.live,
        }))),
        Status::Unpublished => Ok(None),
        Status::New | Status::Draft => {
            Err(Refusal::NotAllowed(format!("article {article_id} has never been published")))
        }
        Status::Archived => Err(Refusal::NotAllowed(format!("article {article_id} is archived"))),
    }
}

/// Withdraws the article from search and listings; archiving twice changes nothing.
pub fn archive(state: &ArticleState, article_id: &str) -> Option<Body> {
    (state.status != Status::Archived).then(|| {
        Body::ArticleArchived(ArticleArchived { article_id: article_id.to_string(), version: state.live })
    })
}

fn published(article_id: &str, version: u32, content: Content) -> Body {
    Body::ArticlePublished(ArticlePublished {
        article_id: article_id.to_string(),
        version,
        title: content.title,
        body: content.body,
        locale: content.locale,
        tags: content.tags,
        product_area: content.product_area,
        example_questions: content.example_questions,
        translation_of: content.translation_of,
    })
}

pub(crate) fn content_of_draft(drafted: &ArticleDrafted) -> Content {
    Content {
        title: drafted.title.clone(),
        body: drafted.body.clone(),
        locale: drafted.locale.clone(),
        tags: drafted.tags.clone(),
        product_area: drafted.product_area.clone(),
        example_questions: drafted.example_questions.clone(),
        translation_of: drafted.translation_of.clone(),
    }
}

pub(crate) fn content_of_published(published: &ArticlePublished) -> Content {
    Content {
        title: published.title.clone(),
        body: published.body.clone(),
        locale: published.locale.clone(),
        tags: published.tags.clone(),
        product_area: published.product_area.clone(),
        example_questions: published.example_questions.clone(),
        translation_of: published.translation_of.clone(),
    }
}

/// Normalises `content` (trimmed title and questions, default locale) or says what is wrong.
pub fn validate(content: &mut Content) -> Result<(), Refusal> {
    let invalid = |message: String| Err(Refusal::Invalid(message));
    content.title = content.title.trim().to_string();
    if content.title.is_empty() || content.title.chars().count() > MAX_TITLE_CHARS {
        return invalid(format!("title is required, at most {MAX_TITLE_CHARS} characters"));
    }
    if content.body.trim().is_empty() || content.body.len() > MAX_BODY_BYTES {
        return invalid(format!("body is required, at most {MAX_BODY_BYTES} bytes"));
    }
    let texts = [&content.title, &content.body, &content.product_area];
    if texts.iter().any(|text| text.contains('\0'))
        || content.tags.iter().chain(&content.example_questions).any(|text| text.contains('\0'))
    {
        return invalid("title, body, tags and questions may not contain NUL characters".into());
    }
    if content.locale.is_empty() {
        content.locale = "en".into();
    }
    locale::check(&content.locale).map_err(Refusal::Invalid)?;
    if content.tags.len() > MAX_TAGS || content.tags.iter().any(|tag| tag.is_empty() || tag.len() > 64) {
        return invalid(format!("at most {MAX_TAGS} tags, each 1 to 64 bytes"));
    }
    let area_ok = content.product_area.len() <= 64
        && content
            .product_area
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !area_ok {
        return invalid("product area: at most 64 lower case letters, digits, '-' and '_'".into());
    }
    content.example_questions =
        content.example_questions.iter().map(|q| q.trim().to_string()).filter(|q| !q.is_empty()).collect();
    if content.example_questions.len() > MAX_QUESTIONS
        || content.example_questions.iter().any(|q| q.chars().count() > MAX_QUESTION_CHARS)
    {
        return invalid(format!(
            "at most {MAX_QUESTIONS} example questions, each at most {MAX_QUESTION_CHARS} characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(title: &str) -> Content {
        Content {
            title: title.into(),
            body: "Open the link in your shipping email.".into(),
            ..Content::default()
        }
    }

    fn given(commands: &[fn(&ArticleState) -> Option<Body>]) -> ArticleState {
        let mut events = Vec::new();
        for command in commands {
            let state = ArticleState::fold(&events);
            events.extend(command(&state));
        }
        ArticleState::fold(&events)
    }

    fn draft(state: &ArticleState) -> Option<Body> {
        save_draft(state, "a", content("Draft")).ok()
    }

    fn publish_new(state: &ArticleState) -> Option<Body> {
        publish(state, "a", content("Live")).ok()
    }

    fn take_down(state: &ArticleState) -> Option<Body> {
        unpublish(state, "a").ok().flatten()
    }

    #[test]
    fn a_draft_is_a_new_version_not_yet_live() {
        let state = given(&[publish_new, draft]);
        assert_eq!(state.status, Status::Published);
        assert_eq!(state.live, 1);
        assert_eq!(state.versions.len(), 2);
        assert_eq!(state.version(2).map(|c| c.title.as_str()), Some("Draft"));
    }

    #[test]
    fn publishing_a_draft_publishes_what_was_saved() {
        let state = given(&[draft]);
        assert_eq!(state.status, Status::Draft);
        let Ok(Body::ArticlePublished(published)) = publish_draft(&state, "a", 1) else {
            panic!("draft publishes");
        };
        assert_eq!((published.version, published.title.as_str()), (1, "Draft"));
        assert!(publish_draft(&state, "a", 2).is_err(), "no such version");
        let state = given(&[draft, |s| publish_draft(s, "a", 1).ok()]);
        assert!(matches!(publish_draft(&state, "a", 1), Err(Refusal::NotAllowed(_))), "already live");
    }

    #[test]
    fn unpublishing_needs_a_live_version_and_is_idempotent() {
        assert!(matches!(unpublish(&given(&[draft]), "a"), Err(Refusal::NotAllowed(_))));
        let state = given(&[publish_new, take_down]);
        assert_eq!(state.status, Status::Unpublished);
        assert_eq!(unpublish(&state, "a"), Ok(None));
        let state = given(&[publish_new, take_down, |s| publish_draft(s, "a", 1).ok()]);
        assert_eq!((state.status, state.live), (Status::Published, 1), "published again");
    }

    #[test]
    fn archiving_twice_changes_nothing() {
        let state = given(&[publish_new, |s| archive(s, "a")]);
        assert_eq!(state.status, Status::Archived);
        assert_eq!(archive(&state, "a"), None);
        assert!(matches!(unpublish(&state, "a"), Err(Refusal::NotAllowed(_))));
    }

    #[test]
    fn trims_the_title_and_defaults_the_locale() {
        let mut given = content(" Tracking your order ");
        given.example_questions = vec!["  where is it? ".into(), " ".into()];
        validate(&mut given).expect("valid");
        assert_eq!(given.title, "Tracking your order");
        assert_eq!(given.locale, "en");
        assert_eq!(given.example_questions, ["where is it?"]);
    }

    #[test]
    fn refuses_articles_without_title_or_with_an_unknown_locale() {
        type Spoil = fn(&mut Content);
        let cases: [(Spoil, &str); 5] = [
            (|c| c.title = "  ".into(), "title"),
            (|c| c.locale = "en_US!".into(), "locale"),
            (|c| c.locale = "xx".into(), "unknown language"),
            (|c| c.body.clear(), "body"),
            (|c| c.product_area = "Billing & Plans".into(), "product area"),
        ];
        for (spoil, expected) in cases {
            let mut given = content("Title");
            spoil(&mut given);
            let error = validate(&mut given).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
