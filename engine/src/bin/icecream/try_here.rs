//! `icecream try`: a private Icecast on this computer, and a recording broadcast to it until Ctrl-C.

use std::path::PathBuf;

use icecream_engine::icecast::Target;
use icecream_engine::MountFormat;

use crate::stream::{looped_recording, stream_from, Source};

pub(crate) async fn try_here(
    input: PathBuf,
    format: MountFormat,
    fast: bool,
    once: bool,
) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("icecream-try-{}", std::process::id()));
    let opts = icecream_engine::LocalOptions {
        utf8_by_default: true,
        ..Default::default()
    };
    let server = icecream_engine::LocalIcecast::start(&dir, &opts)
        .await
        .map_err(|e| e.to_string())?;
    let mut s = server.settings(&format!("/live.{}", format.extension()), format);
    s.stream.name = "Icecream demo".into();
    eprintln!(
        "A private Icecast runs at http://127.0.0.1:{}/ — open {} in VLC or a browser.",
        server.port,
        Target::from_settings(&s).listen_url()
    );
    let looped = match once {
        true => None,
        false => match looped_recording(&input) {
            Ok(l) => {
                eprintln!("The recording plays over and over; press Ctrl-C to stop.");
                Some(l)
            }
            Err(why) => {
                eprintln!("The recording plays once: {why}.");
                None
            }
        },
    };
    let source = match looped {
        Some(l) => Source::Looped(Box::new(l)),
        None => Source::open(&input)?,
    };
    let result = stream_from(s, source, fast, None, None).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    result
}
