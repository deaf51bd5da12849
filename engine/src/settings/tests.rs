use std::path::{Path, PathBuf};

use super::*;
use crate::media::format::MountFormat;
use crate::secrets::Secret;

fn good() -> Settings {
    let mut s = Settings::default();
    s.first_mut().server.host = "localhost".into();
    s.first_mut().server.password = Secret::new("hackme");
    s
}

#[test]
fn defaults_plus_host_and_password_are_valid() {
    good().validate().unwrap();
}

#[test]
fn recordings_go_to_videos_or_music_or_the_chosen_folder() {
    let (videos, music) = (Path::new("/home/a/Videos"), Path::new("/home/a/Music"));
    let mut s = good();
    assert_eq!(
        s.recording_dir(Some(videos), Some(music)),
        Some(videos.join("Icecream"))
    );
    s.first_mut().format = MountFormat::Mp3;
    assert_eq!(
        s.recording_dir(Some(videos), Some(music)),
        Some(music.join("Icecream"))
    );
    s.recording.folder = "/srv/shows".into();
    assert_eq!(
        s.recording_dir(Some(videos), Some(music)),
        Some(PathBuf::from("/srv/shows"))
    );
    s.recording.folder = "shows".into();
    let err = s.validate().unwrap_err();
    assert_eq!(err.0[0].field, "folder");
    s.recording.enabled = false;
    assert_eq!(s.recording_dir(Some(videos), Some(music)), None);
    s.validate().unwrap();
    // Files written before recordings were configurable record by default.
    let old = Settings::from_json(r#"{"version":1,"server":{"host":"h"}}"#).unwrap();
    assert!(old.recording.enabled);
    assert_eq!(old.first().server.host, "h");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut s = good();
    s.first_mut().server.host = "".into();
    s.first_mut().server.port = 70000;
    s.first_mut().server.mount = "live".into();
    s.stream.name = "evil\r\nX-Injected: 1".into();
    s.first_mut().audio_bitrate_kbps = 5;
    s.encoding.fps = 0;
    let Invalid(problems) = s.validate().unwrap_err();
    let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        ["host", "port", "mount", "audio_bitrate_kbps", "name", "fps"]
    );
    assert_eq!(
        problems[1].message,
        "The port must be a number from 1 to 65535 (it is 70000)."
    );
    assert_eq!(
        problems[4].message,
        "The stream name may not contain line breaks or control characters."
    );
    assert_eq!(problems[0].destination, Some(0));
    assert_eq!(problems[4].destination, None);
}

#[test]
fn per_user_mount_appends_username() {
    let mut s = good();
    s.first_mut().server.mount = "/s-".into();
    s.first_mut().server.mount_per_user = true;
    s.first_mut().server.username = "alice".into();
    assert_eq!(s.first().mount(), "/s-alice");
    s.validate().unwrap();
    s.first_mut().server.username = "al ice".into();
    assert_eq!(s.validate().unwrap_err().0[0].field, "mount");
}

#[test]
fn host_with_scheme_gets_a_hint() {
    let mut s = good();
    s.first_mut().server.host = "http://example.org".into();
    assert!(s.validate().unwrap_err().0[0].message.contains("without http://"));
}

#[test]
fn bad_mounts_are_refused() {
    for m in ["/", "/a/../b", "/a b", "/live/", "/x\r\n"] {
        let mut s = good();
        s.first_mut().server.mount = m.into();
        assert!(s.validate().is_err(), "{m:?} should be refused");
    }
}

#[test]
fn password_is_never_written_to_the_file() {
    let s = good();
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("hackme"));
    assert!(!format!("{s:?}").contains("hackme"));
}

#[test]
fn round_trip_and_newer_version_refused() {
    let s = good();
    let back = Settings::from_json(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back.first().server.host, "localhost");
    assert_eq!(
        Settings::from_json(r#"{"version": 99}"#),
        Err(FromJsonError::TooNew(99))
    );
    assert!(matches!(
        Settings::from_json("{nope"),
        Err(FromJsonError::Corrupt(_))
    ));
}

#[test]
fn a_version_1_file_becomes_a_list_of_one() {
    let old = r#"{"version":1,"server":{"host":"radio.example.org","port":8443,"tls":true,
    "mount":"/show.mp3","username":"dj"},"encoding":{"format":"mp3",
    "audio_bitrate_kbps":192,"width":1280}}"#;
    let s = Settings::from_json(old).unwrap();
    assert_eq!(s.version, SETTINGS_VERSION);
    assert_eq!(s.destinations.len(), 1);
    let d = s.first();
    assert_eq!(
        (
            d.server.host.as_str(),
            d.server.port,
            d.server.tls,
            d.mount().as_str()
        ),
        ("radio.example.org", 8443, true, "/show.mp3")
    );
    assert_eq!(
        (d.format, d.audio_bitrate_kbps, d.enabled),
        (MountFormat::Mp3, 192, true)
    );
    assert_eq!(s.encoding.width, 1280);
    let saved = serde_json::to_value(&s).unwrap();
    assert!(saved.get("server").is_none() && saved["encoding"].get("format").is_none());
}

