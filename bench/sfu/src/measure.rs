//! What a run measures: packets that reached a subscriber while the window
//! was open, their one-way time through the SFU, and the SFU process's CPU
//! time and memory from /proc.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds on this process's monotonic clock (senders and receivers
/// are the same process, so no clock skew).
pub fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[derive(Default)]
pub struct Window {
    open: AtomicBool,
    received: AtomicU64,
    /// One-way times in microseconds, gathered from the receivers.
    latencies: Mutex<Vec<u32>>,
}

impl Window {
    pub fn on_packet(&self, local: &mut Vec<u32>, latency_ns: u64) {
        if self.open.load(Ordering::Relaxed) {
            self.received.fetch_add(1, Ordering::Relaxed);
            local.push((latency_ns / 1000).min(u32::MAX as u64) as u32);
        } else if !local.is_empty() {
            self.flush(local);
        }
    }

    pub fn flush(&self, local: &mut Vec<u32>) {
        if let Ok(mut all) = self.latencies.lock() {
            all.append(local);
        }
    }

    pub fn open(&self) {
        self.open.store(true, Ordering::Relaxed);
    }

    pub fn close(&self) -> u64 {
        self.open.store(false, Ordering::Relaxed);
        self.received.load(Ordering::Relaxed)
    }

    pub fn latencies(&self) -> Vec<u32> {
        let mut all = self.latencies.lock().map(|l| l.clone()).unwrap_or_default();
        all.sort_unstable();
        all
    }
}

pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let at = ((p / 100.0) * sorted.len() as f64) as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// User + system CPU seconds of a process so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces: fields count from after its ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of proc_pid_stat(5); the
    // first field after the name is field 3.
    // Linux reports them in USER_HZ, 100 on every mainstream architecture.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
