//! The SFU's per-packet decisions on arbitrary packet sequences: layer
//! targets changing, packets of any layer, SSRC, sequence number and
//! timestamp, padding, losses. Nothing may panic, and what is sent on one
//! source keeps the publisher's spacing.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../server/src/sfu/forward.rs"]
#[allow(dead_code)]
mod forward;

use forward::{
    LayerChooser, LayerSwitch, MAX_LAYERS, PictureIds, RateWindow, Verdict, pick_layer,
    vp8_starts_keyframe,
};

fuzz_target!(|data: &[u8]| {
    let mut switch = LayerSwitch::default();
    let mut last_sent: Option<(u32, u16, u16)> = None;
    // Each operation is 9 bytes: a kind, then its fields.
    for op in data.chunks_exact(9) {
        let layer = usize::from(op[1] % 4);
        let ssrc = u32::from(op[2] % 3);
        let seq = u16::from_be_bytes([op[3], op[4]]);
        let ts = u32::from_be_bytes([op[5], op[6], op[7], op[8]]);
        match op[0] % 4 {
            // Anything but a send ends the run of consecutive packets.
            0 => {
                let target = (op[1] < 200).then_some(layer);
                let _ = switch.set_target(target);
                last_sent = None;
            }
            1 => {
                switch.on_padding(layer, ssrc, seq);
                last_sent = None;
            }
            2 => {
                switch.await_keyframe();
                last_sent = None;
            }
            _ => {
                let keyframe = vp8_starts_keyframe(&op[5..]);
                if let Verdict::Send { seq: out, .. } =
                    switch.on_packet(layer, ssrc, seq, ts, keyframe)
                {
                    // Consecutive packets of one source stay consecutive.
                    if let Some((same, prev_in, prev_out)) = last_sent
                        && same == ssrc
                        && seq == prev_in.wrapping_add(1)
                    {
                        assert_eq!(out, prev_out.wrapping_add(1));
                    }
                    last_sent = Some((ssrc, seq, out));
                }
            }
        }
    }
    let rates: Vec<u64> = data
        .chunks_exact(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect();
    if let Some((estimate, layers)) = rates.split_first() {
        if let Some(i) = pick_layer(*estimate, layers) {
            assert!(i < layers.len());
        }
    }
    // The layer chooser, fed arbitrary estimates, rates, caps and times:
    // never a layer above the cap or outside the rates.
    let start = std::time::Instant::now();
    let mut chooser = LayerChooser::default();
    let mut window = RateWindow::new(start);
    for (n, c) in data.chunks_exact(8).enumerate() {
        let at = start + std::time::Duration::from_millis(u64::from(c[0]) * 10 * n as u64);
        let layer_rates = [
            u64::from(c[1]) << 12,
            u64::from(c[2]) << 12,
            u64::from(c[3]) << 12,
        ];
        let cap = usize::from(c[4] % 4);
        let share = u64::from(u16::from_be_bytes([c[5], c[6]])) << 6;
        if let Some(layer) = chooser.choose(at, share, &layer_rates, cap) {
            assert!(layer <= cap && layer < MAX_LAYERS);
        }
        let _ = window.add(at, usize::from(c[7] % 5), usize::from(c[7]));
    }
    // Picture ID rewriting on arbitrary payloads from changing sources:
    // never a panic, never a change of length.
    let mut pictures = PictureIds::default();
    for (n, chunk) in data.chunks(7).enumerate() {
        let mut payload = chunk.to_vec();
        pictures.rewrite((n % 3) as u32, &mut payload);
        assert_eq!(payload.len(), chunk.len());
    }
});
