//! One leg: its RTP stream (sent and received through its thread's socket), its source (prompt
//! queue, loop, or the audio of another leg or a room, waiting in a jitter buffer) and its sinks
//! (DTMF detectors, the recorder switch, the audio kept for listeners and for its room).

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::FrameCounts;
use super::jitter::{CAPACITY, Jitter, PcmFrame};
use super::socket::Outbox;
use super::{InbandDtmf, LegCommand, LegId, MediaEvent, Negotiated, RoomId, Source};
use crate::engine::Id;
use crate::media::FRAME_SAMPLES;
use crate::media::codec::Codec;
use crate::media::dtmf::{InbandDetector, Rfc4733Receiver};
use crate::media::prompt::{EncodedPrompt, Frame};
use crate::media::rtp::{self, Pacer, RtpStream};

/// A prompt waiting or playing.
struct Queued {
    playback: Id,
    frames: Option<Arc<EncodedPrompt>>,
    position: usize,
}

/// One call's stream, owned by a media thread.
pub struct Leg {
    pub(super) negotiated: Negotiated,
    /// A socket of the leg's own, only when its far end already has a call on every media
    /// thread (one RTP address for many calls, as sipp does): the thread's socket could not
    /// tell the two apart. `None` for nearly every leg.
    pub(super) own: Option<UdpSocket>,
    pub(super) rtp: RtpStream,
    dtmf: Option<Rfc4733Receiver>,
    inband: InbandDetector,
    /// When to listen for in-band keys, and whether this stream does now.
    inband_policy: InbandDtmf,
    inband_on: bool,
    queue: VecDeque<Queued>,
    pub(super) pacer: Option<Pacer>,
    forward_audio: bool,
    rtp_timeout: Duration,
    pub(super) last_rtp_in: Instant,
    silent_told: bool,
    /// The last packet in, decoded (reused).
    pcm: Vec<i16>,
    events: mpsc::UnboundedSender<MediaEvent>,
    /// Where outgoing frames come from (the wheel keeps listener lists in step with it).
    pub(super) source: Source,
    /// The next frame of a `Source::Loop`.
    loop_position: usize,
    /// Audio to send for `Source::Room`, and for `Source::Leg` when that leg's far end speaks
    /// another codec, pushed by the wheel.
    pub(super) incoming: Jitter<i16>,
    /// Audio to send for `Source::Leg` when that leg received it in this leg's codec: the bytes
    /// as they came, sent as they are (a bridge of two PCMU phones decodes and encodes nothing).
    pub(super) incoming_same_codec: Jitter<u8>,
    /// Legs whose source is this leg.
    pub(super) listeners: Vec<LegId>,
    /// The payload of the packet this leg last received, kept only while `listeners` is not
    /// empty; the wheel hands it to them at once (`hand_over`).
    pub(super) heard: Vec<u8>,
    /// The codec `heard` is in.
    pub(super) heard_codec: Codec,
    /// The room this leg is a member of.
    pub(super) room: Option<RoomId>,
    /// Received audio waiting for the room's next mix (only while in a room).
    pub(super) to_room: Jitter<i16>,
    /// The last frame encoded from `incoming` (reused).
    encoded: Frame,
    /// Keys being passed on (RFC 4733 packets still to send, one per frame).
    keys_out: VecDeque<KeyPacket>,
    /// The timestamp of the key being sent (every packet of an event carries its start).
    key_start: u32,
}

