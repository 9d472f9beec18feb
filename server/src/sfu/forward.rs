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

/// The most simulcast layers a published video has (low, medium, high).
pub const MAX_LAYERS: usize = 3;

/// The layer a simulcast encoding's RTP stream id stands for. The browser
/// side of Visita names them `l`, `m`, `h`; the names other clients commonly
/// use (`q`/`h`/`f`, `0`/`1`/`2`) are understood too. Anything else, and a
/// video without simulcast, is the one and only layer 0.
pub fn layer_of_rid(rid: Option<&str>) -> usize {
    match rid {
        Some("m" | "h" | "1") => 1,
        Some("f" | "2") => 2,
        _ => 0,
    }
}

/// Each layer's bitrate, measured over windows of about a second. A layer
/// that sent nothing in the last window reads 0: the publisher dropped it
/// (its own upload got weak), and no subscriber is sent to it.
#[derive(Debug, Clone)]
pub struct RateWindow {
    started: std::time::Instant,
    bytes: [u64; MAX_LAYERS],
}

const RATE_WINDOW: std::time::Duration = std::time::Duration::from_millis(1000);

impl RateWindow {
    pub fn new(now: std::time::Instant) -> Self {
        Self {
            started: now,
            bytes: [0; MAX_LAYERS],
        }
    }

    /// Counts a packet; when a window closes, returns each layer's rate in
    /// bits per second.
    pub fn add(
        &mut self,
        now: std::time::Instant,
        layer: usize,
        bytes: usize,
    ) -> Option<[u64; MAX_LAYERS]> {
        if let Some(count) = self.bytes.get_mut(layer) {
            *count += bytes as u64;
        }
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed < RATE_WINDOW {
            return None;
        }
        let seconds = elapsed.as_secs_f64();
        let rates = self.bytes.map(|b| (b as f64 * 8.0 / seconds) as u64);
        *self = Self::new(now);
        Some(rates)
    }
}

/// The bitrates the browser side asks each layer to stay under (see
/// `app::call`): what a layer is taken to cost before it is measured.
pub const NOMINAL_BPS: [u64; MAX_LAYERS] = [150_000, 500_000, 1_200_000];

/// The rates to choose from: the measured ones; before the first window
/// closes (all zero), the nominal rate of each layer that has started.
pub fn effective_rates(
    measured: [u64; MAX_LAYERS],
    opened: [bool; MAX_LAYERS],
) -> [u64; MAX_LAYERS] {
    if measured.iter().any(|r| *r > 0) {
        return measured;
    }
    std::array::from_fn(|i| if opened[i] { NOMINAL_BPS[i] } else { 0 })
}

/// What one subscriber's connection can spend on one of the videos it
/// receives: its estimate, less what the sound takes, shared equally.
pub fn video_share(estimate_bps: u64, audio_tracks: usize, video_tracks: usize) -> u64 {
    /// Opus at the browsers' default rate, with its packet overhead.
    const AUDIO_BPS: u64 = 40_000;
    let left = estimate_bps.saturating_sub(AUDIO_BPS * audio_tracks as u64);
    left / video_tracks.max(1) as u64
}

/// How long a better layer must keep fitting before the subscriber moves up:
/// a picture that changes quality every second is worse than a steady one.
pub const UPGRADE_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Chooses the layer a subscriber gets from its share of the bandwidth:
/// down at once when the current one no longer fits, up only after the
/// better one has fitted for [`UPGRADE_AFTER`]. `max_layer` is the
/// subscriber's own cap (data saver).
#[derive(Debug, Clone, Default)]
pub struct LayerChooser {
    chosen: Option<Option<usize>>,
    better_since: Option<std::time::Instant>,
}

impl LayerChooser {
    pub fn choose(
        &mut self,
        now: std::time::Instant,
        share_bps: u64,
        rates: &[u64],
        max_layer: usize,
    ) -> Option<usize> {
        let allowed = &rates[..rates.len().min(max_layer + 1)];
        let fits = pick_layer(share_bps, allowed);
        let Some(current) = self.chosen else {
            self.chosen = Some(fits);
            return fits;
        };
        // A layer that stopped flowing, or is above the cap, is left at once.
        let current_usable = current.is_none_or(|l| allowed.get(l).is_some_and(|r| *r > 0));
        let better = match (fits, current) {
            (Some(f), Some(c)) => f > c,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !current_usable || (!better && fits != current) {
            self.better_since = None;
            self.chosen = Some(fits);
        } else if better {
            let since = *self.better_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= UPGRADE_AFTER {
                self.better_since = None;
                self.chosen = Some(fits);
            }
        } else {
            self.better_since = None;
        }
        self.chosen.flatten()
    }
}

/// Where the VP8 payload descriptor (RFC 7741) keeps its picture ID and
/// TL0PICIDX, when it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Vp8Fields {
    /// Offset of the picture ID and whether it is 15 bits (else 7).
    picture_id: Option<(usize, bool)>,
    tl0: Option<usize>,
}

