//! What the call page reads from its connection's statistics, once a
//! second: who is speaking, and how good each participant's connection
//! looks from here. Plain functions over numbers, so tests need no browser.

/// Below this loudness (RMS, 0–1) nobody is speaking: breathing, fans.
pub const SPEAKING_LEVEL: f64 = 0.02;

/// One second of one participant's incoming audio.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSample {
    /// The participant's stream id (`cam-…`).
    pub stream: String,
    /// Growth of `totalAudioEnergy` over the second.
    pub energy: f64,
    /// Growth of `totalSamplesDuration` over the second (seconds).
    pub duration: f64,
}

/// The stream of whoever speaks loudest this second, if anyone speaks.
pub fn loudest(samples: &[AudioSample]) -> Option<String> {
    samples
        .iter()
        .filter(|s| s.duration > 0.0 && s.energy >= 0.0)
        // Energy is the sum of squared levels times their duration: the
        // mean square over the interval, then its root.
        .map(|s| (s, (s.energy / s.duration).sqrt()))
        .filter(|(_, level)| *level >= SPEAKING_LEVEL)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(s, _)| s.stream.clone())
}

/// How a participant's connection looks from here: 2 good, 1 fair,
/// 0 poor. From the packets of their video (or audio) over the last second
/// and our round-trip time to the server.
pub fn quality(lost: u64, received: u64, round_trip_s: Option<f64>) -> u8 {
    if received == 0 {
        return 0;
    }
    let loss = lost as f64 / (lost + received) as f64;
    let rtt = round_trip_s.unwrap_or(0.0);
    if loss > 0.10 || rtt > 0.5 {
        0
    } else if loss > 0.03 || rtt > 0.25 {
        1
    } else {
        2
    }
}

/// The stream a track arrives under: the SFU names tracks
/// `mic-<participant>`, `cam-<participant>` and `screen-<participant>`.
pub fn stream_of_track(track: &str) -> Option<String> {
    let (label, participant) = track.split_once('-')?;
    match label {
        "mic" | "cam" => Some(format!("cam-{participant}")),
        "screen" => Some(format!("scr-{participant}")),
        _ => None,
    }
}

/// Below this estimate of our upload, our own video is not worth sending.
pub const AUDIO_ONLY_BELOW_BPS: f64 = 100_000.0;
/// For this many readings in a row (one a second) before giving up video.
pub const LOW_READINGS: u32 = 5;

/// Decides when a weak upload should stop our camera (the sound then has
/// the whole line). Once fallen back it stays so until the person turns
/// the camera on again (`reset`).
#[derive(Debug, Default, Clone)]
pub struct Fallback {
    low: u32,
    fell_back: bool,
}

impl Fallback {
    /// One reading of the upload estimate (none: not known yet). True
    /// exactly once: when the camera should stop now.
    pub fn observe(&mut self, outgoing_bps: Option<f64>) -> bool {
        if self.fell_back {
            return false;
        }
        match outgoing_bps {
            Some(bps) if bps < AUDIO_ONLY_BELOW_BPS => self.low += 1,
            _ => self.low = 0,
        }
        self.fell_back = self.low >= LOW_READINGS;
        self.fell_back
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weak_upload_for_five_seconds_stops_the_camera_once() {
        let mut fallback = Fallback::default();
        // A dip, then recovery: no change.
        for bps in [50_000.0, 40_000.0, 2_000_000.0] {
            assert!(!fallback.observe(Some(bps)));
        }
        // Unknown readings do not count as weak.
        assert!(!fallback.observe(None));
        for _ in 0..4 {
            assert!(!fallback.observe(Some(60_000.0)));
        }
        assert!(fallback.observe(Some(60_000.0)));
        assert!(!fallback.observe(Some(60_000.0)), "only once");
        fallback.reset();
        assert!(!fallback.observe(Some(60_000.0)));
    }

    fn sample(stream: &str, level: f64) -> AudioSample {
        AudioSample {
            stream: stream.into(),
            energy: level * level * 0.5,
            duration: 0.5,
        }
    }

    #[test]
    fn the_loudest_voice_above_the_floor_speaks() {
        assert_eq!(
            loudest(&[sample("cam-a", 0.05), sample("cam-b", 0.3)]),
            Some("cam-b".into())
        );
        assert_eq!(loudest(&[sample("cam-a", 0.01)]), None);
        // No audio in the interval (muted, paused): not speaking.
        let silent = AudioSample {
            stream: "cam-a".into(),
            energy: 0.0,
            duration: 0.0,
        };
        assert_eq!(loudest(&[silent]), None);
        assert_eq!(loudest(&[]), None);
    }

    #[test]
    fn quality_follows_loss_and_delay() {
        assert_eq!(quality(0, 60, Some(0.02)), 2);
        assert_eq!(quality(3, 60, None), 1);
        assert_eq!(quality(10, 60, Some(0.02)), 0);
        assert_eq!(quality(0, 60, Some(0.3)), 1);
        assert_eq!(quality(0, 60, Some(0.8)), 0);
        // Nothing arrived this second.
        assert_eq!(quality(0, 0, Some(0.02)), 0);
    }

    #[test]
    fn tracks_map_to_their_tiles() {
        assert_eq!(stream_of_track("mic-p1").as_deref(), Some("cam-p1"));
        assert_eq!(stream_of_track("cam-p1").as_deref(), Some("cam-p1"));
        assert_eq!(stream_of_track("screen-p1").as_deref(), Some("scr-p1"));
        assert_eq!(stream_of_track("4c1a6167-8bf1").as_deref(), None);
        assert_eq!(stream_of_track("nodash"), None);
    }
}
