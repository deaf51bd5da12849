//! Where a benchmark's figures go: its own block of bench/RESULTS.md, between
//! `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, headed by the date, this machine and the
//! versions that were measured (so no figure is ever read without where it came from), and
//! bench/out/NAME.md. The text around the blocks, what the figures mean, is written by hand.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Replaces the block `name` of RESULTS.md (or adds it at the end) with `table`, under a line that
/// says when, on what and with what. `webview`: the app was measured, so WebKitGTK and Tauri count.
pub fn write(name: &str, webview: bool, table: &str) {
    let results = results_file();
    let block = format!(
        "<!-- bench:{name} -->\n{} · {}\n\n{}\n<!-- /bench:{name} -->",
        today(),
        machine_and_versions(webview),
        table.trim_end()
    );
    let text = std::fs::read_to_string(&results).unwrap_or_default();
    let (open, close) = (
        format!("<!-- bench:{name} -->"),
        format!("<!-- /bench:{name} -->"),
    );
    let text = match (text.find(&open), text.find(&close)) {
        (Some(a), Some(b)) if a < b => format!("{}{block}{}", &text[..a], &text[b + close.len()..]),
        _ => format!("{}\n\n{block}\n", text.trim_end()),
    };
    std::fs::write(&results, text).expect("bench/RESULTS.md is writable");
    let out = results.parent().unwrap().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(format!("{name}.md")), table).unwrap();
    println!(
        "{table}\n(written to {} and bench/out/{name}.md)",
        results.display()
    );
}

/// Every `n`th row and the last, for a long run's table (its output has them all).
#[allow(dead_code)] // only the long runs use it
pub fn every(rows: &[String], n: usize) -> Vec<&str> {
    let last = rows.len().saturating_sub(1);
    (rows.iter().enumerate())
        .filter_map(|(i, r)| (i % n == 0 || i == last).then_some(r.as_str()))
        .collect()
}

/// bench/RESULTS.md, found from whichever package this benchmark belongs to.
fn results_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("bench/RESULTS.md"))
        .find(|f| f.is_file())
        .expect("bench/RESULTS.md above this package")
}

/// The first line a command prints, or "unknown".
fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().next().map(|l| l.trim().to_string())
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn today() -> String {
    first_line("date", &["-u", "+%Y-%m-%d"])
}

/// A value from a `key: value` or `KEY=value` file.
fn field(path: &str, key: &str, sep: char) -> Option<String> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(sep)?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The version Cargo.lock pins for a crate.
fn locked(krate: &str) -> String {
    let lock = results_file().parent().unwrap().join("../Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let needle = format!("name = \"{krate}\"\nversion = \"");
    text.find(&needle)
        .and_then(|at| text[at + needle.len()..].split('"').next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn machine_and_versions(webview: bool) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = field("/proc/cpuinfo", "model name", ':').unwrap_or_else(|| "unknown CPU".into());
    let mem_kib: u64 = field("/proc/meminfo", "MemTotal", ':')
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let os = field("/etc/os-release", "PRETTY_NAME", '=').unwrap_or_else(|| "unknown OS".into());
    let ffmpeg = first_line("ffmpeg", &["-version"]);
    let ffmpeg = ffmpeg.split(" Copyright").next().unwrap_or(&ffmpeg).to_string();
    // Debian calls it icecast2, everyone else icecast.
    let icecast = Some(first_line("icecast2", &["-v"]))
        .filter(|v| v != "unknown")
        .unwrap_or_else(|| first_line("icecast", &["-v"]));
    let mut s = format!(
        "{cores}-core {cpu}, {:.0} GiB, {os} · {ffmpeg}, {icecast}",
        mem_kib as f64 / 1048576.0
    );
    if webview {
        let webkit = first_line("pkg-config", &["--modversion", "webkit2gtk-4.1"]);
        s += &format!(", WebKitGTK {webkit}, Tauri {}, Xvfb", locked("tauri"));
    }
    s + &format!(" · release build, {}", first_line("rustc", &["--version"]))
}
