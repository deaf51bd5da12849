//! Integration tests: the engine against a real Icecast (Debian icecast2) and a real Liquidsoap
//! harbor, a real ffmpeg and a real browser (Debian chromium) as listener, fed with the real recorder
//! output in shared/corpus.

// Linux only: the servers are Debian's icecast2 and liquidsoap, the listener Debian's chromium,
// and children are tied to the test's life with prctl(PR_SET_PDEATHSIG).
#![cfg(target_os = "linux")]

mod browser;
#[path = "../../../bench/browsers.rs"]
mod browsers;
mod cli;
mod destinations;
mod encoder;
mod errors;
mod formats;
mod harbor;
mod live_edge;
mod metadata;
mod reconnect;
mod recording;
mod replayed_servers;
mod secrets;
mod slow_network;
mod sound;
mod stats;
mod stop;
mod support;
mod tls;
