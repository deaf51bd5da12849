//! How far behind live a browser plays, from the stream's own timestamps against the moments the
//! server sent them. The browser listens through a relay on 127.0.0.1 that keeps every byte the
//! server sent it and when; ffprobe reads that capture's packets (their timestamps and byte
//! places), so each timestamp has the moment it reached the listener. The page reports its
//! player's position (`currentTime`) with the wall clock; behind live = that moment − when the
//! sound or picture at that position was sent. Icecast forwards a block within 1–14 ms of the
//! engine sending it (bench/RESULTS.md, latency), so sent to the listener ≈ sent by the engine.
//! The relay can also hold the stream back for a while, as a network stall does.
//! Shared by the live-edge tests and the live-edge benchmark.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server sent one listener connection, and when.
#[derive(Default)]
struct Connection {
    opened: f64,
    bytes: Vec<u8>,
    /// (seconds since the epoch, bytes forwarded by then)
    reads: Vec<(f64, usize)>,
}

/// A relay from a local port to the server, recording what each listener was sent.
pub struct Relay {
    pub port: u16,
    connections: Arc<Mutex<Vec<Connection>>>,
    stalled_until: Arc<Mutex<Option<tokio::time::Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

impl Relay {
    pub async fn start(server_port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections: Arc<Mutex<Vec<Connection>>> = Arc::default();
        let stalled_until: Arc<Mutex<Option<tokio::time::Instant>>> = Arc::default();
        let (conns, stall) = (connections.clone(), stalled_until.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let index = {
                    let mut c = conns.lock().unwrap();
                    c.push(Connection {
                        opened: now(),
                        ..Default::default()
                    });
                    c.len() - 1
                };
                tokio::spawn(relay(client, server_port, conns.clone(), index, stall.clone()));
            }
        });
        Relay {
            port,
            connections,
            stalled_until,
            task,
        }
    }

    /// Holds what the server sends for `how_long`, then lets it all through at once.
    pub fn stall(&self, how_long: Duration) {
        *self.stalled_until.lock().unwrap() = Some(tokio::time::Instant::now() + how_long);
    }

    /// The timestamps of what the listener's longest connection was sent, with when each came.
    pub fn capture(&self, dir: &Path) -> Capture {
        let conns = self.connections.lock().unwrap();
        let c = conns
            .iter()
            .max_by_key(|c| c.bytes.len())
            .expect("the browser connected through the relay");
        // The server's HTTP answer comes before the stream; positions count from the stream.
        let head = c
            .bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("the server answered in HTTP")
            + 4;
        let file = dir.join("heard");
        std::fs::write(&file, &c.bytes[head..]).unwrap();
        let out = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-of",
                "csv=p=0",
                "-show_entries",
                "packet=pts_time,pos,size",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "ffprobe reads what the listener got");
        // The burst: what the server had kept and sent at once when the listener came.
        let burst_end = c.reads.first().map_or(c.opened, |r| r.0) + 0.1;
        let mut packets = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split(',').collect();
            let (Some(Ok(pts)), Some(Ok(size)), Some(Ok(pos))) = (
                f.first().map(|v| v.parse::<f64>()),
                f.get(1).map(|v| v.parse::<usize>()),
                f.get(2).map(|v| v.parse::<usize>()),
            ) else {
                continue;
            };
            let i = c.reads.partition_point(|r| r.1 < head + pos + size);
            let Some(&(came, _)) = c.reads.get(i) else {
                continue;
            };
            packets.push(Packet {
                pts,
                came,
                in_burst: came < burst_end,
            });
        }
        packets.sort_by(|a, b| a.pts.total_cmp(&b.pts));
        assert!(!packets.is_empty(), "the listener got packets");
        // Packets of the burst came late, all at once: when such a packet was sent live is its
        // timestamp plus the usual offset of the packets that came as they were sent.
        let mut offsets: Vec<f64> = packets
            .iter()
            .filter(|p| !p.in_burst)
            .map(|p| p.came - p.pts)
            .collect();
        offsets.sort_by(f64::total_cmp);
        let offset = offsets.get(offsets.len() / 2).copied().unwrap_or(0.0);
        Capture {
            first_pts: packets[0].pts,
            packets,
            offset,
            opened: c.opened,
        }
    }
}

async fn relay(
    mut client: TcpStream,
    server_port: u16,
    conns: Arc<Mutex<Vec<Connection>>>,
    index: usize,
    stall: Arc<Mutex<Option<tokio::time::Instant>>>,
) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)).await else {
        return;
    };
    let (mut from_server, mut to_server) = server.into_split();
    let (mut from_client, mut to_client) = client.split();
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = from_client.read(&mut buf).await {
            if to_server.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let until = *stall.lock().unwrap();
            if let Some(until) = until {
                tokio::time::sleep_until(until).await;
            }
            let Ok(n @ 1..) = from_server.read(&mut buf).await else {
                break;
            };
            if to_client.write_all(&buf[..n]).await.is_err() {
                break;
            }
            let mut c = conns.lock().unwrap();
            let c = &mut c[index];
            c.bytes.extend_from_slice(&buf[..n]);
            let total = c.bytes.len();
            c.reads.push((now(), total));
        }
    };
    tokio::select! { _ = upstream => {}, _ = downstream => {} }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Packet {
    pts: f64,
    /// When its last byte reached the listener (seconds since the epoch).
    came: f64,
    in_burst: bool,
}

