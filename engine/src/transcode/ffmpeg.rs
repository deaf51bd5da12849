//! Finding ffmpeg, choosing its arguments for a mount format, and running it as a supervised child.
//!
//! ffmpeg only ever reads the recorder's stream on stdin and writes the mount's stream to stdout: it
//! never talks to the server, so the password never reaches its argv.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::media::format::{Container, MountFormat};
use crate::settings::Encode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FfmpegError {
    #[error(
        "ffmpeg was not found. Icecream needs it to encode the stream. Install it, then try again: \
         Debian/Ubuntu: sudo apt install ffmpeg · Fedora: sudo dnf install ffmpeg · \
         macOS: brew install ffmpeg · Windows: winget install ffmpeg"
    )]
    NotFound,
    #[error("ffmpeg ({path}) could not be started: {reason}.")]
    Start { path: String, reason: String },
    #[error("The encoder (ffmpeg) failed: {detail}")]
    Failed { detail: String },
}

/// Where ffmpeg lives and what it says its version is.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    pub path: PathBuf,
}

const EXE: &str = if cfg!(windows) { "ffmpeg.exe" } else { "ffmpeg" };

impl Ffmpeg {
    /// A bundled sidecar beside our executable first (what the installers ship on Windows and
    /// macOS), then the PATH.
    pub fn locate() -> Result<Ffmpeg, FfmpegError> {
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        Ffmpeg::locate_in(exe_dir.as_deref(), std::env::var_os("PATH"))
    }

