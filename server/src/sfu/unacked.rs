//! Keeps browsers naming their simulcast layers on every video packet.
//!
//! A simulcast layer is declared in the SDP by its RID alone, not its SSRC:
//! the webrtc crate learns which SSRC is which layer from the MID and RID
//! header extensions on the packets. Chrome sends those extensions only
//! until a receiver report acknowledges the SSRC, and the crate forgets
//! what it learned at every renegotiation (someone joins or leaves: it
//! applies the new description and resets the receivers). Packets after
//! that carry no RID, match no receiver, and are dropped: the picture
//! freezes for everyone the moment a third person joins.
//!
//! So the SFU never acknowledges a video SSRC: its receiver reports leave
//! out the report blocks about incoming video. Chrome keeps the extensions
//! on (a few bytes a packet), and after each renegotiation the next packet
//! binds the layer again. Congestion control does not need those blocks:
//! the browser's estimate comes from transport-wide feedback.

use rtc::interceptor::{Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::{HashSet, VecDeque};
use std::time::Instant;

/// Wire-ward of the receiver report generator (10 000), so the reports it
/// makes pass through here on their way out.
pub const SLOT: Slot = Slot::Custom(9_500);

#[derive(Default)]
pub struct UnackedVideo {
    /// The incoming video streams (SSRCs).
    video: HashSet<u32>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl UnackedVideo {
    /// The RTCP packet without report blocks about incoming video; `None`
    /// when it has none to remove (it goes out as it is).
    fn without_video_blocks(
        &self,
        packet: &dyn rtc::rtcp::Packet,
    ) -> Option<Box<dyn rtc::rtcp::Packet>> {
        let any = packet.as_any();
        let about_video = |ssrc: &u32| self.video.contains(ssrc);
        if let Some(report) = any.downcast_ref::<ReceiverReport>()
            && report.reports.iter().any(|r| about_video(&r.ssrc))
        {
            let mut report = report.clone();
            report.reports.retain(|r| !about_video(&r.ssrc));
            return Some(Box::new(report));
        }
        if let Some(report) = any.downcast_ref::<SenderReport>()
            && report.reports.iter().any(|r| about_video(&r.ssrc))
        {
            let mut report = report.clone();
            report.reports.retain(|r| !about_video(&r.ssrc));
            return Some(Box::new(report));
        }
        None
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for UnackedVideo {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.read.push_back(message);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, mut message: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &message.message.packet {
            let edited: Vec<_> = packets
                .iter()
                .map(|packet| self.without_video_blocks(packet.as_ref()))
                .collect();
            if edited.iter().any(Option::is_some) {
                let packets = packets
                    .iter()
                    .zip(edited)
                    .map(|(packet, edited)| edited.unwrap_or_else(|| packet.clone()))
                    .collect();
                message.message.packet = Packet::Rtcp(packets);
            }
        }
        self.write.push_back(message);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for UnackedVideo {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if info.mime_type.to_ascii_lowercase().starts_with("video/") {
            self.video.insert(info.ssrc);
        }
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.video.remove(&info.ssrc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::rtcp::reception_report::ReceptionReport;
    use rtc::shared::TransportContext;

    fn outbound(packets: Vec<Box<dyn rtc::rtcp::Packet>>) -> TaggedPacket {
        TaggedPacket {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(packets)),
        }
    }

    fn stream(ssrc: u32, mime_type: &str) -> StreamInfo {
        StreamInfo {
            ssrc,
            mime_type: mime_type.into(),
            ..Default::default()
        }
    }

    fn block(ssrc: u32) -> ReceptionReport {
        ReceptionReport {
            ssrc,
            ..Default::default()
        }
    }

    #[test]
    fn reports_about_incoming_video_are_left_out() {
        let mut chain = UnackedVideo::default();
        chain.bind_remote_stream(&stream(1, "audio/opus"));
        chain.bind_remote_stream(&stream(2, "video/VP8"));
        chain.bind_remote_stream(&stream(3, "video/VP8"));
        let report = ReceiverReport {
            ssrc: 9,
            reports: vec![block(1), block(2), block(3)],
            ..Default::default()
        };
        chain
            .handle_write(outbound(vec![Box::new(report)]))
            .unwrap();
        let sent = chain.poll_write().expect("the report still goes out");
        let Packet::Rtcp(packets) = &sent.message.packet else {
            panic!("RTCP expected");
        };
        let report = packets[0]
            .as_any()
            .downcast_ref::<ReceiverReport>()
            .expect("a receiver report");
        let ssrcs: Vec<u32> = report.reports.iter().map(|r| r.ssrc).collect();
        assert_eq!(ssrcs, vec![1], "the audio is still acknowledged");
        // A stream gone is acknowledged again if it comes back as something else.
        chain.unbind_remote_stream(&stream(2, "video/VP8"));
        chain
            .handle_write(outbound(vec![Box::new(ReceiverReport {
                ssrc: 9,
                reports: vec![block(2)],
                ..Default::default()
            })]))
            .unwrap();
        let Packet::Rtcp(packets) = &chain.poll_write().unwrap().message.packet else {
            panic!("RTCP expected");
        };
        let report = packets[0]
            .as_any()
            .downcast_ref::<ReceiverReport>()
            .unwrap();
        assert_eq!(report.reports.len(), 1);
    }
}