/// What one listener was sent, by timestamp.
pub struct Capture {
    packets: Vec<Packet>,
    /// The first timestamp the listener got: where a browser that counts from zero began.
    pub first_pts: f64,
    /// Sent − timestamp, usually (the median over packets that came as they were sent).
    offset: f64,
    /// When the listener connected.
    pub opened: f64,
}

impl Capture {
    /// When the moment `pts` of the stream was sent live.
    pub fn sent(&self, pts: f64) -> f64 {
        let i = self.packets.partition_point(|p| p.pts <= pts).max(1) - 1;
        let p = &self.packets[i];
        if p.in_burst {
            pts + self.offset
        } else {
            p.came + (pts - p.pts)
        }
    }
}

/// The page's record of its player: (wall clock in seconds, position, playing) every 100 ms, and
/// where its first buffered range began.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Watched {
    /// Where the first buffered range began: the stream's own first timestamp (Media Source, and
    /// Chromium's own reading) or zero (Firefox reading the stream itself).
    pub began: Option<f64>,
    /// Wall clock when it first played.
    pub playing: Option<f64>,
    pub error: Option<String>,
    /// (wall clock, currentTime, playing)
    pub samples: Vec<(f64, f64, bool)>,
}

/// Adds `html` (the share panel's embed code, or a plain tag) to the page and records its player;
/// `window.watched` then holds a `Watched`.
pub const WATCH: &str = r#"
    const [html] = arguments;
    const box = document.createElement('div');
    document.body.appendChild(box);
    // As a page's own HTML: its scripts run (they would not through innerHTML).
    box.appendChild(document.createRange().createContextualFragment(html));
    const el = box.querySelector('audio, video');
    const w = { began: null, playing: null, error: null, samples: [] };
    window.watched = w;
    el.addEventListener('playing', () => { if (w.playing === null) w.playing = Date.now() / 1000; });
    el.addEventListener('error', () => { w.error = el.error ? `${el.error.code} ${el.error.message}` : 'error'; });
    window.watching = setInterval(() => {
        if (w.began === null && el.buffered.length) w.began = el.buffered.start(0);
        w.samples.push([Date.now() / 1000, el.currentTime, !el.paused && !el.seeking && el.readyState >= 3]);
    }, 100);
"#;

/// Stops the page's player, so the relay's capture is final.
pub const UNWATCH: &str = r#"
    clearInterval(window.watching);
    for (const el of document.querySelectorAll('audio, video')) { el.pause(); el.removeAttribute('src'); el.querySelectorAll('source').forEach(s => s.remove()); el.load(); }
"#;

/// How far behind live a listener played, over time.
pub struct Behind {
    /// (seconds since the listener connected, seconds behind live), while playing.
    pub samples: Vec<(f64, f64)>,
    /// Connected → first `playing`.
    pub to_playing: f64,
}

impl Behind {
    pub fn of(watched: &Watched, capture: &Capture) -> Behind {
        let began = watched.began.expect("the player buffered the stream");
        // The player's position against the stream's timestamps, whichever way it counts.
        let base = capture.first_pts - began;
        let samples = watched
            .samples
            .iter()
            .filter(|s| s.2)
            .map(|&(wall, position, _)| (wall - capture.opened, wall - capture.sent(position + base)))
            .collect();
        Behind {
            samples,
            to_playing: watched.playing.map_or(f64::NAN, |p| p - capture.opened),
        }
    }

    /// The samples from `from` seconds after connecting to `to`.
    pub fn between(&self, from: f64, to: f64) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|s| s.0 >= from && s.0 < to)
            .map(|s| s.1)
            .collect()
    }

    /// The first moment (seconds after connecting) from which the listener stayed within `most`
    /// until `to`.
    pub fn settled_within(&self, most: f64, to: f64) -> Option<f64> {
        let within: Vec<&(f64, f64)> = self.samples.iter().filter(|s| s.0 < to).collect();
        let last_out = within.iter().rposition(|s| s.1 > most);
        match last_out {
            None => within.first().map(|s| s.0),
            Some(i) => within.get(i + 1).map(|s| s.0),
        }
    }
}

#[allow(dead_code)] // the benchmark's
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn max(v: &[f64]) -> f64 {
    v.iter().cloned().fold(f64::NAN, f64::max)
}
