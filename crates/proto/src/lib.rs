//! The wire: protobuf events and the gRPC API of every service, compiled from `proto/`.

#![forbid(unsafe_code)]

mod status;

pub use status::{ErrorKind, ServiceError, to_status};

/// Encoded `FileDescriptorSet` of every package, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/switchboard_descriptor.bin"));

/// Events and inbound messages: the bus contract.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("switchboard.events.v1");
    }
}

pub mod auth {
    pub mod v1 {
        tonic::include_proto!("switchboard.auth.v1");
    }
}

pub mod intake {
    pub mod v1 {
        tonic::include_proto!("switchboard.intake.v1");
    }
}

pub mod classifier {
    pub mod v1 {
        tonic::include_proto!("switchboard.classifier.v1");
    }
}

pub mod router {
    pub mod v1 {
        tonic::include_proto!("switchboard.router.v1");
    }
}

pub mod knowledge {
    pub mod v1 {
        tonic::include_proto!("switchboard.knowledge.v1");
    }
}

pub mod notifier {
    pub mod v1 {
        tonic::include_proto!("switchboard.notifier.v1");
    }
}

pub mod analytics {
    pub mod v1 {
        tonic::include_proto!("switchboard.analytics.v1");
    }
}

pub mod desk {
    pub mod v1 {
        tonic::include_proto!("switchboard.desk.v1");
    }
}

impl events::v1::Channel {
    /// Lower-case name used in subjects and metrics, e.g. `web`.
    pub fn slug(self) -> &'static str {
        use events::v1::Channel;
        match self {
            Channel::Unspecified => "unspecified",
            Channel::Web => "web",
            Channel::Email => "email",
            Channel::Voice => "voice",
            Channel::Social => "social",
            Channel::Api => "api",
            Channel::Sms => "sms",
        }
    }

    /// The channel named by [`slug`](Self::slug), if any.
    pub fn from_slug(slug: &str) -> Option<Self> {
        use events::v1::Channel;
        [Channel::Web, Channel::Email, Channel::Voice, Channel::Social, Channel::Api, Channel::Sms]
            .into_iter()
            .find(|channel| channel.slug() == slug)
    }
}

/// Conversions between protobuf timestamps and `chrono`.
pub mod time {
    use chrono::{DateTime, Utc};
    use prost_types::Timestamp;

    /// The instant a timestamp names; the Unix epoch for a missing or invalid one.
    pub fn to_datetime(timestamp: Option<&Timestamp>) -> DateTime<Utc> {
        timestamp
            .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
            .unwrap_or_default()
    }

    pub fn to_timestamp(at: DateTime<Utc>) -> Timestamp {
        Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
    }
}
