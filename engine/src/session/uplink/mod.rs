//! The sending side of a broadcast, one per destination: an outbox that never blocks the encoder, and
//! the uplink that delivers it to the mount, reconnecting and skipping ahead when the network lags.

pub mod link;
pub(crate) mod outbox;
