//! The forwarding decisions, as plain functions and small state machines
//! that tests drive without sockets: which simulcast layer a subscriber gets
//! for its bandwidth, when a switch may happen (only on a key frame, or the
//! picture breaks), and how sequence numbers and timestamps are rewritten so
//! the subscriber sees one continuous stream whatever layer it comes from.

/// Below this estimate a subscriber gets no video at all (audio only): a
/// picture that cannot keep up only delays the voice.
pub const AUDIO_ONLY_BELOW_BPS: u64 = 60_000;
/// A layer is chosen when its bitrate fits this share of the estimate.
const HEADROOM: f64 = 0.85;

/// The layer (index into the publisher's layers, low to high) that fits a
/// subscriber's bandwidth estimate: the best whose measured bitrate fits with
/// headroom; the lowest when none fits but video is still worth sending;
/// `None` for audio only. Layers not flowing (rate 0) are skipped.
pub fn pick_layer(estimate_bps: u64, layer_rates_bps: &[u64]) -> Option<usize> {
    if estimate_bps < AUDIO_ONLY_BELOW_BPS {
        return None;
    }
    let budget = estimate_bps as f64 * HEADROOM;
    let flowing = || {
        layer_rates_bps
            .iter()
            .enumerate()
            .filter(|(_, rate)| **rate > 0)
    };
    flowing()
        .filter(|(_, rate)| **rate as f64 <= budget)
        .map(|(i, _)| i)
        .next_back()
        .or_else(|| flowing().map(|(i, _)| i).next())
}

/// True when this VP8 RTP payload starts a key frame (RFC 7741: the
/// payload descriptor, then the first byte of the VP8 frame header, whose
/// lowest bit is 0 on key frames). Malformed payloads are not key frames.
pub fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x07;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut at = 1;
    if extended {
        let Some(&x) = payload.get(at) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            // Picture ID: one byte, or two when its M bit is set.
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID/Y/KEYIDX
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

/// Rewrites sequence numbers and timestamps so that a subscriber sees one
/// stream: when the source changes (another layer, or the publisher came
/// back), numbering continues from where it was.
#[derive(Debug, Default, Clone)]
pub struct Renumber {
    source: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    /// The newest (sequence number, timestamp) sent.
    last: Option<(u16, u32)>,
}

/// Timestamp step assumed between the last packet of the old source and the
/// first of the new one (one frame at 30 fps on the 90 kHz video clock).
const SWITCH_TS_STEP: u32 = 3000;

impl Renumber {
    /// The outgoing (sequence number, timestamp) of a packet from `ssrc`.
    pub fn rewrite(&mut self, ssrc: u32, seq: u16, ts: u32) -> (u16, u32) {
        if self.source != Some(ssrc) {
            if let Some((last_seq, last_ts)) = self.last {
                self.seq_offset = last_seq.wrapping_add(1).wrapping_sub(seq);
                self.ts_offset = last_ts.wrapping_add(SWITCH_TS_STEP).wrapping_sub(ts);
            }
            self.source = Some(ssrc);
        }
        let out = (
            seq.wrapping_add(self.seq_offset),
            ts.wrapping_add(self.ts_offset),
        );
        // Only move forward: a late (reordered) packet keeps its place.
        if self
            .last
            .is_none_or(|(last_seq, _)| seq_newer(out.0, last_seq))
        {
            self.last = Some(out);
        }
        out
    }

    /// A packet of `ssrc` that will not be sent (padding: the publisher
    /// probing for bandwidth). When it is the next in order, the packets
    /// after it move up one, so the subscriber sees no gap: a gap is a loss
    /// it would ask to be resent, and hold the following frames for.
    pub fn skip(&mut self, ssrc: u32, seq: u16) {
        if self.source != Some(ssrc) {
            return;
        }
        let Some((last_seq, _)) = self.last else {
            return;
        };
        if seq.wrapping_add(self.seq_offset) == last_seq.wrapping_add(1) {
            self.seq_offset = self.seq_offset.wrapping_sub(1);
        }
    }
}

/// RFC 1982 comparison of 16-bit sequence numbers.
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// What to do with one packet for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Drop,
    Send { seq: u16, ts: u32 },
}