#[test]
fn every_destinations_problems_are_named() {
    let mut s = good();
    s.first_mut().name = "Station".into();
    let mut backup = s.first().clone();
    backup.name = "Backup".into();
    backup.server.host = "".into();
    backup.audio_bitrate_kbps = 1000;
    let mut third = s.first().clone();
    third.name = String::new();
    third.server.host = "relay.example.org".into();
    third.server.password = Secret::default();
    s.destinations.extend([backup, third]);
    let Invalid(problems) = s.validate().unwrap_err();
    let said: Vec<(Option<usize>, &str)> = problems
        .iter()
        .map(|p| (p.destination, p.message.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            (
                Some(1),
                "Backup: Enter the server's host name, for example icecast.example.org."
            ),
            (
                Some(1),
                "Backup: The audio bitrate must be from 16 to 320 kbps (it is 1000 kbps)."
            ),
            (
                Some(2),
                "relay.example.org/live: Enter the source password of your Icecast server."
            ),
        ]
    );
    // Off destinations are still checked (they are saved), but need not be reachable.
    s.destinations.truncate(1);
    let mut twin = s.first().clone();
    twin.name = "Twin".into();
    s.destinations.push(twin);
    let Invalid(problems) = s.validate().unwrap_err();
    assert_eq!(
    problems[0].message,
    "Station and Twin both send to localhost:8000/live. A mount takes one source: change one of the mounts."
);
    s.destinations[1].enabled = false;
    s.validate().unwrap();
    s.destinations[0].enabled = false;
    assert_eq!(s.validate().unwrap_err().0[0].field, "destinations");
}

#[test]
fn only_destinations_with_video_need_the_picture() {
    let mut s = good();
    s.first_mut().format = MountFormat::Mp3;
    s.encoding.width = 1;
    s.validate().unwrap();
    assert!(!s.has_video());
    let mut video = s.first().clone();
    video.format = MountFormat::WebmVideo;
    video.server.mount = "/video".into();
    s.destinations.push(video);
    assert!(s.has_video());
    assert_eq!(s.validate().unwrap_err().0[0].field, "width");
    // One stream per encode: same format and bitrate share it; the picture only matters for video.
    let (a, b) = (
        s.destinations[0].encode(&s.encoding),
        s.destinations[1].encode(&s.encoding),
    );
    assert_ne!(a, b);
    let mut other_mp3 = s.destinations[0].clone();
    other_mp3.server.host = "backup.example.org".into();
    assert_eq!(other_mp3.encode(&s.encoding), a);
}

#[test]
fn radio_in_one_step_gives_video_destinations_a_sound_format_and_its_ending() {
    let mut s = good();
    s.first_mut().format = MountFormat::WebmVideo;
    s.first_mut().server.mount = "/live.webm".into();
    let mut named = s.destinations[0].clone();
    named.id = "named".into();
    named.server.mount = "/studio".into();
    let mut off = s.destinations[0].clone();
    off.id = "off".into();
    off.enabled = false;
    s.destinations.push(named);
    s.destinations.push(off);
    assert!(s.make_sound_only(MountFormat::OggOpus));
    let got: Vec<(&str, MountFormat)> = (s.destinations.iter())
        .map(|d| (d.server.mount.as_str(), d.format))
        .collect();
    assert_eq!(
        got,
        [
            ("/live.opus", MountFormat::OggOpus),
            // Named by the person: its name stays.
            ("/studio", MountFormat::OggOpus),
            // Switched off: not this broadcast's.
            ("/live.webm", MountFormat::WebmVideo),
        ]
    );
    s.validate().unwrap();
    // Already radio: nothing to change.
    assert!(!s.make_sound_only(MountFormat::Mp3));
}