impl Leg {
    /// A leg for the stream `negotiated` describes; it sends and receives through the socket
    /// of the media thread it is given to (`MediaLoops::add`).
    pub fn new(
        negotiated: Negotiated,
        rtp_timeout: Duration,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Leg {
        let codec = negotiated.codec;
        Leg {
            own: None,
            dtmf: negotiated.dtmf_payload_type.map(Rfc4733Receiver::new),
            rtp: RtpStream::random(negotiated.codec.payload_type()),
            negotiated,
            inband: InbandDetector::default(),
            inband_policy: InbandDtmf::Always,
            inband_on: true,
            queue: VecDeque::new(),
            pacer: None,
            forward_audio: false,
            rtp_timeout,
            last_rtp_in: Instant::now(),
            silent_told: false,
            pcm: Vec::new(),
            events,
            source: Source::Prompts,
            loop_position: 0,
            incoming: Jitter::default(),
            incoming_same_codec: Jitter::default(),
            listeners: Vec::new(),
            heard: Vec::new(),
            heard_codec: codec,
            room: None,
            to_room: Jitter::default(),
            encoded: [0; FRAME_SAMPLES],
            keys_out: VecDeque::new(),
            key_start: 0,
        }
    }

    /// When this leg listens for keys as in-band tones (always, unless told otherwise).
    pub fn with_inband(mut self, policy: InbandDtmf) -> Leg {
        self.inband_policy = policy;
        self.inband_on = policy.listens(&self.negotiated);
        self
    }

    /// Queue a key to pass on (nothing when the far end did not accept telephone-event).
    fn queue_key(&mut self, key: char) {
        if self.negotiated.dtmf_payload_type.is_some() {
            self.keys_out.extend(key_packets(key));
        }
    }

    /// Where the far end sends from and wants RTP: `None` while it gave no address (a hold to
    /// `0.0.0.0`).
    pub fn far_end(&self) -> Option<SocketAddr> {
        far_end(&self.negotiated)
    }

    pub(super) fn command(&mut self, command: LegCommand) {
        match command {
            // The wheel handles these: Start picks a slot; a source, a room and leaving it
            // change the lists of who hears whom (the wheel then calls `set_source`); the
            // room keeps who is muted.
            LegCommand::Start
            | LegCommand::Source(_)
            | LegCommand::Join(_)
            | LegCommand::Leave
            | LegCommand::Mute(_) => {}
            LegCommand::SendKey(key) => self.queue_key(key),
            LegCommand::Enqueue(playback) => self.queue.push_back(Queued {
                playback,
                frames: None,
                position: 0,
            }),
            LegCommand::Loaded(playback, prompt) => {
                if let Some(q) = self.queue.iter_mut().find(|q| q.playback == playback) {
                    q.frames = Some(prompt);
                }
            }
            LegCommand::Drop(playback) => self.queue.retain(|q| q.playback != playback),
            LegCommand::Renegotiated(negotiated) => {
                if negotiated.codec != self.negotiated.codec {
                    // Bytes waiting in the old codec would be noise in the new one.
                    self.incoming_same_codec.clear();
                    self.rtp = RtpStream::new(
                        negotiated.codec.payload_type(),
                        self.rtp.ssrc(),
                        self.rtp.next_sequence(),
                        self.rtp.next_timestamp(),
                    );
                }
                if negotiated.dtmf_payload_type != self.negotiated.dtmf_payload_type {
                    self.dtmf = negotiated.dtmf_payload_type.map(Rfc4733Receiver::new);
                }
                if self.negotiated.on_hold && !negotiated.on_hold {
                    // Back from hold: the caller was not sending; the timeout starts again.
                    self.last_rtp_in = Instant::now();
                }
                self.inband_on = self.inband_policy.listens(&negotiated);
                // The wheel moves the leg to its new far end's address (`Wheel::apply`).
                self.negotiated = negotiated;
            }
            LegCommand::ForwardAudio(on) => self.forward_audio = on,
        }
    }

    /// Outgoing audio comes from `source` from the next frame on.
    pub(super) fn set_source(&mut self, source: Source) {
        self.incoming.clear();
        self.incoming_same_codec.clear();
        self.loop_position = 0;
        self.source = source;
    }

    /// The leg's tick: frames due at `now` out; a caller silent for too long is reported.
    /// (What the caller sends is read when its socket is ready: `Wheel::receive`.)
    pub(super) fn tick(&mut self, now: Instant, outbox: &mut Outbox, counts: &mut FrameCounts) {
        let Some(pacer) = self.pacer.as_mut() else {
            return;
        };
        let due = pacer.poll(now);
        if due.skipped > 0 {
            self.rtp.skip_frames(due.skipped);
        }
        counts.count(&due);
        for _ in due.to_send() {
            self.send_frame(outbox);
        }
        if !self.silent_told
            && !self.negotiated.on_hold
            && now.saturating_duration_since(self.last_rtp_in) > self.rtp_timeout
        {
            self.silent_told = true;
            let _ = self.events.send(MediaEvent::Silent);
        }
    }

    fn send_frame(&mut self, outbox: &mut Outbox) {
        if self.negotiated.on_hold {
            // What the other leg or the room said meanwhile is not kept for later.
            self.incoming.clear();
            self.incoming_same_codec.clear();
            return;
        }
        let codec = self.negotiated.codec;
        let silence = [codec.silence(); FRAME_SAMPLES];
        let mut finished = None;
        let frame: &[u8] = match (&self.source, self.queue.front_mut()) {
            (
                Source::Prompts,
                Some(Queued {
                    frames: Some(prompt),
                    position,
                    playback,
                }),
            ) => {
                let frames = prompt.frames(codec);
                match frames.get(*position) {
                    Some(frame) => {
                        *position += 1;
                        if *position >= frames.len() {
                            finished = Some(*playback);
                        }
                        frame
                    }
                    None => {
                        finished = Some(*playback);
                        &silence
                    }
                }
            }
            (Source::Prompts, _) => &silence,
            (Source::Loop(prompt), _) => {
                let frames = prompt.frames(codec);
                if self.loop_position >= frames.len() {
                    self.loop_position = 0;
                }
                match frames.get(self.loop_position) {
                    Some(frame) => {
                        self.loop_position += 1;
                        frame
                    }
                    None => &silence,
                }
            }
            (Source::Leg(_) | Source::Room(_), _) => {
                let mut pcm: PcmFrame = [0; FRAME_SAMPLES];
                if self.incoming_same_codec.pop_frame(&mut self.encoded) {
                    &self.encoded
                } else if self.incoming.pop_frame(&mut pcm) {
                    codec.encode(&pcm, &mut self.encoded);
                    &self.encoded
                } else {
                    &silence
                }
            }
        };
        // A key to pass on goes out instead of this frame's audio.
        let key = match (self.negotiated.dtmf_payload_type, self.keys_out.pop_front()) {
            (Some(payload_type), Some(event)) => {
                if event.first {
                    self.key_start = self.rtp.next_timestamp();
                }
                Some((payload_type, event))
            }
            (None, Some(_)) => {
                self.keys_out.clear();
                None
            }
            (_, None) => None,
        };
        if let Some((payload_type, event)) = key {
            let start = self.key_start;
            let write = |rtp: &mut RtpStream, packet: &mut [u8]| {
                rtp.next_event_packet(payload_type, start, event.first, &event.payload, packet)
                    .ok()
            };
            if let Some(socket) = &self.own {
                let mut packet = [0u8; rtp::G711_PACKET_LEN];
                if let Some(len) = write(&mut self.rtp, &mut packet)
                    && let Some(bytes) = packet.get(..len)
                {
                    let _ = socket.send_to(bytes, self.negotiated.remote);
                }
            } else {
                let rtp = &mut self.rtp;
                outbox.push(self.negotiated.remote, |packet| write(rtp, packet));
            }
        } else if let Some(socket) = &self.own {
            let mut packet = [0u8; rtp::G711_PACKET_LEN];
            if let Ok(len) = self.rtp.next_packet(frame, &mut packet)
                && let Some(bytes) = packet.get(..len)
            {
                let _ = socket.send_to(bytes, self.negotiated.remote);
            }
        } else {
            let rtp = &mut self.rtp;
            outbox.push(self.negotiated.remote, |packet| {
                rtp.next_packet(frame, packet).ok()
            });
        }
        if let Some(playback) = finished {
            self.queue.pop_front();
            let _ = self.events.send(MediaEvent::Finished(playback));
        }
    }

    /// A datagram from the leg's far end (its thread's socket hands it over by address).
    pub(super) fn on_rtp(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) {
        // Against RTP bleed: only the address negotiated in SDP.
        if from != self.negotiated.remote {
            return;
        }
        let Ok(packet) = rtp::parse(datagram) else {
            return;
        };
        self.last_rtp_in = now;
        if let Some(receiver) = self.dtmf.as_mut()
            && packet.payload_type == receiver.payload_type()
        {
            if let Some(digit) = receiver.push(&packet, now) {
                let _ = self.events.send(MediaEvent::Key(digit));
            }
            return;
        }
        let Some(codec) = Codec::from_payload_type(packet.payload_type) else {
            return;
        };
        // Those listening get the bytes as they came (the wheel decodes them for a listener
        // of another codec).
        if !self.listeners.is_empty() {
            let payload = packet.payload;
            self.heard.clear();
            self.heard
                .extend_from_slice(payload.get(..CAPACITY).unwrap_or(payload));
            self.heard_codec = codec;
        }
        // The other sinks want samples: decoded only for them, into the leg's own buffer (no
        // allocation per packet unless recording). A bridged leg whose keys come as RFC 4733
        // events decodes nothing.
        if self.room.is_none() && !self.inband_on && !self.forward_audio {
            return;
        }
        self.pcm.resize(packet.payload.len(), 0);
        let decoded = codec.decode(packet.payload, &mut self.pcm);
        let pcm = self.pcm.get(..decoded).unwrap_or_default();
        if self.room.is_some() {
            self.to_room.push(pcm);
        }
        let mut digits = Vec::new();
        if self.inband_on {
            self.inband.push(pcm, &mut digits);
        }
        if self.forward_audio {
            let _ = self.events.send(MediaEvent::Audio(pcm.to_vec()));
        }
        for digit in digits {
            let _ = self.events.send(MediaEvent::Digit(digit));
        }
    }
}

/// One RFC 4733 packet of a key being passed on.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyPacket {
    /// The first packet of the event (marker bit; the event's timestamp starts here).
    first: bool,
    /// Event code, E bit + volume, duration (timestamp units, big-endian).
    payload: [u8; 4],
}

