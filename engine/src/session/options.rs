//! What a broadcast is started with besides its settings, and what it did once over.

use std::path::PathBuf;
use std::time::Duration;

use crate::transcode::ffmpeg::Ffmpeg;

#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub ffmpeg: Ffmpeg,
    /// Read the input at the media's own pace (a finished file played live); recorder chunks
    /// already arrive at that pace.
    pub realtime_input: bool,
    /// How often the listener count is read from the server's status page.
    pub listener_poll: Duration,
    /// Keep every chunk in a file in this folder (see `Recording`), written before it is queued.
    pub record_to: Option<PathBuf>,
    /// A live recorder gives its first bytes within a second; one that has given nothing by then
    /// never will (WebKit's recorder asked for a rate it cannot encode), so the broadcast fails with
    /// a sentence instead of showing "Connecting…" for ever. None: wait as long as it takes (a file
    /// or a pipe read by the CLI).
    pub first_bytes_within: Option<Duration>,
}

/// How long the app waits for the recorder's first bytes (`SessionOptions::first_bytes_within`).
pub const RECORDER_FIRST_BYTES: Duration = Duration::from_secs(5);

impl SessionOptions {
    pub fn new(ffmpeg: Ffmpeg) -> Self {
        SessionOptions {
            ffmpeg,
            realtime_input: false,
            // A join or a leave shows within 5 s, as Icecast's own page has it: a small JSON
            // document every 2 s.
            listener_poll: Duration::from_secs(2),
            record_to: None,
            first_bytes_within: None,
        }
    }
}

/// What a finished broadcast did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub bytes_in: u64,
    pub bytes_sent: u64,
    pub live_for: Duration,
    /// How often the stream had a gap: the server was away, or the encoder was restarted.
    pub gaps: u64,
}

impl Summary {
    /// Whether listeners got everything, in one sentence.
    pub fn delivery(&self) -> String {
        match self.gaps {
            0 => "Everything recorded was sent.".into(),
            1 => "The stream had one gap while it recovered; the local recording has everything.".into(),
            n => format!("The stream had {n} gaps while it recovered; the local recording has everything."),
        }
    }
}