    pub fn locate_in(exe_dir: Option<&Path>, path_var: Option<OsString>) -> Result<Ffmpeg, FfmpegError> {
        if let Some(dir) = exe_dir {
            let sidecar = dir.join(EXE);
            if sidecar.is_file() {
                return Ok(Ffmpeg { path: sidecar });
            }
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        which::which_in(EXE, path_var, cwd)
            .map(|path| Ffmpeg { path })
            .map_err(|_| FfmpegError::NotFound)
    }

    /// The version line, e.g. "5.1.8-0+deb12u1".
    pub async fn version(&self) -> Result<String, FfmpegError> {
        let out = Command::new(&self.path)
            .arg("-version")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| self.start_error(&e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap_or("");
        Ok(first
            .strip_prefix("ffmpeg version ")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or(first)
            .to_string())
    }

    fn start_error(&self, e: &std::io::Error) -> FfmpegError {
        FfmpegError::Start {
            path: self.path.display().to_string(),
            reason: crate::plain_io_reason(e),
        }
    }

    /// Starts ffmpeg in its own process group (a terminal's Ctrl-C must not kill it before it has
    /// drained), killed by the kernel if we die (Linux), and killed if its handle is dropped.
    pub fn spawn(&self, args: &[String]) -> Result<FfmpegProcess, FfmpegError> {
        let mut cmd = Command::new(&self.path);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The CLI may hold the password in its environment; the encoder has no use for it.
            .env_remove("ICECREAM_PASSWORD")
            .kill_on_drop(true);
        #[cfg(unix)]
        {
            cmd.process_group(0);
            #[cfg(target_os = "linux")]
            {
                let parent = std::process::id() as libc::pid_t;
                // SAFETY: only async-signal-safe calls between fork and exec.
                unsafe {
                    cmd.pre_exec(move || {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        // The parent may have died between fork and prctl.
                        if libc::getppid() != parent {
                            libc::_exit(1);
                        }
                        Ok(())
                    });
                }
            }
        }
        #[cfg(windows)]
        {
            // No console window flashing up for the encoder.
            cmd.creation_flags(0x0800_0000);
        }
        let mut child = cmd.spawn().map_err(|e| self.start_error(&e))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take().expect("stderr is piped");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail2 = tail.clone();
        let pid = child.id();
        let stderr_task = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(tagged)) = lines.next_line().await {
                let (level, line) = ffmpeg_level(&tagged);
                // Minimal probing makes ffmpeg say this at every start; it is expected, not a problem.
                let level = match line.contains("not enough frames to estimate rate") {
                    true => log::Level::Debug,
                    false => level,
                };
                log::log!(level, "ffmpeg[{}]: {line}", pid.unwrap_or(0));
                // What it said about its streams is for the log; a failure is told by its warnings.
                if level > log::Level::Warn {
                    continue;
                }
                let mut t = tail2.lock().expect("stderr tail lock");
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        Ok(FfmpegProcess {
            child,
            stdin,
            stdout,
            stderr_tail: tail,
            stderr_task: Some(stderr_task),
        })
    }
}

const STDERR_TAIL: usize = 20;

/// ffmpeg runs with `-loglevel level+info`: each line carries its level ("[info]", "[warning]" …)
/// after its context. Returns the level as the log's, and the line without the tag.
fn ffmpeg_level(line: &str) -> (log::Level, String) {
    const TAGS: [(&str, log::Level); 6] = [
        ("[info] ", log::Level::Info),
        ("[warning] ", log::Level::Warn),
        ("[error] ", log::Level::Error),
        ("[fatal] ", log::Level::Error),
        ("[panic] ", log::Level::Error),
        ("[verbose] ", log::Level::Debug),
    ];
    for (tag, level) in TAGS {
        if let Some(at) = line.find(tag) {
            return (level, format!("{}{}", &line[..at], &line[at + tag.len()..]));
        }
    }
    // Untagged: a continuation of the line before, or a tool's own words; kept as a warning was.
    (log::Level::Warn, line.to_string())
}

pub struct FfmpegProcess {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
}

impl FfmpegProcess {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits for ffmpeg to exit (reaping it) and says whether it ended well; on failure the reason
    /// is ffmpeg's own last words, reworded where we know them.
    pub async fn wait(&mut self) -> Result<(), FfmpegError> {
        let status = self.child.wait().await.map_err(|e| FfmpegError::Failed {
            detail: crate::plain_io_reason(&e),
        })?;
        if let Some(t) = self.stderr_task.take() {
            let _ = t.await;
        }
        if status.success() {
            return Ok(());
        }
        Err(FfmpegError::Failed {
            detail: explain_failure(&self.stderr_tail.lock().expect("stderr tail lock"), status),
        })
    }

    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
        if let Some(t) = self.stderr_task.take() {
            let _ = t.await;
        }
    }
}

const DAMAGED: &str = "the recorder's stream is damaged and could not be read.";

impl FfmpegError {
    /// The input itself is broken: starting the encoder again would fail the same way.
    pub fn is_damaged_input(&self) -> bool {
        matches!(self, FfmpegError::Failed { detail } if detail == DAMAGED)
    }
}

fn explain_failure(tail: &VecDeque<String>, status: std::process::ExitStatus) -> String {
    let all = tail.iter().cloned().collect::<Vec<_>>().join("\n");
    if all.contains("Invalid data found")
        || all.contains("EBML header parsing failed")
        || all.contains("moov atom not found")
    {
        return DAMAGED.into();
    }
    if all.contains("pipe:0: End of file") {
        return "the recorder's stream ended before any sound or picture arrived. Check that the camera \
                and microphone work, then go live again."
            .into();
    }
    if all.contains("Unknown encoder") || all.contains("Encoder not found") {
        return "this ffmpeg lacks an encoder the format needs. Install a full ffmpeg build.".into();
    }
    match tail.iter().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => format!("{} ({status}).", last.trim()),
        None => format!("it stopped unexpectedly ({status})."),
    }
}

/// Milliseconds per Cluster of ffmpeg's WebM. The engine cuts the mount's Clusters itself (at
/// keyframes), so these only bound how long ffmpeg holds its output: it writes a Cluster once it
/// is complete.
pub const ENCODER_CLUSTER_MS: u32 = 100;
/// Ogg pages of 200 ms keep Ogg Vorbis latency in line with WebM audio.
pub const OGG_PAGE_US: u32 = 200_000;