/// RFC 4733 event codes of the keys.
fn event_code(key: char) -> Option<u8> {
    match key {
        '0'..='9' => u8::try_from(u32::from(key) - u32::from('0')).ok(),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => u8::try_from(u32::from(key) - u32::from('A') + 12).ok(),
        _ => None,
    }
}

/// The packets of one key press: 100 ms (five 20 ms packets, durations growing), then the
/// end packet three times (RFC 4733 section 2.5.1.4).
fn key_packets(key: char) -> Vec<KeyPacket> {
    let Some(code) = event_code(key) else {
        return Vec::new();
    };
    const VOLUME: u8 = 10;
    let frame = FRAME_SAMPLES as u16;
    let mut packets: Vec<KeyPacket> = (1..=5u16)
        .map(|k| {
            let [high, low] = (frame * k).to_be_bytes();
            KeyPacket {
                first: k == 1,
                payload: [code, VOLUME, high, low],
            }
        })
        .collect();
    let [high, low] = (frame * 5).to_be_bytes();
    for _ in 0..3 {
        packets.push(KeyPacket {
            first: false,
            payload: [code, 0x80 | VOLUME, high, low],
        });
    }
    packets
}

/// The far end's address, unless it gave none (`0.0.0.0` or port 0: a hold).
pub(super) fn far_end(negotiated: &Negotiated) -> Option<SocketAddr> {
    let remote = negotiated.remote;
    (!remote.ip().is_unspecified() && remote.port() != 0).then_some(remote)
}
