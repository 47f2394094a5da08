//! Snapshots of the desk's in-memory folds: a fold's state as of a stream sequence, in
//! `desk.fold_snapshots`, so that a start folds the stream from there on rather than from its
//! beginning. The state is JSON (serde); protobuf values inside it are kept as their encoding.

use std::sync::Arc;

use serde::{Serialize, de::DeserializeOwned};
use sqlx::PgPool;
use switchboard_projection::TaskResult;
use tokio_util::sync::CancellationToken;

use crate::Error;

/// How often a fold that moved on is saved.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// A fold that can be saved and read back.
pub trait Snapshot: Serialize + DeserializeOwned {
    /// Names the fold's row.
    const FOLD: &'static str;
    /// The state's format: a snapshot of another is not read (the fold starts from the stream).
    const VERSION: i32;
}

/// The saved state of `S` and its sequence, if one of this format was saved.
pub async fn load<S: Snapshot>(pool: &PgPool) -> Result<Option<(u64, S)>, Error> {
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT sequence, state FROM desk.fold_snapshots WHERE fold = $1 AND version = $2")
            .bind(S::FOLD)
            .bind(S::VERSION)
            .fetch_optional(pool)
            .await?;
    let Some((sequence, state)) = row else { return Ok(None) };
    match serde_json::from_slice(&state) {
        Ok(state) => Ok(Some((u64::try_from(sequence).unwrap_or(0), state))),
        Err(error) => {
            tracing::warn!(fold = S::FOLD, %error, "unreadable fold snapshot; folding the stream from its start");
            Ok(None)
        }
    }
}

/// Saves `state` as of `sequence`, unless a later one is saved.
pub async fn save<S: Snapshot>(pool: &PgPool, sequence: u64, state: &S) -> Result<(), Error> {
    let state = serde_json::to_vec(state)?;
    sqlx::query(
        "INSERT INTO desk.fold_snapshots (fold, sequence, version, state) VALUES ($1, $2, $3, $4)
         ON CONFLICT (fold) DO UPDATE SET sequence = EXCLUDED.sequence, version = EXCLUDED.version,
             state = EXCLUDED.state, saved_at = now()
         WHERE fold_snapshots.sequence < EXCLUDED.sequence OR fold_snapshots.version <> EXCLUDED.version",
    )
    .bind(S::FOLD)
    .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
    .bind(S::VERSION)
    .bind(state)
    .execute(pool)
    .await?;
    Ok(())
}

/// What a saver needs of a fold: its state as of the last sequence folded, when that moved on
/// past `saved`.
pub trait Saved: Send + Sync + 'static {
    type State: Snapshot + Send;
    fn state_after(&self, saved: u64) -> Option<(u64, Self::State)>;
}

/// Saves the fold every [`EVERY`] while it moves on, and once more at shutdown; a failed save
/// is logged (the next one, or the stream, makes up for it).
pub async fn keep_saving<F: Saved>(fold: Arc<F>, pool: PgPool, shutdown: CancellationToken) -> TaskResult {
    let mut saved = 0;
    loop {
        let stopping = tokio::select! {
            () = shutdown.cancelled() => true,
            () = tokio::time::sleep(EVERY) => false,
        };
        if let Some((sequence, state)) = fold.state_after(saved) {
            match save(&pool, sequence, &state).await {
                Ok(()) => saved = sequence,
                Err(error) => tracing::warn!(fold = F::State::FOLD, %error, "fold snapshot not saved"),
            }
        }
        if stopping {
            return Ok(());
        }
    }
}

/// Serde for a protobuf value: its encoding.
pub mod proto {
    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};

    pub fn serialize<T: prost::Message, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&value.encode_to_vec())
    }

    pub fn deserialize<'de, T: prost::Message + Default, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        let bytes = Vec::<u8>::deserialize(deserializer)?;
        T::decode(bytes.as_slice()).map_err(D::Error::custom)
    }
}

/// Serde for an optional protobuf value.
pub mod proto_option {
    use serde::{Deserialize as _, Deserializer, Serialize as _, Serializer, de::Error as _};

    pub fn serialize<T: prost::Message, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().map(prost::Message::encode_to_vec).serialize(serializer)
    }

    pub fn deserialize<'de, T: prost::Message + Default, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        let bytes = Option::<Vec<u8>>::deserialize(deserializer)?;
        bytes.map(|bytes| T::decode(bytes.as_slice()).map_err(D::Error::custom)).transpose()
    }
}

/// Serde for a list of protobuf values.
pub mod proto_vec {
    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};

    pub fn serialize<T: prost::Message, S: Serializer>(
        values: &[T],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(prost::Message::encode_to_vec))
    }

    pub fn deserialize<'de, T: prost::Message + Default, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<T>, D::Error> {
        let encoded = Vec::<Vec<u8>>::deserialize(deserializer)?;
        encoded.iter().map(|bytes| T::decode(bytes.as_slice()).map_err(D::Error::custom)).collect()
    }
}

/// Serde for a map of names to protobuf values.
pub mod proto_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};

    pub fn serialize<T: prost::Message, S: Serializer>(
        map: &BTreeMap<String, T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.iter().map(|(name, value)| (name, value.encode_to_vec())))
    }

    pub fn deserialize<'de, T: prost::Message + Default, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, T>, D::Error> {
        let encoded = BTreeMap::<String, Vec<u8>>::deserialize(deserializer)?;
        encoded
            .into_iter()
            .map(|(name, bytes)| Ok((name, T::decode(bytes.as_slice()).map_err(D::Error::custom)?)))
            .collect()
    }
}

/// Serde for a time: microseconds since the epoch.
pub mod time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(at.timestamp_micros())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let micros = i64::deserialize(deserializer)?;
        DateTime::from_timestamp_micros(micros).ok_or_else(|| D::Error::custom("time out of range"))
    }
}

/// Serde for a map whose keys are not strings (a tenant and an id): a list of pairs.
pub mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(map: &'a M, serializer: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        serializer.collect_seq(map)
    }

    pub fn deserialize<'de, M, K, V, D>(deserializer: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?.into_iter().collect())
    }
}
