//! The macro calls' I/O: saves and deletions are appended to the macro's stream guarded by its
//! last sequence (so two editors of one version cannot both win); lists read the projection.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchboard_bus::{Bus, Draft, Expected};
use switchboard_proto::{
    desk::v1::{Macro, MacroActions, StatusChange},
    events::v1::{MacroDeleted, MacroSaved, event::Body},
    time::to_timestamp,
};

use crate::{
    Error,
    macros::{self, last_version, next_version},
    records::{self, StoredMacro},
};

/// The aggregate of a tenant's macro, id = macro id.
pub const MACRO: &str = "macro";

/// What the projection keeps of a macro event.
pub fn stored(body: &Body, at: DateTime<Utc>) -> Option<StoredMacro> {
    match body {
        Body::MacroSaved(saved) => {
            Some(StoredMacro { body: saved.clone(), version: saved.version, deleted: false, updated_at: at })
        }
        Body::MacroDeleted(deleted) => Some(StoredMacro {
            body: MacroSaved {
                macro_id: deleted.macro_id.clone(),
                version: deleted.version,
                ..MacroSaved::default()
            },
            version: deleted.version,
            deleted: true,
            updated_at: at,
        }),
        _ => None,
    }
}

/// Saves `wire` as the next version of its macro, if `expected_version` is the version in force.
pub async fn save(
    bus: &Bus,
    tenant: &str,
    author: &str,
    wire: &Macro,
    expected_version: u32,
) -> Result<StoredMacro, Error> {
    let mut body = macros::checked(wire)?;
    let last = bus.last_event_of(MACRO, tenant, &body.macro_id).await?;
    let (version, expected) = next_version(
        &body.macro_id,
        last_version(last.as_ref().and_then(|(event, _)| event.body.as_ref())),
        last.as_ref().map(|(_, sequence)| *sequence),
        expected_version,
    )?;
    body.version = version;
    body.author = format!("agent:{author}");
    append(bus, tenant, &body.macro_id, Body::MacroSaved(body.clone()), expected).await?;
    Ok(StoredMacro { body, version, deleted: false, updated_at: Utc::now() })
}

pub async fn delete(bus: &Bus, tenant: &str, author: &str, id: &str) -> Result<u64, Error> {
    let not_found = || Error::MacroNotFound(id.to_string());
    if !switchboard_bus::is_aggregate_id(id) {
        return Err(not_found());
    }
    let (last, sequence) = bus.last_event_of(MACRO, tenant, id).await?.ok_or_else(not_found)?;
    let (version, deleted) = last_version(last.body.as_ref());
    if deleted {
        return Err(not_found());
    }
    let body = Body::MacroDeleted(MacroDeleted {
        macro_id: id.to_string(),
        version: version + 1,
        author: format!("agent:{author}"),
    });
    append(bus, tenant, id, body, Expected::Sequence(sequence)).await
}

async fn append(bus: &Bus, tenant: &str, id: &str, body: Body, expected: Expected) -> Result<u64, Error> {
    let event = Draft::new(tenant, id, body).build()?;
    match bus.append(&event, expected, None).await {
        Ok(published) => Ok(published.sequence),
        Err(switchboard_bus::Error::Conflict { .. }) => Err(Error::Stale(format!(
            "macro {id:?} was changed by someone else just now; reload it and edit again"
        ))),
        Err(error) => Err(error.into()),
    }
}

/// The tenant's macros with a text for `language` (or all when empty), by name.
pub async fn list(pool: &PgPool, tenant: &str, language: &str) -> Result<Vec<StoredMacro>, Error> {
    let all = records::macros(pool, tenant).await?;
    if language.is_empty() {
        return Ok(all);
    }
    let primary = language.split(['-', '_']).next().unwrap_or_default().to_lowercase();
    Ok(all
        .into_iter()
        .filter(|m| {
            m.body
                .texts
                .keys()
                .any(|locale| locale.split('-').next().unwrap_or_default().to_lowercase() == primary)
        })
        .collect())
}

pub fn wire(stored: &StoredMacro) -> Macro {
    let b = &stored.body;
    let status = match b.set_status.as_str() {
        "open" => StatusChange::Open,
        "pending" => StatusChange::Pending,
        "resolved" => StatusChange::Resolved,
        _ => StatusChange::Unspecified,
    };
    Macro {
        macro_id: b.macro_id.clone(),
        name: b.name.clone(),
        texts: b.texts.clone().into_iter().collect(),
        default_locale: b.default_locale.clone(),
        actions: Some(MacroActions {
            status: status.into(),
            add_tags: b.add_tags.clone(),
            queue: b.queue.clone(),
            priority: b.priority,
        }),
        version: stored.version,
        updated_at: Some(to_timestamp(stored.updated_at)),
        updated_by: b.author.strip_prefix("agent:").unwrap_or(&b.author).to_string(),
    }
}
