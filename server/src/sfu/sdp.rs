//! What the SFU reads from a browser's offer: which of its sending tracks
//! is the microphone, the camera and the screen. The browser offers them in
//! that order (audio, then camera video, then screen video); each m-line's
//! `a=msid` names the track, which is how an arriving track is recognised.

/// Where a published track comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Microphone,
    Camera,
    Screen,
}

/// (track id, source) for every sending m-line of the offer, in order.
pub fn sources(sdp: &str) -> Vec<(String, Source)> {
    let mut out = Vec::new();
    let mut videos = 0;
    let mut kind: Option<&str> = None;
    let mut track: Option<String> = None;
    let mut flush = |kind: Option<&str>, track: Option<String>, videos: &mut usize| {
        if let (Some(kind), Some(track)) = (kind, track) {
            let source = match kind {
                "audio" => Source::Microphone,
                _ => {
                    *videos += 1;
                    if *videos == 1 {
                        Source::Camera
                    } else {
                        Source::Screen
                    }
                }
            };
            out.push((track, source));
        } else if kind == Some("video") {
            *videos += 1;
        }
    };
    for line in sdp.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            flush(kind, track.take(), &mut videos);
            kind = match media.split(' ').next() {
                Some("audio") => Some("audio"),
                Some("video") => Some("video"),
                _ => None,
            };
        } else if let Some(msid) = line.strip_prefix("a=msid:") {
            track = msid.split(' ').nth(1).map(str::to_string);
        }
    }
    flush(kind, track, &mut videos);
    out
}

/// The ICE username fragment of a description (the first one: bundled
/// m-lines share it). A new one in an offer is an ICE restart.
pub fn ice_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|line| line.trim_end().strip_prefix("a=ice-ufrag:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ice_ufrag_is_read() {
        assert_eq!(
            ice_ufrag("v=0\r\na=ice-ufrag:Ab+/\r\na=ice-ufrag:x\r\n"),
            Some("Ab+/")
        );
        assert_eq!(ice_ufrag("v=0\r\n"), None);
    }

    #[test]
    fn the_offer_says_which_track_is_the_camera_and_which_the_screen() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=msid:stream1 mic-track\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\na=msid:stream1 cam-track\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=sendonly\r\na=msid:- screen-track\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n";
        assert_eq!(
            sources(sdp),
            vec![
                ("mic-track".to_string(), Source::Microphone),
                ("cam-track".to_string(), Source::Camera),
                ("screen-track".to_string(), Source::Screen),
            ]
        );
        // A camera m-line without msid still counts: the next video is the screen.
        let sdp = "m=video 9 X 96\r\na=mid:0\r\nm=video 9 X 96\r\na=msid:- s\r\n";
        assert_eq!(sources(sdp), vec![("s".to_string(), Source::Screen)]);
        assert!(sources("garbage\u{0}\r\nm=\r\na=msid:").is_empty());
    }
}
