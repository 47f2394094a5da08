//! The protobuf envelope every consumer decodes from the bus: an event (and a channel adapter's
//! inbound message) is decoded or refused, never a panic, and what decodes encodes back to the
//! same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use switchboard_proto::events::v1::{Event, InboundMessage};

fuzz_target!(|payload: &[u8]| {
    if let Ok(event) = Event::decode(payload) {
        let again = Event::decode(event.encode_to_vec().as_slice()).expect("an encoded event decodes");
        assert_eq!(again, event);
        let _ = switchboard_bus::tenant_of(&event);
        if let Some(body) = &event.body {
            let _ = (switchboard_bus::aggregate_of(body), switchboard_bus::event_type_of(body));
        }
    }
    if let Ok(inbound) = InboundMessage::decode(payload) {
        let again = InboundMessage::decode(inbound.encode_to_vec().as_slice()).expect("it decodes");
        assert_eq!(again, inbound);
    }
});