/// One subscriber's view of one publisher's simulcast video: the layer it
/// should get, the layer it gets, and the renumbering between them.
#[derive(Debug, Default, Clone)]
pub struct LayerSwitch {
    target: Option<usize>,
    current: Option<usize>,
    renumber: Renumber,
}

impl LayerSwitch {
    /// Asks for another layer (`None`: no video). Returns true when a key
    /// frame must be requested from the publisher on that layer.
    pub fn set_target(&mut self, layer: Option<usize>) -> bool {
        if self.target == layer {
            return false;
        }
        self.target = layer;
        if layer.is_none() {
            self.current = None;
        }
        layer.is_some() && layer != self.current
    }

    /// Packets were lost: hold back until the next key frame of the
    /// target layer (numbering continues, so the gap shows as loss).
    pub fn await_keyframe(&mut self) {
        self.current = None;
    }

    pub fn target(&self) -> Option<usize> {
        self.target
    }

    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// A packet of `layer` arrived. Packets of the current layer pass
    /// (renumbered); the target layer takes over at its first key frame,
    /// and from then on the old one is dropped.
    pub fn on_packet(
        &mut self,
        layer: usize,
        ssrc: u32,
        seq: u16,
        ts: u32,
        keyframe: bool,
    ) -> Verdict {
        if Some(layer) != self.current {
            if Some(layer) == self.target && keyframe {
                self.current = Some(layer);
            } else {
                return Verdict::Drop;
            }
        }
        let (seq, ts) = self.renumber.rewrite(ssrc, seq, ts);
        Verdict::Send { seq, ts }
    }

