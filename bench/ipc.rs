//! Chunk IPC throughput in the real webview: a 64 KiB chunk as raw bytes (what the app does) vs
//! the same chunk as a JSON array of numbers (what it must never do). Run by hand:
//!
//!     cargo bench --bench ipc
//!
//!     ICECREAM_IPC_QUIET=1 cargo bench --bench ipc   # with the preview not drawing
//!     cargo bench --bench ipc -- socket               # the app's path only (quick A/B runs;
//!                                                     # ICECREAM_IPC_CHUNKS=N for longer runs)
//!     cargo bench --bench ipc -- socket-sizes         # the app's path, 16 KiB to 1 MiB chunks
//!
//! It starts the release app under its own Xvfb with ICECREAM_BENCH set (which grants the
//! benchmark commands), waits until the camera is open, sends chunks from the page in a loop, and
//! prints MiB/s and ms per chunk, and how many preview frames a second the page drew meanwhile (a
//! run "with the preview drawn" fails if it drew under 5). Each writes its table into
//! bench/RESULTS.md (block ipc, ipc-socket or ipc-socket-sizes; -quiet when quiet), with the date,
//! the machine and the versions.

// Linux only: it starts the release app under Xvfb and reads the webview's CPU from /proc.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

#[allow(dead_code)]
#[path = "../tests/e2e/desktop.rs"]
mod desktop;
mod report;

use desktop::{App, Home, Screen};

const CHUNK: usize = 64 * 1024;

const LOOP: &str = r#"
let [calls, size, mode, quiet, done] = arguments;
const invoke = window.__TAURI__.core.invoke;
// Quiet: the camera preview and the level meter stop drawing, so that the page's main thread and
// the (here software) renderer leave the IPC alone.
document.body.style.display = quiet ? 'none' : '';
for (const v of document.querySelectorAll('video')) quiet ? v.pause() : v.play().catch(() => {});
const chunk = new Uint8Array(size);
for (let i = 0; i < size; i++) chunk[i] = i & 255;
// The preview's frames drawn during the run: proof of what "preview drawn" means in each figure.
const preview = document.getElementById('preview');
let drawn = 0;
let counting = true;
const began = performance.now();
const count = () => {
  drawn += 1;
  if (counting) preview.requestVideoFrameCallback(count);
};
if (!quiet && preview.srcObject) preview.requestVideoFrameCallback(count);
const finish = done;
done = (result) => {
  counting = false;
  finish({ ...result, fps: (drawn * 1000) / (performance.now() - began) });
};
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

/// One run's throughput, time per chunk, and how many preview frames a second were drawn meanwhile.
struct Rate {
    mib_s: f64,
    ms: f64,
    fps: f64,
}

/// Whether the page is to stop drawing while it sends (ICECREAM_IPC_QUIET).
fn quiet() -> bool {
    std::env::var_os("ICECREAM_IPC_QUIET").is_some()
}

async fn run(app: &App, mode: &str, calls: u64, size: usize) -> Rate {
    let quiet = quiet();
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
    let fps = out["fps"].as_f64().unwrap();
    // A figure "with the preview drawn" is only that if the preview really was drawing.
    assert!(
        quiet || fps >= 5.0,
        "{mode}: the preview drew {fps:.1} frames a second"
    );
    Rate {
        mib_s: (calls as f64 * size as f64 / 1048576.0) / (ms / 1000.0),
        ms: ms / calls as f64,
        fps,
    }
}

/// The median of three runs, by throughput.
async fn median_of_3(app: &App, mode: &str, calls: u64, size: usize) -> Rate {
    let mut rates = Vec::new();
    for _ in 0..3 {
        rates.push(run(app, mode, calls, size).await);
    }
    rates.sort_by(|a, b| a.mib_s.total_cmp(&b.mib_s));
    rates.swap_remove(1)
}

/// What each mode is, in the table.
fn describe(mode: &str) -> String {
    match mode {
        "socket" => "chunk socket, as the app sends (next chunk without waiting)".into(),
        "socket1" => "chunk socket, waiting for each answer".into(),
        "raw" => "`invoke` with the raw body, one at a time".into(),
        "json" => "`invoke` with a JSON array of numbers".into(),
        m => format!(
            "`invoke` with the raw body, {} in flight",
            m.trim_start_matches("raw x")
        ),
    }
}

#[tokio::main]
async fn main() {
    let screen = Screen::start();
    let home = Home::new();
    let app = App::launch_with(&screen, &home, &[("ICECREAM_BENCH", "1")]).await;
    // The camera opens and the recorder's self-test runs after the page is ready: measuring before
    // then would measure a page that draws nothing yet.
    app.wait_self_tested().await;
    println!("page → Rust, one chunk at a time (as the recorder sends them); median of 3 runs");
    let args: Vec<String> = std::env::args().collect();
    let has = |word: &str| args.iter().any(|a| a == word);
    let runs: Vec<(&str, u64, usize)> = if has("socket-sizes") {
        // Whether a socket message costs per message or per byte.
        [16usize, 64, 256, 1024]
            .map(|kib| ("socket", (256 * 1024 / kib) as u64, kib * 1024))
            .to_vec()
    } else if has("socket") {
        // More chunks for a profile that should see nothing but the socket running.
        let chunks = std::env::var("ICECREAM_IPC_CHUNKS")
            .ok()
            .and_then(|n| n.parse().ok());
        vec![("socket", chunks.unwrap_or(4000), CHUNK)]
    } else {
        let mut all = vec![
            ("socket", 4000, CHUNK),
            ("socket1", 1000, CHUNK),
            ("raw", 1000, CHUNK),
            ("json", 60, CHUNK),
            ("raw x4", 1000, CHUNK),
            ("raw x16", 1000, CHUNK),
        ];
        // Where the time of a raw call goes: a fixed cost per call, or a cost per byte.
        for size in [1024, 16 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024] {
            all.push(("raw", (64 * 1024 * 1024 / size).clamp(50, 1000) as u64, size));
        }
        all
    };
    let mut table = String::from(
        "| how the chunk crosses | chunk | chunks | throughput | per chunk | preview drawn meanwhile |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut rate_of = std::collections::HashMap::new();
    for (mode, calls, size) in runs {
        let Rate { mib_s, ms, fps } = median_of_3(&app, mode, calls, size).await;
        if size == CHUNK {
            rate_of.insert(mode, mib_s);
        }
        let row = format!(
            "| {} | {} KiB | {calls} | {mib_s:.1} MiB/s = {:.0} MB/s | {ms:.3} ms | {fps:.1} fps |",
            describe(mode),
            size / 1024,
            mib_s * 1.048576
        );
        println!("{row}");
        table += &row;
        table.push('\n');
    }
    if let (Some(socket), Some(json)) = (rate_of.get("socket"), rate_of.get("json")) {
        table += &format!("\nChunk socket ÷ JSON array, 64 KiB: {:.0}×.\n", socket / json);
    }
    let which = ["socket-sizes", "socket"].into_iter().find(|w| has(w));
    let name = [
        "ipc",
        &which.map_or(String::new(), |w| format!("-{w}")),
        if quiet() { "-quiet" } else { "" },
    ]
    .concat();
    report::write(&name, true, &table);
    app.quit().await;
}
