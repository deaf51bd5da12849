//! The local recording: everything the recorder gave, in order, in a file, whatever happens to the
//! network or the server. It is written before the bytes go to the broadcast, unbuffered, so a
//! crash or a lost connection loses nothing that was captured. WebKit's MP4 gets the same repair
//! as the broadcast (its last fragment repeats a header, which players reject); nothing else is
//! changed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::recording_marks::Marks;
use crate::media::fmp4::Fmp4Repair;
use crate::media::format::{sniff, Container, SNIFF_LEN};

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("The recording could not be saved in {path}: {reason}. The broadcast goes on; free some space or choose another folder for the next one.")]
    Write { path: String, reason: String },
}

pub struct Recording {
    dir: PathBuf,
    stem: String,
    head: Vec<u8>,
    file: Option<(PathBuf, std::fs::File)>,
    repair: Option<Fmp4Repair>,
    bytes: u64,
    marks: Option<Marks>,
}

/// "2026-11-25 12.34.56 UTC": sorts by time, and is a valid file name everywhere.
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}.{:02}.{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Recording {
    /// A recording in `dir` named after the moment it starts; the file appears with the first bytes,
    /// its extension from what they are (WebM, Matroska or MP4).
    pub fn new(dir: &Path) -> Recording {
        Recording {
            dir: dir.to_path_buf(),
            stem: format!("Icecream {}", utc_stamp(SystemTime::now())),
            head: Vec::new(),
            file: None,
            repair: None,
            bytes: 0,
            marks: None,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn error(&self, e: std::io::Error) -> RecordingError {
        RecordingError::Write {
            path: self.dir.display().to_string(),
            reason: crate::plain_io_reason(&e),
        }
    }

    pub fn write(&mut self, chunk: &[u8]) -> Result<(), RecordingError> {
        if self.file.is_none() {
            self.head.extend_from_slice(chunk);
            if self.head.len() < SNIFF_LEN {
                return Ok(());
            }
            let ext = match sniff(&self.head) {
                // The engine's own capture: PCM, which WebM cannot carry; with the page's
                // picture beside it, a video.
                Some(Container::Webm) if crate::media::format::is_matroska(&self.head) => {
                    match crate::media::format::has_picture(&self.head) {
                        true => "mkv",
                        false => "mka",
                    }
                }
                Some(Container::Webm) => "webm",
                Some(Container::Mp4) => {
                    self.repair = Some(Fmp4Repair::new());
                    "mp4"
                }
                None => "bin",
            };
            std::fs::create_dir_all(&self.dir).map_err(|e| self.error(e))?;
            let path = self.dir.join(format!("{}.{ext}", self.stem));
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| self.error(e))?;
            self.file = Some((path, file));
            let head = std::mem::take(&mut self.head);
            return self.append(&head);
        }
        self.append(chunk)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), RecordingError> {
        let repaired;
        let bytes = match &mut self.repair {
            Some(r) => {
                repaired = r.push(bytes);
                &repaired[..]
            }
            None => bytes,
        };
        let (_, file) = self
            .file
            .as_mut()
            .expect("the file exists once bytes are written");
        let written = file.write_all(bytes);
        written.map_err(|e| self.error(e))?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Marks a moment `at` this far into the recording (the sound input went away, came back) in
    /// the cue sheet beside it, started at the first mark. Nothing to mark before the file exists.
    pub fn mark(&mut self, at: std::time::Duration, title: &str) -> Result<(), RecordingError> {
        let Some((path, _)) = &self.file else {
            return Ok(());
        };
        let marked = match &mut self.marks {
            Some(marks) => marks.mark(at, title),
            None => Marks::create(path).and_then(|marks| self.marks.insert(marks).mark(at, title)),
        };
        marked.map_err(|e| self.error(e))
    }

    /// Writes what is still held (a stream shorter than a container header) and syncs to disk.
    pub fn finish(mut self) -> Result<Option<PathBuf>, RecordingError> {
        if self.file.is_none() && !self.head.is_empty() {
            // Too short to tell what it is: keep it anyway, it is what was captured.
            let head = std::mem::take(&mut self.head);
            let path = self.dir.join(format!("{}.bin", self.stem));
            std::fs::create_dir_all(&self.dir).map_err(|e| self.error(e))?;
            std::fs::write(&path, &head).map_err(|e| self.error(e))?;
            return Ok(Some(path));
        }
        if let Some(tail) = self.repair.as_mut().map(|r| r.finish()) {
            self.repair = None;
            self.append(&tail)?;
        }
        match self.file.take() {
            Some((path, file)) => {
                file.sync_all().map_err(|e| self.error(e))?;
                Ok(Some(path))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_byte_named_by_time_and_container() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recording::new(dir.path());
        let webm = [&[0x1A, 0x45, 0xDF, 0xA3][..], &[7; 5], &[8; 9], &[9; 100]];
        for c in webm {
            r.write(c).unwrap();
        }
        let path = r.finish().unwrap().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), webm.concat());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("Icecream 20") && name.ends_with(" UTC.webm"),
            "{name}"
        );
    }

    #[test]
    fn captured_sound_is_named_matroska() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recording::new(dir.path());
        use crate::media::audio_mka::{AudioTrack, MkaWriter};
        let (mut w, header) = MkaWriter::new(&AudioTrack::pcm(2));
        r.write(&header).unwrap();
        r.write(&w.write_pcm(&[0.5; 1920])).unwrap();
        let path = r.finish().unwrap().unwrap();
        assert!(path.to_str().unwrap().ends_with(" UTC.mka"), "{path:?}");
    }

    #[test]
    fn utc_stamps_are_calendar_dates() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(utc_stamp(t), "2026-11-18 11.06.40 UTC");
        assert_eq!(utc_stamp(SystemTime::UNIX_EPOCH), "1970-01-01 00.00.00 UTC");
    }
}
