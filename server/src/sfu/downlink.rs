//! What one participant's connection can receive: the SFU's send-side
//! bandwidth estimate towards that browser (Google Congestion Control fed by
//! the browser's transport-wide feedback), what it is subscribed to, and the
//! person's own cap (data saver). Each forwarding task of the connection
//! reads it to choose the simulcast layer it sends.

use super::forward::{self, MAX_LAYERS};
use rtc::interceptor::{BandwidthEstimator, EstimatorStats, Gcc, PacketReport};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub struct Downlink {
    estimate_bps: AtomicU64,
    audio_tracks: AtomicUsize,
    video_tracks: AtomicUsize,
    max_layer: AtomicUsize,
}

impl Downlink {
    pub fn new(start_bps: u64) -> Self {
        Self {
            estimate_bps: AtomicU64::new(start_bps),
            audio_tracks: AtomicUsize::new(0),
            video_tracks: AtomicUsize::new(0),
            max_layer: AtomicUsize::new(MAX_LAYERS - 1),
        }
    }

    /// One more (or one fewer) video or audio track sent on this connection.
    pub fn subscribed(&self, video: bool, added: bool) {
        let tracks = if video {
            &self.video_tracks
        } else {
            &self.audio_tracks
        };
        if added {
            tracks.fetch_add(1, Ordering::Relaxed);
        } else {
            tracks.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn estimate_bps(&self) -> u64 {
        self.estimate_bps.load(Ordering::Relaxed)
    }

    /// What one of the videos this connection receives may use.
    pub fn video_share_bps(&self) -> u64 {
        forward::video_share(
            self.estimate_bps(),
            self.audio_tracks.load(Ordering::Relaxed),
            self.video_tracks.load(Ordering::Relaxed),
        )
    }

    pub fn max_layer(&self) -> usize {
        self.max_layer.load(Ordering::Relaxed)
    }

    /// Data saver: the lowest layer only.
    pub fn set_data_saver(&self, on: bool) {
        let max = if on { 0 } else { MAX_LAYERS - 1 };
        self.max_layer.store(max, Ordering::Relaxed);
    }
}

/// Google Congestion Control, publishing its target into a [`Downlink`]
/// after each change. The estimator lives inside the connection's
/// interceptor chain, out of the application's reach: this is the one seam
/// where the number can be seen.
pub struct Estimator {
    gcc: Gcc,
    downlink: Arc<Downlink>,
}

impl Estimator {
    pub fn new(downlink: Arc<Downlink>, min_bps: f64, max_bps: f64) -> Self {
        let start = downlink.estimate_bps() as f64;
        Self {
            gcc: Gcc::new(start, min_bps, max_bps),
            downlink,
        }
    }

    fn publish(&self) {
        let target = self.gcc.target_bitrate().max(0.0) as u64;
        self.downlink.estimate_bps.store(target, Ordering::Relaxed);
    }
}

impl BandwidthEstimator for Estimator {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.gcc.on_reports(now, reports);
        self.publish();
    }

    fn target_bitrate(&self) -> f64 {
        self.gcc.target_bitrate()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.gcc.handle_timeout(now);
        self.publish();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.gcc.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.gcc.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_follows_the_estimate_and_the_subscriptions() {
        let downlink = Downlink::new(1_000_000);
        for video in [false, false, true, true, true] {
            downlink.subscribed(video, true);
        }
        downlink.subscribed(true, false);
        assert_eq!(downlink.video_share_bps(), 460_000);
        assert_eq!(downlink.max_layer(), MAX_LAYERS - 1);
        downlink.set_data_saver(true);
        assert_eq!(downlink.max_layer(), 0);
        downlink.set_data_saver(false);
        assert_eq!(downlink.max_layer(), MAX_LAYERS - 1);
    }

    #[test]
    fn the_estimator_publishes_its_target() {
        let downlink = Arc::new(Downlink::new(800_000));
        let mut estimator = Estimator::new(downlink.clone(), 30_000.0, 5_000_000.0);
        assert_eq!(estimator.target_bitrate() as u64, 800_000);
        // Heavy loss reported: the target falls, and the downlink shows it.
        let start = Instant::now();
        for batch in 0..20u64 {
            let now = start + std::time::Duration::from_millis(100 * batch);
            let reports: Vec<PacketReport> = (0..50u64)
                .map(|i| {
                    let id = batch * 50 + i;
                    PacketReport {
                        ssrc: 1,
                        id,
                        rtp_sequence_number: id as u16,
                        is_twcc: true,
                        twcc_sequence_number: id as u16,
                        size: 1200,
                        arrived: i % 2 == 0,
                        departure: now,
                        arrival: (i % 2 == 0)
                            .then(|| std::time::Duration::from_millis(100 * batch + i)),
                        ecn: Default::default(),
                    }
                })
                .collect();
            estimator.on_reports(now, &reports);
        }
        assert!(
            downlink.estimate_bps() < 800_000,
            "half the packets lost: {}",
            downlink.estimate_bps()
        );
        assert_eq!(downlink.estimate_bps(), estimator.target_bitrate() as u64);
    }
}