    /// A packet of `layer` that carries no media (padding): not sent, and
    /// leaves no gap in the numbering (see [`Renumber::skip`]).
    pub fn on_padding(&mut self, layer: usize, ssrc: u32, seq: u16) {
        if Some(layer) == self.current {
            self.renumber.skip(ssrc, seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_leaves_no_gap_in_the_numbering() {
        let mut switch = LayerSwitch::default();
        switch.set_target(Some(0));
        let send = |switch: &mut LayerSwitch, seq: u16| match switch.on_packet(0, 9, seq, 0, true) {
            Verdict::Send { seq, .. } => seq,
            Verdict::Drop => panic!("dropped"),
        };
        let first = send(&mut switch, 65_534);
        // Two padding packets (one across the wrap), then media again.
        switch.on_padding(0, 9, 65_535);
        switch.on_padding(0, 9, 0);
        assert_eq!(send(&mut switch, 1), first.wrapping_add(1));
        // A padding packet out of order (older than the last sent) changes
        // nothing; another source's neither.
        switch.on_padding(0, 9, 0);
        switch.on_padding(0, 7, 2);
        assert_eq!(send(&mut switch, 2), first.wrapping_add(2));
        // A real loss stays a gap.
        assert_eq!(send(&mut switch, 5), first.wrapping_add(5));
    }

    #[test]
    fn the_best_layer_that_fits_the_estimate_is_chosen() {
        let rates = [150_000, 500_000, 1_500_000];
        assert_eq!(pick_layer(3_000_000, &rates), Some(2));
        assert_eq!(pick_layer(1_000_000, &rates), Some(1));
        assert_eq!(pick_layer(200_000, &rates), Some(0));
        // Nothing fits, but video is still worth it: the lowest layer.
        assert_eq!(pick_layer(100_000, &rates), Some(0));
        // A weak line: audio only.
        assert_eq!(pick_layer(40_000, &rates), None);
        // A layer that is not flowing is never chosen.
        assert_eq!(pick_layer(3_000_000, &[150_000, 0, 0]), Some(0));
        assert_eq!(pick_layer(3_000_000, &[0, 400_000, 0]), Some(1));
        assert_eq!(pick_layer(3_000_000, &[]), None);
    }

    #[test]
    fn vp8_key_frames_are_recognised() {
        // S=1, PID=0, no extension; frame header with P=0 (key frame).
        assert!(vp8_starts_keyframe(&[0x10, 0x00, 0x9d, 0x01, 0x2a]));
        // The same, P=1 (inter frame).
        assert!(!vp8_starts_keyframe(&[0x10, 0x01]));
        // Extended with a two-byte picture ID, TL0PICIDX and TID: header at 6.
        assert!(vp8_starts_keyframe(&[
            0x90,
            0xe0,
            0x80 | 0x12,
            0x34,
            0x05,
            0x40,
            0x00
        ]));
        assert!(!vp8_starts_keyframe(&[
            0x90,
            0xe0,
            0x80 | 0x12,
            0x34,
            0x05,
            0x40,
            0x01
        ]));
        // Not the start of the frame.
        assert!(!vp8_starts_keyframe(&[0x00, 0x00]));
        // Truncated or empty: never a key frame, never a panic.
        assert!(!vp8_starts_keyframe(&[]));
        assert!(!vp8_starts_keyframe(&[0x90, 0xe0, 0x80]));
        assert!(!vp8_starts_keyframe(&[0x90]));
    }

    #[test]
    fn renumbering_is_continuous_across_sources_and_wraps() {
        let mut r = Renumber::default();
        assert_eq!(r.rewrite(1, 65_534, 1000), (65_534, 1000));
        assert_eq!(r.rewrite(1, 65_535, 4000), (65_535, 4000));
        assert_eq!(r.rewrite(1, 0, 7000), (0, 7000));
        // Another source with its own numbering: continues at 1.
        assert_eq!(r.rewrite(2, 500, 90_000), (1, 10_000));
        assert_eq!(r.rewrite(2, 501, 93_000), (2, 13_000));
        // A late packet of the new source keeps its relative place.
        assert_eq!(r.rewrite(2, 500, 90_000), (1, 10_000));
        assert_eq!(r.rewrite(2, 502, 96_000), (3, 16_000));
    }

    #[test]
    fn a_layer_switch_waits_for_a_key_frame() {
        let mut s = LayerSwitch::default();
        assert!(s.set_target(Some(0)), "a first layer needs a key frame");
        // Inter frames before the first key frame are useless to the decoder.
        assert_eq!(s.on_packet(0, 10, 100, 0, false), Verdict::Drop);
        assert_eq!(
            s.on_packet(0, 10, 101, 3000, true),
            Verdict::Send { seq: 101, ts: 3000 }
        );
        assert_eq!(
            s.on_packet(0, 10, 102, 6000, false),
            Verdict::Send { seq: 102, ts: 6000 }
        );
        // Other layers are not forwarded.
        assert_eq!(s.on_packet(1, 11, 7, 500, true), Verdict::Drop);
        // Going up: layer 0 keeps flowing until layer 1 has a key frame.
        assert!(s.set_target(Some(1)));
        assert!(!s.set_target(Some(1)), "asking twice requests once");
        assert_eq!(s.on_packet(1, 11, 8, 800, false), Verdict::Drop);
        assert_eq!(
            s.on_packet(0, 10, 103, 9000, false),
            Verdict::Send { seq: 103, ts: 9000 }
        );
        assert_eq!(
            s.on_packet(1, 11, 9, 900, true),
            Verdict::Send {
                seq: 104,
                ts: 12_000
            }
        );
        assert_eq!(s.current(), Some(1));
        assert_eq!(s.on_packet(0, 10, 104, 12_000, false), Verdict::Drop);
        assert_eq!(
            s.on_packet(1, 11, 10, 3900, false),
            Verdict::Send {
                seq: 105,
                ts: 15_000
            }
        );
        // Audio only: nothing passes, and coming back needs a key frame.
        assert!(!s.set_target(None));
        assert_eq!(s.on_packet(1, 11, 11, 6900, true), Verdict::Drop);
        assert!(s.set_target(Some(1)));
        assert_eq!(s.on_packet(1, 11, 12, 9900, false), Verdict::Drop);
        assert_eq!(
            s.on_packet(1, 11, 13, 12_900, true),
            Verdict::Send {
                seq: 108,
                ts: 24_000
            }
        );
    }
}
