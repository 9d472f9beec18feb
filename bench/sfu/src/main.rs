//! `sfu-bench <plan.json>`: puts synthetic participants on an SFU (Visita's
//! or Janus), lets media flow, then measures for a window of seconds: the
//! packets that reached subscribers, their one-way time through the SFU on
//! loopback, and the SFU process's CPU time and memory. Prints one JSON
//! object. bench/sfu.mjs prepares the plan, starts the servers and prints
//! the comparison.

mod janus;
mod measure;
mod peer;
mod visita;

use measure::{Window, cpu_seconds, percentile, rss_kib};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Deserialize)]
#[serde(tag = "target", rename_all = "lowercase")]
enum Target {
    /// Rooms of admitted participants, set up through Visita's own API.
    Visita {
        origin: String,
        rooms: Vec<Vec<visita::Seat>>,
    },
    /// Janus's HTTP API; rooms are created here.
    Janus {
        url: String,
        /// Janus (libnice) never gathers on loopback: the machine's own
        /// address, which the kernel routes through loopback all the same.
        ip: String,
        rooms: u64,
        participants: u64,
    },
}

#[derive(Debug, Deserialize)]
struct Plan {
    #[serde(flatten)]
    target: Target,
    /// The SFU's process, for CPU time and memory.
    pid: u32,
    video_pps: u32,
    warmup_seconds: u64,
    seconds: u64,
}

const AUDIO_PPS: u64 = 50;

#[tokio::main]
async fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: sfu-bench <plan.json>");
        std::process::exit(2);
    };
    let plan: Plan = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("{path}: {error}");
            std::process::exit(2);
        }
    };
    match run(plan).await {
        Ok(result) => println!("{result}"),
        Err(error) => {
            eprintln!("sfu-bench: {error}");
            std::process::exit(1);
        }
    }
    // The participants' tasks never end by themselves.
    std::process::exit(0);
}

async fn run(plan: Plan) -> Result<serde_json::Value, peer::Error> {
    let window = Arc::new(Window::default());
    let rss_before = rss_kib(plan.pid);
    let (joined_tx, mut joined) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    let started = Instant::now();
    let (participants, streams_per_room): (u64, Vec<u64>) = match &plan.target {
        Target::Visita { origin, rooms } => {
            for (r, room) in rooms.iter().enumerate() {
                for (s, seat) in room.iter().enumerate() {
                    tasks.push(tokio::spawn(visita::join(
                        origin.clone(),
                        seat.clone(),
                        format!("r{r}s{s}"),
                        plan.video_pps,
                        window.clone(),
                        joined_tx.clone(),
                    )));
                }
            }
            let sizes = rooms.iter().map(|r| r.len() as u64).collect();
            (rooms.iter().map(Vec::len).sum::<usize>() as u64, sizes)
        }
        Target::Janus {
            url,
            ip,
            rooms,
            participants,
        } => {
            janus::create_rooms(url, *rooms, *participants).await?;
            let (published_tx, mut published) = mpsc::unbounded_channel();
            let (all_tx, all_rx) = tokio::sync::watch::channel(false);
            for room in 0..*rooms {
                for seat in 0..*participants {
                    tasks.push(tokio::spawn(janus::join(
                        url.clone(),
                        ip.clone(),
                        room,
                        seat,
                        *participants,
                        plan.video_pps,
                        window.clone(),
                        published_tx.clone(),
                        all_rx.clone(),
                        joined_tx.clone(),
                    )));
                }
            }
            for _ in 0..rooms * participants {
                match published.recv().await {
                    Some(Ok(())) => {}
                    Some(Err(error)) => return Err(error.into()),
                    None => return Err("a publisher stopped".into()),
                }
            }
            let _ = all_tx.send(true);
            (rooms * participants, vec![*participants; *rooms as usize])
        }
    };
    for _ in 0..participants {
        match tokio::time::timeout(Duration::from_secs(60), joined.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(error))) => return Err(error.into()),
            Ok(None) | Err(_) => return Err("participants did not all join within 60 s".into()),
        }
    }
    let setup = started.elapsed();
    tokio::time::sleep(Duration::from_secs(plan.warmup_seconds)).await;

    let cpu_start = cpu_seconds(plan.pid);
    let clock = Instant::now();
    window.open();
    tokio::time::sleep(Duration::from_secs(plan.seconds)).await;
    let received = window.close();
    let elapsed = clock.elapsed().as_secs_f64();
    let cpu = cpu_seconds(plan.pid) - cpu_start;
    let rss_during = rss_kib(plan.pid);
    // Receivers hand their latencies over on their next packet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let latencies = window.latencies();
    for task in &tasks {
        task.abort();
    }
    // Every participant receives every other's audio and video.
    let per_second_expected: u64 = streams_per_room
        .iter()
        .map(|n| n * n.saturating_sub(1) * (u64::from(plan.video_pps) + AUDIO_PPS))
        .sum();
    Ok(json!({
        "participants": participants,
        "setup_seconds": setup.as_secs_f64(),
        "seconds": elapsed,
        "packets_received": received,
        "packets_expected": (per_second_expected as f64 * elapsed) as u64,
        "packets_per_second": received as f64 / elapsed,
        "sfu_cpu_seconds": cpu,
        "latency_us": {
            "p50": percentile(&latencies, 50.0),
            "p99": percentile(&latencies, 99.0),
            "max": latencies.last().copied().unwrap_or(0),
            "n": latencies.len(),
        },
        "rss_kib_before": rss_before,
        "rss_kib_during": rss_during,
    }))
}
