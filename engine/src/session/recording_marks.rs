//! Marks in a recording — where the sound input went away and where it came back — as a cue sheet
//! beside it (`….mka.cue`): players that read cue sheets (VLC, foobar2000, mpv's cue demuxer) show
//! each mark as a track to jump to, and it is plain text a person can read. A live Matroska file
//! cannot take chapters once its head is written; the sheet grows line by line instead, flushed at
//! each mark, so a crash keeps the marks made so far.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Cue sheets count time in CD frames: 75 a second.
const FRAMES_PER_SEC: u128 = 75;

pub struct Marks {
    file: std::fs::File,
    tracks: u32,
}

impl Marks {
    /// Starts the sheet for `recording`, its first track at 0 (what came before any mark).
    pub fn create(recording: &Path) -> std::io::Result<Marks> {
        let name = recording
            .file_name()
            .map(|n| n.to_string_lossy().replace('"', "'"))
            .unwrap_or_default();
        let mut path = recording.as_os_str().to_owned();
        path.push(".cue");
        let path = PathBuf::from(path);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        writeln!(
            file,
            "REM COMMENT \"Icecream: where the sound input went away and came back\"\nFILE \"{name}\" WAVE"
        )?;
        let mut marks = Marks { file, tracks: 0 };
        marks.mark(Duration::ZERO, "Sound")?;
        Ok(marks)
    }

    /// A mark `at` this far into the recording, titled `title`.
    pub fn mark(&mut self, at: Duration, title: &str) -> std::io::Result<()> {
        self.tracks += 1;
        let frames = at.as_millis() * FRAMES_PER_SEC / 1000;
        let (min, sec, frame) = (
            frames / FRAMES_PER_SEC / 60,
            frames / FRAMES_PER_SEC % 60,
            frames % FRAMES_PER_SEC,
        );
        write!(
            self.file,
            "  TRACK {:02} AUDIO\n    TITLE \"{}\"\n    INDEX 01 {min:02}:{sec:02}:{frame:02}\n",
            self.tracks,
            title.replace('"', "'")
        )?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_cue_tracks_at_their_times() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("Icecream 2026-12-04 21.50.00 UTC.mka");
        let mut marks = Marks::create(&recording).unwrap();
        marks
            .mark(
                Duration::from_millis(63_040),
                "The sound input went away (\"unplugged\")",
            )
            .unwrap();
        marks
            .mark(Duration::from_millis(3_661_500), "The sound input is back")
            .unwrap();
        let sheet =
            std::fs::read_to_string(dir.path().join("Icecream 2026-12-04 21.50.00 UTC.mka.cue")).unwrap();
        assert_eq!(
            sheet,
            "REM COMMENT \"Icecream: where the sound input went away and came back\"\n\
             FILE \"Icecream 2026-12-04 21.50.00 UTC.mka\" WAVE\n\
             \x20 TRACK 01 AUDIO\n    TITLE \"Sound\"\n    INDEX 01 00:00:00\n\
             \x20 TRACK 02 AUDIO\n    TITLE \"The sound input went away ('unplugged')\"\n    INDEX 01 01:03:03\n\
             \x20 TRACK 03 AUDIO\n    TITLE \"The sound input is back\"\n    INDEX 01 61:01:37\n"
        );
    }
}
