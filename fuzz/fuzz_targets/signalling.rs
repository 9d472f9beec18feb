//! The signalling parser: any text a browser (or anyone) sends on `/ws`.
//! Whatever is understood must read back the same once written again; an
//! SDP inside (an offer, an answer) goes through what the SFU does with it.
//! Nothing may panic.

#![no_main]

use app::realtime::{ClientMsg, MAX_CLIENT_FRAME};
use libfuzzer_sys::fuzz_target;

// The SFU's own reading of browsers' offers, compiled here as it is there.
#[path = "../../server/src/sfu/sdp.rs"]
#[allow(dead_code)]
mod sdp;

fn offer(text: &str) {
    let _ = sdp::sources(text);
    let _ = sdp::ice_ufrag(text);
    let _ = rtc_sdp::SessionDescription::unmarshal(&mut std::io::Cursor::new(text.as_bytes()));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The socket refuses larger frames before parsing.
    if text.len() > MAX_CLIENT_FRAME {
        return;
    }
    if let Ok(message) = serde_json::from_str::<ClientMsg>(text) {
        let again = serde_json::to_string(&message).expect("a parsed message serialises");
        let reread: ClientMsg = serde_json::from_str(&again).expect("what we wrote parses");
        assert_eq!(reread, message);
        if let ClientMsg::MediaJoin { sdp, .. } | ClientMsg::MediaSdp { sdp, .. } = &message {
            offer(sdp);
        }
    }
    // The requests sent with the socket's opening (`/ws?first=`).
    let _ = serde_json::from_str::<Vec<ClientMsg>>(text);
    offer(text);
});
