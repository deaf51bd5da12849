//! What a UI or the CLI shows about a running broadcast.

use std::time::Duration;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum State {
    Connecting,
    Live,
    /// The connection was lost; the encoder keeps running and the next attempt is under way.
    Reconnecting {
        attempt: u32,
        /// Seconds until that attempt, rounded up (0: under way).
        next_in_secs: u64,
        reason: String,
    },
    Stopping,
    Stopped,
    Failed {
        reason: String,
    },
}

impl State {
    pub fn is_final(&self) -> bool {
        matches!(self, State::Stopped | State::Failed { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub state: State,
    pub uptime_secs: u64,
    pub bytes_sent: u64,
    pub bitrate_kbps: f64,
    /// None until the server's status page has been read once, and for as long as it cannot be.
    pub listeners: Option<u32>,
    /// The server has no status page (Liquidsoap's `input.harbor`, say): the listener count stays
    /// unknown for this broadcast, and is not asked for again.
    pub listeners_not_reported: bool,
    /// The local recording's file, once it exists, and its size (told about once a second).
    pub recording: Option<String>,
    pub recording_bytes: u64,
    /// Seconds of the stream dropped because the network could not carry it in time.
    pub skipped_secs: u64,
    /// Why the local recording stopped (a full disk, say); the broadcast goes on without it.
    pub recording_problem: Option<String>,
    /// When the broadcast failed on a certificate the person could choose to trust: which one.
    pub certificate: Option<crate::net::trust::CertificateOffer>,
    /// Each destination's own state and stats, in the settings' order (switched-off ones left
    /// out). The fields above add them up: LIVE while any destination is live, bytes and bitrate
    /// summed, listeners summed over the servers that report them.
    pub destinations: Vec<DestinationStatus>,
}

/// One destination's fate within the broadcast.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DestinationStatus {
    /// Its place in the settings' list of destinations.
    pub index: usize,
    pub name: String,
    pub listen_url: String,
    #[serde(flatten)]
    pub status: Status,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: State::Connecting,
            uptime_secs: 0,
            bytes_sent: 0,
            bitrate_kbps: 0.0,
            listeners: None,
            listeners_not_reported: false,
            recording: None,
            recording_bytes: 0,
            skipped_secs: 0,
            recording_problem: None,
            certificate: None,
            destinations: Vec::new(),
        }
    }
}

impl Status {
    /// One line for a terminal: "LIVE 00:12:34 · 1.2 MB sent · 128 kbps · 3 listeners".
    pub fn line(&self) -> String {
        let head = match &self.state {
            State::Connecting => "Connecting…".to_string(),
            State::Live => format!("LIVE {}", clock(Duration::from_secs(self.uptime_secs))),
            State::Reconnecting {
                attempt,
                next_in_secs,
                ..
            } => reconnecting(*attempt, *next_in_secs),
            State::Stopping => "Stopping…".to_string(),
            State::Stopped => "Stopped".to_string(),
            State::Failed { reason } => format!("Stopped: {reason}"),
        };
        let live = self
            .destinations
            .iter()
            .filter(|d| d.status.state == State::Live)
            .count();
        let head = match self.destinations.len() {
            0 | 1 => head,
            n => format!("{head} · {live} of {n} destinations live"),
        };
        if !matches!(self.state, State::Live | State::Stopping) {
            return head;
        }
        let listeners = match self.listeners {
            Some(1) => "1 listener".to_string(),
            Some(n) => format!("{n} listeners"),
            // Unknown: not read yet, or a server that does not say. Never a guess.
            None => "listeners: —".to_string(),
        };
        let skipped = match self.skipped_secs {
            0 => String::new(),
            n => format!(" · {n} s skipped (network too slow)"),
        };
        format!(
            "{head} · {} sent · {:.0} kbps · {listeners}{skipped}",
            human_bytes(self.bytes_sent),
            self.bitrate_kbps
        )
    }
}

/// "Reconnecting — attempt 3, next in 2 s".
pub fn reconnecting(attempt: u32, next_in_secs: u64) -> String {
    if next_in_secs == 0 {
        format!("Reconnecting — attempt {attempt}")
    } else {
        format!("Reconnecting — attempt {attempt}, next in {next_in_secs} s")
    }
}

pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnecting_line_says_the_attempt_and_when() {
        let state = |next_in_secs| State::Reconnecting {
            attempt: 2,
            next_in_secs,
            reason: "the server closed the connection".into(),
        };
        let line = |st| {
            Status {
                state: st,
                ..Status::default()
            }
            .line()
        };
        assert_eq!(line(state(1)), "Reconnecting — attempt 2, next in 1 s");
        assert_eq!(line(state(0)), "Reconnecting — attempt 2");
    }

    #[test]
    fn live_line() {
        let s = Status {
            state: State::Live,
            uptime_secs: 3723,
            bytes_sent: 1_234_567,
            bitrate_kbps: 127.6,
            listeners: Some(3),
            ..Status::default()
        };
        assert_eq!(s.line(), "LIVE 01:02:03 · 1.2 MB sent · 128 kbps · 3 listeners");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["state"], "live");
        assert_eq!(json["listeners"], 3);
    }

    #[test]
    fn unknown_listener_count_is_a_dash() {
        let s = Status {
            state: State::Live,
            uptime_secs: 5,
            bytes_sent: 80_000,
            bitrate_kbps: 128.0,
            listeners: None,
            listeners_not_reported: true,
            ..Status::default()
        };
        assert_eq!(s.line(), "LIVE 00:00:05 · 80.0 kB sent · 128 kbps · listeners: —");
        assert!(!s.line().contains('?'));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["listeners"], serde_json::Value::Null);
        assert_eq!(json["listeners_not_reported"], true);
        // Before the first answer too: a dash, not a question mark.
        let connecting_then_live = Status {
            state: State::Live,
            ..Status::default()
        };
        assert!(connecting_then_live.line().ends_with(" · listeners: —"));
        assert_eq!(
            serde_json::to_value(&connecting_then_live).unwrap()["listeners_not_reported"],
            false
        );
    }

    #[test]
    fn failed_line_carries_reason() {
        let s = Status {
            state: State::Failed {
                reason: "Nope.".into(),
            },
            ..Status::default()
        };
        assert_eq!(s.line(), "Stopped: Nope.");
    }
}