fn vp8_fields(payload: &[u8]) -> Vp8Fields {
    let none = Vp8Fields {
        picture_id: None,
        tl0: None,
    };
    let Some(&first) = payload.first() else {
        return none;
    };
    if first & 0x80 == 0 {
        return none;
    }
    let Some(&x) = payload.get(1) else {
        return none;
    };
    let mut at = 2;
    let mut fields = none;
    if x & 0x80 != 0 {
        let Some(&pid) = payload.get(at) else {
            return none;
        };
        let long = pid & 0x80 != 0;
        if long && payload.len() < at + 2 {
            return none;
        }
        fields.picture_id = Some((at, long));
        at += if long { 2 } else { 1 };
    }
    if x & 0x40 != 0 && at < payload.len() {
        fields.tl0 = Some(at);
    }
    fields
}

/// Keeps the VP8 picture IDs (and TL0PICIDX) a subscriber sees continuous
/// across layer switches. Each layer numbers its pictures on its own; a
/// decoder that sees the number jump back takes the new key frame for an
/// old one and throws it away, and the picture freezes.
#[derive(Debug, Clone, Default)]
pub struct PictureIds {
    source: Option<u32>,
    pid_offset: u16,
    tl0_offset: u8,
    last_pid: Option<u16>,
    last_tl0: Option<u8>,
}

/// The new picture ID and TL0PICIDX of one packet, where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureEdit {
    picture_id: Option<(usize, bool, u16)>,
    tl0: Option<(usize, u8)>,
}

impl PictureEdit {
    pub fn apply(&self, payload: &mut [u8]) {
        if let Some((at, long, id)) = self.picture_id {
            if long && at + 1 < payload.len() {
                let [high, low] = id.to_be_bytes();
                payload[at] = 0x80 | high;
                payload[at + 1] = low;
            } else if let Some(byte) = payload.get_mut(at) {
                *byte = id as u8;
            }
        }
        if let Some((at, tl0)) = self.tl0
            && let Some(byte) = payload.get_mut(at)
        {
            *byte = tl0;
        }
    }
}

impl PictureIds {
    /// The edit a packet from `ssrc` needs; `None` when it goes unchanged
    /// (no switch yet, or one that happened to keep the numbering), which
    /// spares copying the payload.
    pub fn next(&mut self, ssrc: u32, payload: &[u8]) -> Option<PictureEdit> {
        let fields = vp8_fields(payload);
        let pid = fields.picture_id.map(|(at, long)| {
            if long {
                u16::from_be_bytes([payload[at] & 0x7f, payload[at + 1]])
            } else {
                u16::from(payload[at] & 0x7f)
            }
        });
        let tl0 = fields.tl0.map(|at| payload[at]);
        if self.source != Some(ssrc) {
            if let (Some(last), Some(pid)) = (self.last_pid, pid) {
                self.pid_offset = last.wrapping_add(1).wrapping_sub(pid);
            }
            if let (Some(last), Some(tl0)) = (self.last_tl0, tl0) {
                self.tl0_offset = last.wrapping_add(1).wrapping_sub(tl0);
            }
            self.source = Some(ssrc);
        }
        let mut edit = PictureEdit {
            picture_id: None,
            tl0: None,
        };
        if let (Some((at, long)), Some(pid)) = (fields.picture_id, pid) {
            let mask = if long { 0x7fff } else { 0x7f };
            let out = pid.wrapping_add(self.pid_offset) & mask;
            self.last_pid = Some(out);
            if out != pid {
                edit.picture_id = Some((at, long, out));
            }
        }
        if let (Some(at), Some(tl0)) = (fields.tl0, tl0) {
            let out = tl0.wrapping_add(self.tl0_offset);
            self.last_tl0 = Some(out);
            if out != tl0 {
                edit.tl0 = Some((at, out));
            }
        }
        (edit.picture_id.is_some() || edit.tl0.is_some()).then_some(edit)
    }

