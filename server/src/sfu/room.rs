//! Who is on which call, and who receives whose tracks. Plain bookkeeping
//! under one lock (never held across an await): peers' tasks are told what
//! to subscribe to through their command channels.

use super::Command;
use super::forward::{self, MAX_LAYERS};
use super::sdp::Source;
use app::consultation::{ConsultationId, ParticipantId};
use app::media::{CallMember, Sending, camera_stream_id, screen_stream_id};
use app::realtime::ServerMsg;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, mpsc};

/// One RTP packet of a published track, with the simulcast layer it
/// belongs to (0 when the track has one).
#[derive(Debug, Clone)]
pub struct Layered {
    pub layer: usize,
    pub packet: rtc::rtp::Packet,
}

/// One track a participant publishes, as subscribers take it.
#[derive(Debug)]
pub struct Published {
    pub publisher: ParticipantId,
    pub source: Source,
    /// Every RTP packet of the track, for each subscriber's forwarding task.
    pub packets: broadcast::Sender<Layered>,
    /// Asks the publisher's browser for a key frame of a layer.
    pub keyframes: mpsc::UnboundedSender<usize>,
    pub layers: Layers,
}

/// The simulcast layers of a published track: their SSRCs (for key frame
/// requests) and their measured bitrates (for each subscriber's choice).
#[derive(Debug, Default)]
pub struct Layers {
    ssrcs: Mutex<[Option<u32>; MAX_LAYERS]>,
    rates: [AtomicU64; MAX_LAYERS],
}

impl Layers {
    pub fn set_ssrc(&self, layer: usize, ssrc: u32) {
        let mut ssrcs = self.ssrcs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = ssrcs.get_mut(layer) {
            *slot = Some(ssrc);
        }
    }

    fn ssrcs(&self) -> [Option<u32>; MAX_LAYERS] {
        *self.ssrcs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ssrc(&self, layer: usize) -> Option<u32> {
        self.ssrcs().get(layer).copied().flatten()
    }

    pub fn set_rates(&self, rates: [u64; MAX_LAYERS]) {
        for (slot, rate) in self.rates.iter().zip(rates) {
            slot.store(rate, Ordering::Relaxed);
        }
    }

    /// The measured bitrates; before the first measurement, the nominal
    /// rates of the layers that have started.
    pub fn rates(&self) -> [u64; MAX_LAYERS] {
        let measured = std::array::from_fn(|i| self.rates[i].load(Ordering::Relaxed));
        let opened = self.ssrcs().map(|ssrc| ssrc.is_some());
        forward::effective_rates(measured, opened)
    }
}

impl Published {
    pub fn is_video(&self) -> bool {
        self.source != Source::Microphone
    }

    /// The stream id subscribers see it under (one per person for camera
    /// and microphone, so the browser plays them together).
    pub fn stream_id(&self) -> String {
        match self.source {
            Source::Screen => screen_stream_id(&self.publisher),
            _ => camera_stream_id(&self.publisher),
        }
    }
}

struct Slot {
    id: u64,
    member: super::Member,
    sending: Sending,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedSender<ServerMsg>,
    published: Vec<Arc<Published>>,
}

#[derive(Default)]
struct Room {
    slots: Vec<Slot>,
    /// The database record of this call, once written.
    call_key: Option<String>,
}

#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<ConsultationId, Room>>,
}

impl Rooms {
    fn lock(&self) -> MutexGuard<'_, HashMap<ConsultationId, Room>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn has_room(&self, room: &ConsultationId) -> bool {
        self.lock().contains_key(room)
    }

    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    pub fn peer_count(&self) -> usize {
        self.lock().values().map(|r| r.slots.len()).sum()
    }

    /// Adds a peer (replacing the same participant's older one) and
    /// subscribes it to what the others publish. True when the call starts.
    pub fn add(
        &self,
        room_id: &ConsultationId,
        id: u64,
        member: super::Member,
        commands: mpsc::UnboundedSender<Command>,
        events: mpsc::UnboundedSender<ServerMsg>,
    ) -> bool {
        let mut rooms = self.lock();
        let started = !rooms.contains_key(room_id);
        let room = rooms.entry(room_id.clone()).or_default();
        if let Some(old) = room
            .slots
            .iter()
            .position(|s| s.member.participant == member.participant)
        {
            let old = room.slots.remove(old);
            let _ = old.commands.send(Command::Close);
            for other in &room.slots {
                let _ = other
                    .commands
                    .send(Command::Unsubscribe(member.participant.clone()));
            }
        }
        for other in &room.slots {
            for published in &other.published {
                let _ = commands.send(Command::Subscribe(published.clone()));
            }
        }
        room.slots.push(Slot {
            id,
            member,
            sending: Sending::default(),
            commands,
            events,
            published: Vec::new(),
        });
        send_rosters(room);
        started
    }

    /// A peer's track started flowing: every other peer subscribes.
    pub fn publish(&self, room_id: &ConsultationId, id: u64, published: Arc<Published>) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_id) else {
            return;
        };
        for slot in &mut room.slots {
            if slot.id == id {
                slot.published.retain(|p| p.source != published.source);
                slot.published.push(published.clone());
            } else {
                let _ = slot.commands.send(Command::Subscribe(published.clone()));
            }
        }
    }

    /// Removes the peer `id` (if it is still the participant's current one).
    /// True when the call is now empty and has ended.
    pub fn remove(&self, room_id: &ConsultationId, participant: &ParticipantId, id: u64) -> bool {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_id) else {
            return false;
        };
        let Some(at) = room.slots.iter().position(|s| s.id == id) else {
            return false;
        };
        room.slots.remove(at);
        for other in &room.slots {
            let _ = other
                .commands
                .send(Command::Unsubscribe(participant.clone()));
        }
        send_rosters(room);
        if room.slots.is_empty() {
            // Keep the call key for take_call_key.
            return true;
        }
        false
    }

    pub fn set_sending(
        &self,
        room_id: &ConsultationId,
        participant: &ParticipantId,
        id: u64,
        sending: Sending,
    ) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_id) else {
            return;
        };
        if let Some(slot) = room
            .slots
            .iter_mut()
            .find(|s| s.id == id && &s.member.participant == participant)
        {
            slot.sending = sending;
        }
        send_rosters(room);
    }

    pub fn set_call_key(&self, room_id: &ConsultationId, key: String) {
        if let Some(room) = self.lock().get_mut(room_id) {
            room.call_key = Some(key);
        }
    }

    /// The call key of an ended (empty) call, removing the room.
    pub fn take_call_key(&self, room_id: &ConsultationId) -> Option<String> {
        let mut rooms = self.lock();
        if rooms.get(room_id).is_some_and(|r| r.slots.is_empty()) {
            return rooms.remove(room_id).and_then(|r| r.call_key);
        }
        None
    }
}

/// Tells every peer who else is on the call.
fn send_rosters(room: &Room) {
    for slot in &room.slots {
        let members = room
            .slots
            .iter()
            .filter(|other| other.id != slot.id)
            .map(|other| CallMember {
                participant: other.member.participant.clone(),
                name: other.member.name.clone(),
                role: other.member.role,
                stream: camera_stream_id(&other.member.participant),
                screen_stream: screen_stream_id(&other.member.participant),
                sending: other.sending,
            })
            .collect();
        let _ = slot.events.send(ServerMsg::CallMembers { members });
    }
}