/// ffmpeg's arguments to turn the recorder's `input` into the mount's format on stdout.
/// `realtime` paces reading at the media's own speed (for playing a finished file live).
/// `restarted`: this encoder takes over mid-stream from one that died; its WebM or Ogg output keeps
/// the input's timestamps so that it continues the timeline listeners are already on.
pub fn args(encode: &Encode, input: Container, realtime: bool, restarted: bool) -> Vec<String> {
    let (format, enc) = (encode.format, &encode.video);
    let mut a = Args::default();
    // Info, with each line's level: its streams and settings reach the log a person can send;
    // only warnings and errors make a failure's reason.
    a.push(["-hide_banner", "-nostdin", "-loglevel", "level+info", "-nostats"]);
    if realtime {
        a.push(["-re"]);
    }
    if restarted && !matches!(format, MountFormat::Mp3 | MountFormat::Aac) {
        a.push(["-copyts"]);
    }
    // Probe as little as possible: the recorder's header already describes every stream, and
    // ffmpeg's default probing holds back the first output for over two seconds.
    a.push(["-probesize", "32", "-analyzeduration", "0", "-i", "pipe:0"]);
    let abr = format!("{}k", encode.audio_bitrate_kbps);
    let opus = ["-c:a", "libopus", "-b:a", &abr, "-ar", "48000"];
    // WebM that a WebM or Ogg Opus mount can carry never comes here (the engine writes it
    // itself), so for those mounts ffmpeg always encodes: WebKit's MP4, or codecs the mount
    // cannot carry.
    match format {
        MountFormat::WebmVideo => {
            a.push(["-map", "0:v:0?", "-map", "0:a:0?"]);
            let vbr = format!("{}k", enc.video_bitrate_kbps);
            let gop = enc.fps.max(1).to_string();
            a.push([
                "-c:v",
                "libvpx",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-b:v",
                &vbr,
                "-g",
                &gop,
            ]);
            a.push(opus);
            a.webm();
        }
        MountFormat::WebmAudio | MountFormat::OggOpus => {
            a.push(["-map", "0:a:0", "-vn"]);
            a.push(opus);
            a.webm();
        }
        MountFormat::OggVorbis => {
            a.push(["-map", "0:a:0", "-vn", "-c:a", "libvorbis", "-b:a", &abr]);
            a.ogg();
        }
        // Every sample as decoded from the capture, 16-bit at 48 kHz: no bitrate to choose.
        MountFormat::OggFlac => {
            a.push([
                "-map",
                "0:a:0",
                "-vn",
                "-c:a",
                "flac",
                "-sample_fmt",
                "s16",
                "-ar",
                "48000",
            ]);
            a.ogg();
        }
        MountFormat::Mp3 => {
            // Trailing silence long enough to fill Icecast's last 1400-byte block (see
            // MountFormat::end_padding), so that listeners get all of the real audio.
            let pad_secs = (2048.0 * 8.0 / (encode.audio_bitrate_kbps as f64 * 1000.0)).max(0.1);
            let pad = format!("apad=pad_dur={pad_secs:.2}");
            a.push([
                "-map",
                "0:a:0",
                "-vn",
                "-af",
                &pad,
                "-c:a",
                "libmp3lame",
                "-b:a",
                &abr,
            ]);
            // No Xing/ID3 headers: a listener joins mid-stream, where they would be meaningless.
            a.push(["-write_xing", "0", "-id3v2_version", "0", "-f", "mp3"]);
        }
        MountFormat::Aac => {
            a.push(["-map", "0:a:0", "-vn"]);
            if input == Container::Mp4 {
                a.push(["-c:a", "copy"]);
            } else {
                a.push(["-c:a", "aac", "-b:a", &abr]);
            }
            a.push(["-f", "adts"]);
        }
    }
    a.push(["-flush_packets", "1", "pipe:1"]);
    a.0
}

