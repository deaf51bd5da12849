//! A real sound server for tests: Debian's PulseAudio, private to the test (its own runtime folder
//! and socket), with a null sink "feed" that paplay plays into and a source "mic" remapped from its
//! monitor: what a microphone is to the engine (WebKitGTK lists no monitor sources, so the app's
//! tests need the remap too). Killed when the handle drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Pulse {
    child: Child,
    pub dir: tempfile::TempDir,
}

/// The source the engine captures.
pub const MIC: &str = "mic";
const MIC_MODULE: &str = "module-remap-source master=feed.monitor source_name=mic";

impl Pulse {
    pub fn start() -> Pulse {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::Builder::new()
            .prefix("icecream-pulse-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("pulse.log")).unwrap();
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--use-pid-file=no",
        ])
        .arg(format!(
            "--load=module-native-protocol-unix auth-anonymous=1 socket={}",
            socket(dir.path()).display()
        ))
        .arg("--load=module-null-sink sink_name=feed rate=48000 format=float32le channels=2")
        .arg(format!("--load={MIC_MODULE}"))
        .envs(env(dir.path()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
        // SAFETY: prctl only, between fork and exec: the server dies with the test.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect(
            "pulseaudio is installed (apt-get install pulseaudio pulseaudio-utils; see .ci/install-deps)",
        );
        let pulse = Pulse { child, dir };
        let started = Instant::now();
        while !pulse.has_source(MIC) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "PulseAudio did not start: {}",
                pulse.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        pulse
    }

    /// The environment that points a client (the engine, paplay, pactl) at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        env(self.dir.path())
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    /// Plays a WAV file into the sink the microphone hears, in the background. A second ahead of
    /// the sink: paplay is the test's own source, and with both cores loaded its default buffer
    /// can run dry (the sink then plays silence there, which is no fault of the broadcast's).
    pub fn play_in_background(&self, wav: &Path) -> Child {
        self.command("paplay")
            .args(["-d", "feed", "--latency-msec=1000"])
            .arg(wav)
            .spawn()
            .unwrap()
    }

    pub fn has_source(&self, name: &str) -> bool {
        let out = self.command("pactl").args(["list", "short", "sources"]).output();
        out.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split('\t').nth(1) == Some(name))
        })
    }

    /// Takes the microphone away, as unplugging it does; returns the module to unload.
    pub fn unplug_mic(&self) {
        let out = self
            .command("pactl")
            .args(["unload-module", "module-remap-source"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn plug_mic(&self) {
        let mut args = vec!["load-module"];
        args.extend(MIC_MODULE.split(' '));
        let out = self.command("pactl").args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pulse.log")).unwrap_or_default()
    }
}

fn socket(dir: &Path) -> PathBuf {
    dir.join("native")
}

fn env(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("PULSE_SERVER".into(), format!("unix:{}", socket(dir).display())),
        ("XDG_RUNTIME_DIR".into(), dir.display().to_string()),
        ("PULSE_RUNTIME_PATH".into(), dir.display().to_string()),
    ]
}

impl Drop for Pulse {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- pulseaudio log ---\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
