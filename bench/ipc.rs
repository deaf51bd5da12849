//! Chunk IPC throughput in the real webview: a 64 KiB chunk as raw bytes (what the app does) vs
//! the same chunk as a JSON array of numbers (what it must never do). Run by hand:
//!
//!     cargo bench --bench ipc
//!
//!     ICECREAM_IPC_QUIET=1 cargo bench --bench ipc   # with the preview not drawing
//!     cargo bench --bench ipc -- socket               # the app's path only (quick A/B runs)
//!
//! It starts the release app under its own Xvfb with ICECREAM_BENCH set (which grants the two
//! benchmark commands), calls each command from the page in a loop, and prints MiB/s and ms per
//! call. Results go to bench/RESULTS.md by hand, with the machine and the date.

#[allow(dead_code)]
#[path = "../tests/e2e/desktop.rs"]
mod desktop;

use desktop::{App, Home, Screen};

const CHUNK: usize = 64 * 1024;

const LOOP: &str = r#"
const [calls, size, mode, quiet, done] = arguments;
const invoke = window.__TAURI__.core.invoke;
// Quiet: the camera preview and the level meter stop drawing, so that the page's main thread and
// the (here software) renderer leave the IPC alone.
document.body.style.display = quiet ? 'none' : '';
for (const v of document.querySelectorAll('video')) quiet ? v.pause() : v.play().catch(() => {});
const chunk = new Uint8Array(size);
for (let i = 0; i < size; i++) chunk[i] = i & 255;
(async () => {
  const send = mode === 'raw'
    ? () => invoke('bench_raw', chunk)
    : () => invoke('bench_json', { data: Array.from(chunk) });
  if (mode.startsWith('socket')) {
    // The app's own ChunkLane (ui/js/ipc.js), on a socket whose chunks are dropped on arrival.
    const { ChunkLane } = await import('/js/ipc.js');
    const lane = await ChunkLane.open('bench_socket');
    if (lane.via !== 'socket') throw new Error('the chunk socket did not open');
    for (let i = 0; i < 10; i++) await lane.push(chunk);
    const before = await invoke('bench_socket_bytes');
    const t0 = performance.now();
    if (mode === 'socket') {
      // As the page sends: the next chunk goes without waiting for the last one's answer.
      for (let i = 0; i < calls; i++) lane.push(chunk);
      await lane.last;
    } else {
      for (let i = 0; i < calls; i++) await lane.push(chunk);
    }
    const ms = performance.now() - t0;
    lane.close();
    done({ ms, got: (await invoke('bench_socket_bytes')) - before });
    return;
  }
  for (let i = 0; i < 10; i++) await send();
  const t0 = performance.now();
  let got = 0;
  if (mode === 'raw') {
    for (let i = 0; i < calls; i++) got += await send();
  } else if (mode === 'json') {
    for (let i = 0; i < calls; i++) got += await send();
  } else {
    // Several calls in flight at once: whether the per-call cost is waiting or working.
    const inFlight = Number(mode.split('x')[1]);
    let next = 0;
    const worker = async () => {
      while (next < calls) {
        next += 1;
        // Not `got += await …`: that reads `got` before waiting, and loses the other workers' adds.
        const n = await invoke('bench_raw', chunk);
        got += n;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }
  done({ ms: performance.now() - t0, got });
})().catch((e) => done({ error: String(e) }));
"#;

async fn run(app: &App, mode: &str, calls: u64, size: usize) -> (f64, f64) {
    let quiet = std::env::var_os("ICECREAM_IPC_QUIET").is_some();
    let args = vec![calls.into(), (size as u64).into(), mode.into(), quiet.into()];
    let out = app
        .client
        .execute_async(LOOP, args)
        .await
        .expect("the page runs the loop");
    if let Some(e) = out.get("error") {
        panic!("{mode}: {e}");
    }
    let ms = out["ms"].as_f64().unwrap();
    assert_eq!(
        out["got"].as_u64().unwrap(),
        calls * size as u64,
        "every byte arrived"
    );
    let mib_s = (calls as f64 * size as f64 / 1048576.0) / (ms / 1000.0);
    (mib_s, ms / calls as f64)
}

#[tokio::main]
async fn main() {
    let screen = Screen::start();
    let home = Home::new();
    let app = App::launch_with(&screen, &home, &[("ICECREAM_BENCH", "1")]).await;
    println!("page → Rust, one call at a time (as the recorder sends them); median of 3 runs");
    let median = |mut rates: Vec<(f64, f64)>| {
        rates.sort_by(|a, b| a.0.total_cmp(&b.0));
        rates[1]
    };
    let only_socket = std::env::args().any(|a| a == "socket");
    let modes: &[(&str, u64)] = if only_socket {
        &[("socket", 4000)]
    } else {
        &[("socket", 4000), ("socket1", 1000), ("raw", 1000), ("json", 60)]
    };
    for &(mode, calls) in modes {
        let mut rates = Vec::new();
        for _ in 0..3 {
            rates.push(run(&app, mode, calls, CHUNK).await);
        }
        let (mib_s, ms) = median(rates);
        println!("{mode:>7} 64 KiB: {mib_s:7.1} MiB/s  {ms:6.2} ms per chunk  ({calls} chunks)");
    }
    if only_socket {
        app.quit().await;
        return;
    }
    for mode in ["raw x4", "raw x16"] {
        let mut rates = Vec::new();
        for _ in 0..3 {
            rates.push(run(&app, mode, 1000, CHUNK).await);
        }
        let (mib_s, ms) = median(rates);
        println!("{mode} 64 KiB: {mib_s:7.1} MiB/s  {ms:6.2} ms per call  (1000 calls)");
    }
    // Where the time of a raw call goes: a fixed cost per call, or a cost per byte.
    for size in [1024, 16 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024] {
        let calls = (64 * 1024 * 1024 / size).clamp(50, 1000) as u64;
        let mut rates = Vec::new();
        for _ in 0..3 {
            rates.push(run(&app, "raw", calls, size).await);
        }
        let (mib_s, ms) = median(rates);
        println!(
            " raw {:>4} KiB: {mib_s:7.1} MiB/s  {ms:6.2} ms per call  ({calls} calls)",
            size / 1024
        );
    }
    app.quit().await;
}