#[derive(Default)]
struct Args(Vec<String>);

impl Args {
    fn push<const N: usize>(&mut self, items: [&str; N]) {
        self.0.extend(items.iter().map(|s| s.to_string()));
    }

    fn webm(&mut self) {
        self.push([
            "-f",
            "webm",
            "-live",
            "1",
            "-cluster_time_limit",
            &ENCODER_CLUSTER_MS.to_string(),
        ]);
    }

    fn ogg(&mut self) {
        // Bit-exact output keeps the stream's serial number the same when the encoder is
        // restarted, so its pages continue the one logical stream listeners are on.
        self.push([
            "-fflags",
            "+bitexact",
            "-f",
            "ogg",
            "-page_duration",
            &OGG_PAGE_US.to_string(),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::ffmpeg_level;

    #[test]
    fn ffmpeg_lines_keep_their_level() {
        assert_eq!(
            ffmpeg_level("[mp3 @ 0x55] [warning] Estimating duration"),
            (log::Level::Warn, "[mp3 @ 0x55] Estimating duration".to_string())
        );
        assert_eq!(
            ffmpeg_level("[info] Input #0, matroska,webm, from 'pipe:':"),
            (
                log::Level::Info,
                "Input #0, matroska,webm, from 'pipe:':".to_string()
            )
        );
        assert_eq!(ffmpeg_level("[fatal] pipe:: Invalid data").0, log::Level::Error);
        assert_eq!(ffmpeg_level("no tag").0, log::Level::Warn);
    }

    #[cfg(unix)]
    #[test]
    fn an_input_that_ends_before_media_is_explained() {
        use std::os::unix::process::ExitStatusExt;
        let tail: VecDeque<String> = ["pipe:0: End of file".to_string()].into();
        let said = explain_failure(&tail, std::process::ExitStatus::from_raw(256));
        assert!(said.starts_with("the recorder's stream ended before any sound or picture arrived."));
    }
    use super::*;

    fn joined(format: MountFormat, input: Container) -> String {
        args(&Encode::of(format), input, false, false).join(" ")
    }

    #[test]
    fn webm_the_mount_cannot_carry_is_encoded_to_webm() {
        let s = joined(MountFormat::WebmVideo, Container::Webm);
        assert!(s.contains("libvpx") && s.contains("libopus"), "{s}");
        assert!(
            s.contains("-f webm") && s.contains("-cluster_time_limit 100 "),
            "{s}"
        );
        let s = joined(MountFormat::OggOpus, Container::Webm);
        assert!(s.contains("libopus") && s.contains("-f webm"), "{s}");
        assert!(s.ends_with("pipe:1"));
    }

    #[test]
    fn mp4_input_to_webm_is_transcoded() {
        let s = joined(MountFormat::WebmVideo, Container::Mp4);
        assert!(s.contains("libvpx") && s.contains("libopus"), "{s}");
    }

    #[test]
    fn missing_ffmpeg_is_reported_with_install_commands() {
        let empty = tempfile::tempdir().unwrap();
        let err =
            Ffmpeg::locate_in(Some(empty.path()), Some(empty.path().as_os_str().to_owned())).unwrap_err();
        let msg = err.to_string();
        for needle in [
            "apt install ffmpeg",
            "dnf install ffmpeg",
            "brew install ffmpeg",
            "winget install ffmpeg",
        ] {
            assert!(msg.contains(needle), "{msg}");
        }
    }

    #[test]
    fn sidecar_beside_the_executable_wins() {
        let dir = tempfile::tempdir().unwrap();
        let side = dir.path().join(EXE);
        std::fs::write(&side, b"").unwrap();
        let found = Ffmpeg::locate_in(Some(dir.path()), None).unwrap();
        assert_eq!(found.path, side);
    }
}
