//! Where a stream goes (server, mount, credentials) and how it describes itself (the `ice-*` headers).

use base64::Engine as _;

use crate::net::Endpoint;
use crate::secrets::Secret;
use crate::settings::{Destination, Settings, StreamInfo};

/// The server, the mount and the credentials: all that is needed to talk to one Icecast mount.
#[derive(Clone, Debug)]
pub struct Target {
    pub endpoint: Endpoint,
    pub mount: String,
    pub username: String,
    pub password: Secret,
}

impl Target {
    /// One destination of validated settings (port in range), with any certificate trusted for
    /// its server.
    pub fn new(s: &Settings, d: &Destination) -> Target {
        let (host, port) = (d.server.host.trim(), d.server.port as u16);
        Target {
            endpoint: Endpoint {
                host: host.to_string(),
                port,
                tls: d.server.tls,
                pin: s.pin_for(host, port),
            },
            mount: d.mount(),
            username: d.server.username.clone(),
            password: d.server.password.clone(),
        }
    }

    /// The first destination's: for callers that talk to one server.
    pub fn from_settings(s: &Settings) -> Target {
        Target::new(s, s.first())
    }

    pub(super) fn basic_auth(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.username,
            self.password.expose()
        ))
    }

    /// What a listener opens.
    pub fn listen_url(&self) -> String {
        format!("{}{}", self.endpoint.base_url(), self.mount)
    }
}

/// The stream description sent with the PUT.
#[derive(Clone, Debug)]
pub struct StreamHeaders {
    pub content_type: String,
    pub name: String,
    pub description: String,
    pub genre: String,
    pub url: String,
    pub public: bool,
    pub audio_bitrate_kbps: Option<u32>,
}

impl StreamHeaders {
    /// The broadcast's info with one destination's format and bitrate.
    pub fn new(stream: &StreamInfo, d: &Destination) -> StreamHeaders {
        StreamHeaders {
            content_type: d.format.content_type().to_string(),
            name: stream.name.clone(),
            description: stream.description.clone(),
            genre: stream.genre.clone(),
            url: stream.url.clone(),
            public: stream.public,
            audio_bitrate_kbps: Some(d.audio_bitrate_kbps),
        }
    }

    /// The first destination's: for callers that talk to one server.
    pub fn from_settings(s: &Settings) -> StreamHeaders {
        StreamHeaders::new(&s.stream, s.first())
    }
}

/// Icecast reads ice-* headers as Latin-1: send Latin-1 where it can hold the text; beyond that only
/// the mount's configured charset can help, so UTF-8 goes as is.
pub fn header_value_bytes(value: &str) -> (Vec<u8>, bool) {
    if value.chars().all(|c| (c as u32) < 256) {
        (value.chars().map(|c| c as u8).collect(), true)
    } else {
        (value.as_bytes().to_vec(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_where_possible() {
        assert_eq!(header_value_bytes("Café"), (vec![b'C', b'a', b'f', 0xE9], true));
        assert!(!header_value_bytes("東京").1);
    }
}
