//! Switchboard's understanding of customer messages, as a library with no I/O of its own:
//! intents (trainable), sentence embeddings, and the reading of language, sentiment, urgency
//! and entities.

#![forbid(unsafe_code)]

pub mod embed;
pub mod entities;
pub mod intent;
pub mod language;
pub mod sentiment;
