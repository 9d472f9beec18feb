//! Lets a subscriber's key frame requests (PLI, FIR) reach the SFU.
//!
//! The webrtc crate ends every inbound RTCP packet at the end of its
//! interceptor chain: the interceptors act on receiver reports, NACKs and
//! congestion feedback themselves. A key frame request about a forwarded
//! track is different: only the publisher can answer it, so the SFU must see
//! it and pass it on. Without this, a subscriber that lost part of a key frame
//! asks for another one forever and never shows a picture.

use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::VecDeque;
use std::time::Instant;

/// After every interceptor of the default chain (the highest named slot is
/// 13 000), so they have all seen the packet before this narrows it down.
pub const SLOT: Slot = Slot::Custom(14_000);

/// Marks inbound key frame requests for the application; the rest of the
/// inbound RTCP keeps ending in the chain.
#[derive(Default)]
pub struct KeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

/// Whether an RTCP packet asks for a key frame.
pub fn asks_for_keyframe(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut message: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &message.message.packet {
            let requests: Vec<_> = packets
                .iter()
                .filter(|packet| asks_for_keyframe(packet.as_ref()))
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            message.message.packet = Packet::Rtcp(requests);
            message.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(message);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(message);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::rtcp::receiver_report::ReceiverReport;
    use rtc::shared::TransportContext;

    fn inbound(packets: Vec<Box<dyn rtc::rtcp::Packet>>) -> TaggedPacket {
        TaggedPacket {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(packets)),
        }
    }

    #[test]
    fn only_keyframe_requests_are_delivered() {
        let mut chain = KeyframeRequests::default();
        let pli = PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        };
        chain
            .handle_read(inbound(vec![
                Box::new(ReceiverReport::default()),
                Box::new(pli),
            ]))
            .unwrap();
        chain
            .handle_read(inbound(vec![Box::new(ReceiverReport::default())]))
            .unwrap();
        let delivered = chain.poll_read().expect("the PLI passes");
        assert!(delivered.message.has(&Attribute::DeliverToApplication));
        let Packet::Rtcp(packets) = &delivered.message.packet else {
            panic!("RTCP expected");
        };
        assert_eq!(packets.len(), 1);
        assert!(asks_for_keyframe(packets[0].as_ref()));
        assert!(chain.poll_read().is_none(), "a receiver report alone stays");
    }
}
