//! Integration tests: the engine against a real Icecast (Debian icecast2) and a real ffmpeg, fed
//! with the real recorder output in shared/corpus.

mod cli;
mod encoder;
mod errors;
mod formats;
mod metadata;
mod reconnect;
mod recording;
mod secrets;
mod slow_network;
mod stats;
mod stop;
mod support;
