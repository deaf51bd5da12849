//! What /proc says about a process: its CPU time, its resident memory, its children. Shared by the
//! benchmarks and the tests (Linux only, as /proc is).

use std::path::PathBuf;

/// User + system CPU seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name: utime and stime are the 12th and 13th.
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((f[11].parse::<f64>().ok()? + f[12].parse::<f64>().ok()?) / tick)
}

/// Resident memory in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Child processes (each thread lists the children it spawned).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    tasks
        .flatten()
        .flat_map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Every process whose command line contains `pattern`.
pub fn matching(pattern: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(PathBuf::from("/proc").join(e.file_name()).join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmd).contains(pattern).then_some(pid)
        })
        .collect()
}