    /// [`Self::next`] and apply, in place.
    pub fn rewrite(&mut self, ssrc: u32, payload: &mut [u8]) {
        if let Some(edit) = self.next(ssrc, payload) {
            edit.apply(payload);
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

    #[test]
    fn rids_name_layers() {
        assert_eq!(layer_of_rid(Some("l")), 0);
        assert_eq!(layer_of_rid(Some("m")), 1);
        assert_eq!(layer_of_rid(Some("f")), 2);
        assert_eq!(layer_of_rid(Some("q")), 0);
        assert_eq!(layer_of_rid(None), 0);
        assert_eq!(layer_of_rid(Some("anything")), 0);
    }

    #[test]
    fn layer_rates_are_measured_per_window() {
        let start = std::time::Instant::now();
        let mut window = RateWindow::new(start);
        let ms = |n| start + std::time::Duration::from_millis(n);
        assert_eq!(window.add(ms(10), 0, 1000), None);
        assert_eq!(window.add(ms(500), 1, 5000), None);
        // Out of range layers are ignored, not a panic.
        assert_eq!(window.add(ms(600), 7, 5000), None);
        let rates = window.add(ms(1000), 0, 1000).expect("a window closes");
        assert_eq!(rates, [16_000, 40_000, 0]);
        // A fresh window: a layer that stopped reads 0.
        let rates = window.add(ms(2000), 1, 250).expect("the next one");
        assert_eq!(rates, [0, 2000, 0]);
    }

    #[test]
    fn the_share_leaves_room_for_the_sound() {
        assert_eq!(video_share(1_000_000, 2, 2), 460_000);
        assert_eq!(video_share(1_000_000, 1, 0), 960_000);
        assert_eq!(video_share(50_000, 2, 1), 0);
    }

    #[test]
    fn layers_go_down_at_once_and_up_after_a_steady_while() {
        let start = std::time::Instant::now();
        let at = |s: f64| start + std::time::Duration::from_secs_f64(s);
        let rates = [150_000, 500_000, 1_200_000];
        let mut chooser = LayerChooser::default();
        // The first choice is immediate.
        assert_eq!(chooser.choose(at(0.0), 2_000_000, &rates, 2), Some(2));
        // The line weakens: down at once.
        assert_eq!(chooser.choose(at(1.0), 700_000, &rates, 2), Some(1));
        assert_eq!(chooser.choose(at(1.5), 100_000, &rates, 2), Some(0));
        assert_eq!(chooser.choose(at(1.6), 30_000, &rates, 2), None);
        // Better again: only after two steady seconds.
        assert_eq!(chooser.choose(at(2.0), 2_000_000, &rates, 2), None);
        assert_eq!(chooser.choose(at(3.0), 2_000_000, &rates, 2), None);
        // A dip restarts the wait.
        assert_eq!(chooser.choose(at(3.5), 30_000, &rates, 2), None);
        assert_eq!(chooser.choose(at(4.0), 2_000_000, &rates, 2), None);
        assert_eq!(chooser.choose(at(6.0), 2_000_000, &rates, 2), Some(2));
        // The cap (data saver) applies at once, and lifting it waits.
        assert_eq!(chooser.choose(at(6.1), 2_000_000, &rates, 0), Some(0));
        assert_eq!(chooser.choose(at(6.2), 2_000_000, &rates, 2), Some(0));
        assert_eq!(chooser.choose(at(8.3), 2_000_000, &rates, 2), Some(2));
        // The publisher stops its top layer: left at once.
        assert_eq!(
            chooser.choose(at(8.4), 2_000_000, &[150_000, 500_000, 0], 2),
            Some(1)
        );
    }

    #[test]
    fn picture_ids_stay_continuous_across_switches() {
        // X=1, I=1 (15-bit picture ID), L=1 (TL0PICIDX).
        let packet = |pid: u16, tl0: u8| {
            let [high, low] = pid.to_be_bytes();
            vec![0x90, 0xc0, 0x80 | high, low, tl0, 0x00]
        };
        let read = |p: &[u8]| (u16::from_be_bytes([p[2] & 0x7f, p[3]]), p[4]);
        let mut ids = PictureIds::default();
        let mut p = packet(100, 7);
        ids.rewrite(1, &mut p);
        assert_eq!(read(&p), (100, 7), "the first source passes unchanged");
        assert_eq!(ids.next(1, &packet(101, 7)), None, "and needs no copy");
        let mut p = packet(101, 8);
        ids.rewrite(1, &mut p);
        // Another layer, far behind in its numbering: continues at 102 / 9.
        let mut p = packet(5, 200);
        ids.rewrite(2, &mut p);
        assert_eq!(read(&p), (102, 9));
        let mut p = packet(6, 200);
        ids.rewrite(2, &mut p);
        assert_eq!(read(&p), (103, 9));
        // Wraps at 15 bits, and keeps the long form's M bit.
        let mut ids = PictureIds::default();
        ids.rewrite(1, &mut packet(0x7fff, 0));
        let mut p = packet(3, 0);
        ids.rewrite(2, &mut p);
        assert_eq!(read(&p), (0, 1));
        assert_eq!(p[2] & 0x80, 0x80);
        // Short and truncated descriptors: no panic.
        let mut short = vec![0x90, 0x80, 0x05, 0x00];
        ids.rewrite(3, &mut short);
        for mut bad in [vec![], vec![0x90], vec![0x90, 0x80], vec![0x90, 0x80, 0x80]] {
            ids.rewrite(4, &mut bad);
        }
    }
}
