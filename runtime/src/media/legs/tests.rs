//! The legs on real threads and loopback sockets: pacing, prompts, silence, stopping; hold
//! music; bridges and rooms heard by content (Goertzel), in both directions and across codecs;
//! groups on one thread; legs of one thread's socket told apart by their far ends.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{
    FarEndInUse, InbandDtmf, Leg, LegCommand, LegHandle, MediaEvent, MediaLoops, Negotiated,
    NotOnOneThread, RtpPorts, Source,
};
use crate::media::codec::Codec;
use crate::media::prompt::EncodedPrompt;
use crate::media::rtp::{self, RtpStream};
use crate::media::{FRAME_SAMPLES, SAMPLE_RATE};

/// `threads` media threads on loopback ports the system picks.
fn loops(threads: usize) -> MediaLoops {
    MediaLoops::start(threads, RtpPorts::any(Ipv4Addr::LOCALHOST.into())).unwrap()
}

/// A leg whose caller is a plain socket on loopback, and that caller.
fn leg(timeout: Duration) -> (Leg, UdpSocket, mpsc::UnboundedReceiver<MediaEvent>) {
    leg_with(Codec::Pcmu, timeout)
}

/// A leg speaking `codec` with a caller on loopback, and that caller.
fn leg_with(
    codec: Codec,
    timeout: Duration,
) -> (Leg, UdpSocket, mpsc::UnboundedReceiver<MediaEvent>) {
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    caller
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (leg, events) = leg_for(caller.local_addr().unwrap(), codec, timeout);
    (leg, caller, events)
}

/// A leg speaking `codec` whose far end is `far_end` (RFC 4733 on payload type 101).
fn leg_for(
    far_end: SocketAddr,
    codec: Codec,
    timeout: Duration,
) -> (Leg, mpsc::UnboundedReceiver<MediaEvent>) {
    let negotiated = Negotiated {
        remote: far_end,
        codec,
        dtmf_payload_type: Some(101),
        on_hold: false,
    };
    let (events, receiver) = mpsc::unbounded_channel();
    (Leg::new(negotiated, timeout, events), receiver)
}

/// Packets the caller receives until `count` arrived: (arrival, sequence, payload).
fn receive(caller: &UdpSocket, count: usize) -> Vec<(Instant, u16, Vec<u8>)> {
    let mut buf = [0u8; 2048];
    (0..count)
        .map(|_| {
            let len = caller.recv(&mut buf).expect("a packet within 500 ms");
            let packet = rtp::parse(&buf[..len]).unwrap();
            (Instant::now(), packet.sequence, packet.payload.to_vec())
        })
        .collect()
}

/// A leg on a thread, its caller and its events.
type Placed = (LegHandle, UdpSocket, mpsc::UnboundedReceiver<MediaEvent>);

/// One media thread with two legs (not started), each with its caller on loopback.
fn two_legs_on_one_thread() -> (MediaLoops, [Placed; 2]) {
    let loops = loops(1);
    let placed = [(); 2].map(|()| {
        let (leg, caller, events) = leg(Duration::from_secs(60));
        (loops.add(leg).unwrap(), caller, events)
    });
    (loops, placed)
}

#[test]
fn two_legs_on_one_thread_get_their_prompts_paced_and_finished() {
    let (_loops, [first, second]) = two_legs_on_one_thread();
    let (first, first_caller, mut first_events) = first;
    let (second, second_caller, mut second_events) = second;
    // A prompt of 10 frames of a constant non-silent sample.
    let prompt = Arc::new(EncodedPrompt::from_pcm(&[4000; FRAME_SAMPLES * 10]));
    let tone = prompt.frames(Codec::Pcmu)[0].to_vec();
    for (handle, playback) in [(&first, 1), (&second, 2)] {
        handle.send(LegCommand::Enqueue(playback));
        handle.send(LegCommand::Loaded(playback, prompt.clone()));
    }
    first.send(LegCommand::Start);
    std::thread::sleep(Duration::from_millis(7));
    second.send(LegCommand::Start);

    // Both callers listen at once (a packet's arrival time is when it is read).
    let (first_packets, second_packets) = std::thread::scope(|scope| {
        let first = scope.spawn(|| receive(&first_caller, 15));
        let second = receive(&second_caller, 15);
        (first.join().unwrap(), second)
    });
    for (packets, events, playback) in [
        (first_packets, &mut first_events, 1),
        (second_packets, &mut second_events, 2),
    ] {
        // The prompt first, then silence; sequence numbers without a gap.
        assert!(packets[..10].iter().all(|(_, _, payload)| *payload == tone));
        let silence = vec![Codec::Pcmu.silence(); FRAME_SAMPLES];
        assert!(
            packets[10..]
                .iter()
                .all(|(_, _, payload)| *payload == silence)
        );
        for pair in packets.windows(2) {
            assert_eq!(pair[1].1, pair[0].1.wrapping_add(1));
        }
        // 14 gaps of 20 ms: 280 ms, paced, not a burst. The upper bound is loose: a stalled
        // thread skips frames (timestamps jump, sequence numbers do not), which takes longer.
        let span = packets[14].0 - packets[0].0;
        assert!(
            span > Duration::from_millis(200) && span < Duration::from_secs(1),
            "{span:?}"
        );
        assert_eq!(events.try_recv(), Ok(MediaEvent::Finished(playback)));
    }
}

#[test]
fn a_silent_caller_is_reported_once_and_a_dropped_prompt_never_plays() {
    let loops = loops(1);
    let (leg, caller, mut events) = leg(Duration::from_millis(100));
    let handle = loops.add(leg).unwrap();
    let prompt = Arc::new(EncodedPrompt::from_pcm(&[4000; FRAME_SAMPLES * 3]));
    handle.send(LegCommand::Enqueue(7));
    handle.send(LegCommand::Loaded(7, prompt));
    handle.send(LegCommand::Drop(7));
    handle.send(LegCommand::Start);
    let packets = receive(&caller, 10);
    let silence = vec![Codec::Pcmu.silence(); FRAME_SAMPLES];
    assert!(packets.iter().all(|(_, _, payload)| *payload == silence));
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(events.try_recv(), Ok(MediaEvent::Silent));
    assert!(events.try_recv().is_err(), "told once, no Finished");
}

#[test]
fn dropping_the_handle_stops_the_leg_and_frees_its_far_end() {
    let loops = loops(1);
    let (leg, caller, _events) = leg(Duration::from_secs(60));
    let far_end = caller.local_addr().unwrap();
    let handle = loops.add(leg).unwrap();
    handle.send(LegCommand::Start);
    receive(&caller, 3);
    drop(handle);
    // What was already sent may still arrive; then nothing.
    std::thread::sleep(Duration::from_millis(60));
    caller.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    while caller.recv(&mut buf).is_ok() {}
    caller.set_nonblocking(false).unwrap();
    caller
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(caller.recv(&mut buf).is_err(), "a stopped leg still sends");
    // The far end may call again on the same thread.
    let (again, _) = leg_for(far_end, Codec::Pcmu, Duration::from_secs(60));
    assert!(loops.add(again).is_ok());
}

/// Sends an RFC 4733 press of `key` (event `digit`) from `from` to `to`.
fn press(from: &UdpSocket, to: SocketAddr, event: u8) {
    let mut stream = RtpStream::random(101);
    let mut packet = [0u8; 64];
    let len = stream
        .next_packet(&[event, 10, 0, 160], &mut packet)
        .unwrap();
    from.send_to(&packet[..len], to).unwrap();
}

/// The next event of `events` within a second, skipping none.
fn next_event(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> Option<MediaEvent> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        if let Ok(event) = events.try_recv() {
            return Some(event);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn legs_sharing_a_threads_socket_are_told_apart_by_far_end_and_strangers_are_ignored() {
    let (loops, [first, second]) = two_legs_on_one_thread();
    let (first, first_caller, mut first_events) = first;
    let (second, second_caller, mut second_events) = second;
    let timeout = Duration::from_secs(60);
    assert_eq!(
        first.local_addr(),
        second.local_addr(),
        "one socket per thread"
    );
    let server = first.local_addr();
    first.send(LegCommand::Start);
    second.send(LegCommand::Start);
    // Each leg sends to its own caller only.
    receive(&first_caller, 2);
    receive(&second_caller, 2);

    // A stranger's press reaches nobody; each caller's press reaches its own leg.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    press(&stranger, server, 9);
    press(&first_caller, server, 1);
    press(&second_caller, server, 2);
    assert_eq!(next_event(&mut first_events), Some(MediaEvent::Key('1')));
    assert_eq!(next_event(&mut second_events), Some(MediaEvent::Key('2')));
    std::thread::sleep(Duration::from_millis(60));
    assert!(first_events.try_recv().is_err(), "the stranger's key");
    assert!(second_events.try_recv().is_err(), "the stranger's key");

    // A second leg from the first caller's address cannot be told apart from the first on
    // this thread's socket: refused there.
    let far_end = first_caller.local_addr().unwrap();
    let (twin, _) = leg_for(far_end, Codec::Pcmu, timeout);
    assert_eq!(
        loops.add_to(first.group(), twin).err(),
        Some(FarEndInUse {
            far_end,
            thread: first.thread()
        })
    );
    // Placed anywhere, with the same far end on every thread, it gets a socket of its own
    // (one RTP address for many calls, as sipp does).
    let (twin, mut twin_events) = leg_for(far_end, Codec::Pcmu, timeout);
    let twin = loops.add(twin).unwrap();
    assert_ne!(twin.local_addr(), server);
    twin.send(LegCommand::Start);
    press(&first_caller, twin.local_addr(), 4);
    assert_eq!(next_event(&mut twin_events), Some(MediaEvent::Key('4')));
    // The first leg still has its caller's keys, and only those.
    press(&first_caller, server, 3);
    assert_eq!(next_event(&mut first_events), Some(MediaEvent::Key('3')));
    std::thread::sleep(Duration::from_millis(60));
    assert!(first_events.try_recv().is_err());
    assert!(twin_events.try_recv().is_err());

    // With two threads, the same far end goes to the other one.
    let two = self::loops(2);
    let (a, _) = leg_for(far_end, Codec::Pcmu, timeout);
    let (b, _) = leg_for(far_end, Codec::Pcmu, timeout);
    let a = two.add(a).unwrap();
    let b = two.add(b).unwrap();
    assert_ne!(a.thread(), b.thread());
    assert_ne!(a.local_addr(), b.local_addr());
}

/// A prompt of frames of one constant sample each.
fn prompt_of(samples: &[i16]) -> Arc<EncodedPrompt> {
    let pcm: Vec<i16> = samples
        .iter()
        .flat_map(|sample| [*sample; FRAME_SAMPLES])
        .collect();
    Arc::new(EncodedPrompt::from_pcm(&pcm))
}

#[test]
fn hold_music_repeats_and_the_prompt_queue_waits_for_it() {
    let loops = loops(1);
    let (leg, caller, mut events) = leg(Duration::from_secs(60));
    let handle = loops.add(leg).unwrap();
    let music = prompt_of(&[1000, 2000, 3000]);
    let music_frames = music.frames(Codec::Pcmu).to_vec();
    let announcement = prompt_of(&[-500, -500]);
    let spoken = announcement.frames(Codec::Pcmu)[0].to_vec();
    handle.send(LegCommand::Source(Source::Loop(music)));
    handle.send(LegCommand::Enqueue(5));
    handle.send(LegCommand::Loaded(5, announcement));
    handle.send(LegCommand::Start);

    // The loop, from its first frame, three times over; the queued prompt does not play.
    let packets = receive(&caller, 9);
    for (index, (_, _, payload)) in packets.iter().enumerate() {
        assert_eq!(payload[..], music_frames[index % 3][..], "packet {index}");
    }
    assert!(events.try_recv().is_err(), "a loop never finishes");

    // Back to the prompts: the queued one plays (after at most the frames already due), then
    // silence.
    handle.send(LegCommand::Source(Source::Prompts));
    let payloads: Vec<Vec<u8>> = receive(&caller, 8).into_iter().map(|p| p.2).collect();
    let first = payloads.iter().position(|p| *p == spoken).unwrap();
    assert_eq!(payloads[first + 1], spoken);
    let silence = vec![Codec::Pcmu.silence(); FRAME_SAMPLES];
    assert!(payloads[first + 2..].iter().all(|p| *p == silence));
    assert!(first <= 2, "the loop stopped at once: {first}");
    assert_eq!(events.try_recv(), Ok(MediaEvent::Finished(5)));
}

/// The Goertzel power of `pcm` at `frequency` Hz, summed over 20 ms blocks (so that phase jumps
/// between blocks, where the jitter buffer dropped or inserted audio, do not cancel out).
fn power_at(pcm: &[i16], frequency: f64) -> f64 {
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / f64::from(SAMPLE_RATE)).cos();
    pcm.chunks_exact(FRAME_SAMPLES)
        .map(|block| {
            let (mut s1, mut s2) = (0.0, 0.0);
            for sample in block {
                let s0 = f64::from(*sample) + coefficient * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            s1 * s1 + s2 * s2 - coefficient * s1 * s2
        })
        .sum()
}

/// The power of `blocks` 20 ms blocks of a full tone of amplitude `amplitude`.
fn tone_power(amplitude: f64, blocks: usize) -> f64 {
    let per_block = amplitude * FRAME_SAMPLES as f64 / 2.0;
    per_block * per_block * blocks as f64
}

const AMPLITUDE: f64 = 6000.0;
/// 50 frames: 1 s of audio from each far end.
const TALK_FRAMES: usize = 50;

/// A far end: sends [`TALK_FRAMES`] frames of a `frequency` Hz tone as 20 ms RTP packets of
/// `codec` to `leg`, paced, and returns what it heard meanwhile (decoded, in arrival order).
fn talk_and_listen(caller: &UdpSocket, leg: SocketAddr, codec: Codec, frequency: f64) -> Vec<i16> {
    let sender = caller.try_clone().unwrap();
    caller
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let start = Instant::now();
    let end = start + Duration::from_millis(20 * TALK_FRAMES as u64 + 300);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut stream = RtpStream::random(codec.payload_type());
            let mut packet = [0u8; rtp::G711_PACKET_LEN];
            let step = 2.0 * std::f64::consts::PI * frequency / f64::from(SAMPLE_RATE);
            for frame in 0..TALK_FRAMES {
                let pcm: Vec<i16> = (0..FRAME_SAMPLES)
                    .map(|i| {
                        let n = (frame * FRAME_SAMPLES + i) as f64;
                        (AMPLITUDE * (step * n).sin()) as i16
                    })
                    .collect();
                let payload = codec.encode_to_vec(&pcm);
                let len = stream.next_packet(&payload, &mut packet).unwrap();
                sender.send_to(&packet[..len], leg).unwrap();
                let due = start + Duration::from_millis(20 * (frame as u64 + 1));
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        });
        let mut heard = Vec::new();
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            let Ok(len) = caller.recv(&mut buf) else {
                continue;
            };
            let packet = rtp::parse(&buf[..len]).unwrap();
            let codec = Codec::from_payload_type(packet.payload_type).unwrap();
            heard.extend(codec.decode_to_vec(packet.payload));
        }
        heard
    })
}

/// Asserts that `heard` holds each of `expected` loudly and `absent` hardly at all.
/// What a room member heard after the cues of the joins (each 200 ms, from the join on).
fn after_the_join_cue(heard: Vec<i16>) -> Vec<i16> {
    heard.get(3_200..).unwrap_or_default().to_vec()
}

fn assert_heard(who: &str, heard: &[i16], expected: &[f64], absent: f64) {
    let unwanted = power_at(heard, absent);
    for frequency in expected {
        let wanted = power_at(heard, *frequency);
        // At least a quarter of the second sent (a loaded machine may skip frames; all of it
        // arrives when idle), and 30 dB above the far end's own tone (heard: none).
        assert!(
            wanted > tone_power(AMPLITUDE, TALK_FRAMES / 4),
            "{who} hears too little of {frequency} Hz: {wanted:e}"
        );
        assert!(
            wanted > 1000.0 * unwanted,
            "{who}: {frequency} Hz at {wanted:e}, its own {absent} Hz at {unwanted:e}"
        );
    }
}

/// Two legs bridged on one thread, each far end sending its own tone: each hears the other's.
fn bridge_carries_each_sides_audio_to_the_other(first_codec: Codec, second_codec: Codec) {
    bridge_on(&loops(2), first_codec, second_codec);
}

fn bridge_on(loops: &MediaLoops, first_codec: Codec, second_codec: Codec) {
    let timeout = Duration::from_secs(60);
    let (first, first_caller, _first_events) = leg_with(first_codec, timeout);
    let (second, second_caller, _second_events) = leg_with(second_codec, timeout);
    let group = loops.group();
    let first = loops.add_to(group, first).unwrap();
    let second = loops.add_to(group, second).unwrap();
    let first_addr = first.local_addr();
    let second_addr = second.local_addr();
    first.bridge(&second).unwrap();
    first.send(LegCommand::Start);
    second.send(LegCommand::Start);

    let (first_heard, second_heard) = std::thread::scope(|scope| {
        let first = scope.spawn(|| talk_and_listen(&first_caller, first_addr, first_codec, 700.0));
        let second = talk_and_listen(&second_caller, second_addr, second_codec, 1200.0);
        (first.join().unwrap(), second)
    });
    assert_heard("the first far end", &first_heard, &[1200.0], 700.0);
    assert_heard("the second far end", &second_heard, &[700.0], 1200.0);
}

#[test]
fn a_bridge_carries_each_sides_audio_to_the_other() {
    bridge_carries_each_sides_audio_to_the_other(Codec::Pcmu, Codec::Pcmu);
}

#[test]
fn a_bridge_between_pcmu_and_pcma_transcodes_both_ways() {
    bridge_carries_each_sides_audio_to_the_other(Codec::Pcmu, Codec::Pcma);
}

#[test]
fn a_bridge_between_two_pcma_legs_passes_the_audio_through_both_ways() {
    bridge_carries_each_sides_audio_to_the_other(Codec::Pcma, Codec::Pcma);
}

/// Real-time priority where the system grants it (root, `CAP_SYS_NICE`): every media thread
/// gets it and a bridge still carries both sides; where it refuses, the threads stay as they
/// were and say why.
#[test]
fn media_threads_at_realtime_priority_carry_a_bridge() {
    let loops = loops(2);
    assert_eq!(loops.realtime_threads(), 0, "normal priority at start");
    match loops.set_realtime_priority() {
        Ok(()) => assert_eq!(loops.realtime_threads(), 2),
        Err(refused) => {
            assert!(
                refused
                    .to_string()
                    .starts_with("real-time priority refused")
            );
            assert_eq!(loops.realtime_threads(), 0);
        }
    }
    bridge_on(&loops, Codec::Pcmu, Codec::Pcmu);
}

#[test]
fn each_member_of_a_room_hears_the_others_but_not_itself() {
    let loops = loops(2);
    let group = loops.group();
    let room = loops.room(group);
    let tones = [450.0, 1000.0, 1750.0];
    let codecs = [Codec::Pcmu, Codec::Pcma, Codec::Pcmu];
    let members: Vec<_> = codecs
        .iter()
        .map(|codec| {
            let (leg, caller, events) = leg_with(*codec, Duration::from_secs(60));
            let handle = loops.add_to(group, leg).unwrap();
            let addr = handle.local_addr();
            handle.join(room).unwrap();
            handle.send(LegCommand::Start);
            (handle, caller, addr, events)
        })
        .collect();

    let heard: Vec<Vec<i16>> = std::thread::scope(|scope| {
        let talks: Vec<_> = members
            .iter()
            .zip(codecs.iter().zip(tones))
            .map(|((_, caller, addr, _), (codec, tone))| {
                scope.spawn(move || talk_and_listen(caller, *addr, *codec, tone))
            })
            .collect();
        talks
            .into_iter()
            .map(|talk| after_the_join_cue(talk.join().unwrap()))
            .collect()
    });
    for (index, heard) in heard.iter().enumerate() {
        let others: Vec<f64> = (0..3).filter(|i| *i != index).map(|i| tones[i]).collect();
        assert_heard(&format!("member {index}"), heard, &others, tones[index]);
    }
}

#[test]
fn a_muted_member_hears_the_room_and_is_not_heard() {
    let loops = loops(1);
    let group = loops.group();
    let room = loops.room(group);
    let tones = [450.0, 1000.0, 1750.0];
    let members: Vec<_> = tones
        .iter()
        .map(|_| {
            let (leg, caller, events) = leg_with(Codec::Pcmu, Duration::from_secs(60));
            let handle = loops.add_to(group, leg).unwrap();
            let addr = handle.local_addr();
            handle.join(room).unwrap();
            handle.send(LegCommand::Start);
            (handle, caller, addr, events)
        })
        .collect();
    members[0].0.send(LegCommand::Mute(true));
    let heard: Vec<Vec<i16>> = std::thread::scope(|scope| {
        let talks: Vec<_> = members
            .iter()
            .zip(tones)
            .map(|((_, caller, addr, _), tone)| {
                scope.spawn(move || talk_and_listen(caller, *addr, Codec::Pcmu, tone))
            })
            .collect();
        talks
            .into_iter()
            .map(|talk| after_the_join_cue(talk.join().unwrap()))
            .collect()
    });
    // The muted member still hears both others; they hear each other and not it.
    assert_heard("muted member 0", &heard[0], &[tones[1], tones[2]], tones[0]);
    assert_heard("member 1", &heard[1], &[tones[2]], tones[0]);
    assert_heard("member 2", &heard[2], &[tones[1]], tones[0]);
}

#[test]
fn legs_of_a_group_share_a_thread_and_unrelated_legs_are_spread() {
    let loops = loops(3);
    let timeout = Duration::from_secs(60);
    // The callers stay bound: each leg's far end is an address of its own.
    let mut callers = Vec::new();
    let mut leg = || {
        let (leg, caller, _) = leg(timeout);
        callers.push(caller);
        leg
    };
    let unrelated: Vec<_> = (0..3).map(|_| loops.add(leg()).unwrap().thread()).collect();
    assert_eq!(unrelated, [0, 1, 2], "round robin");

    let group = loops.group();
    let first = loops.add_to(group, leg()).unwrap();
    let second = loops.add_to(first.group(), leg()).unwrap();
    let elsewhere = loops.add(leg()).unwrap();
    assert_eq!(first.thread(), group.thread());
    assert_eq!(second.thread(), group.thread());
    assert_ne!(elsewhere.thread(), group.thread());
    assert_eq!(first.bridge(&second), Ok(()));

    // Sharing audio across threads is refused, not silently mute.
    let room = loops.room(group);
    assert_eq!(room.thread(), group.thread());
    let refused = NotOnOneThread {
        first: elsewhere.thread(),
        second: group.thread(),
    };
    assert_eq!(elsewhere.bridge(&first), Err(refused));
    assert_eq!(elsewhere.join(room), Err(refused));
    assert_eq!(second.join(room), Ok(()));
}

#[test]
fn a_key_passed_on_goes_out_as_rfc4733_events_in_place_of_audio() {
    let loops = loops(1);
    let (leg, caller, _events) = leg(Duration::from_secs(60));
    let leg = loops.add(leg).unwrap();
    leg.send(LegCommand::Start);
    receive(&caller, 2);
    leg.send(LegCommand::SendKey('#'));
    // Audio until the key's packets come, then the eight packets of one event, then audio.
    let mut buf = [0u8; 2048];
    let mut events = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let len = caller.recv(&mut buf).expect("a packet within 500 ms");
        let packet = rtp::parse(&buf[..len]).unwrap();
        if packet.payload_type == 101 {
            events.push((
                packet.marker,
                packet.timestamp,
                packet.payload.to_vec(),
                packet.sequence,
            ));
        } else if !events.is_empty() {
            after = Some((packet.timestamp, packet.sequence));
            break;
        }
    }
    assert_eq!(events.len(), 8, "{events:?}");
    let start = events[0].1;
    assert!(
        events[0].0,
        "the first packet of the event has the marker bit"
    );
    assert!(events.iter().skip(1).all(|e| !e.0));
    assert!(
        events.iter().all(|e| e.1 == start),
        "one timestamp per event"
    );
    for (k, event) in events.iter().enumerate() {
        let duration = u16::from_be_bytes([event.2[2], event.2[3]]);
        assert_eq!(event.2[0], 11, "`#` is event 11");
        let end = event.2[1] & 0x80 != 0;
        assert_eq!(end, k >= 5, "packet {k}: end bit");
        assert_eq!(
            duration,
            160 * (k.min(4) as u16 + 1),
            "packet {k}: duration"
        );
    }
    let sequences: Vec<u16> = events.iter().map(|e| e.3).collect();
    assert!(sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    let (timestamp, sequence) = after.unwrap();
    assert_eq!(sequence, sequences[7].wrapping_add(1));
    assert_eq!(
        timestamp,
        start.wrapping_add(8 * 160),
        "the audio clock went on"
    );
}

/// 20 ms frames of key 5 as a tone pair (770 Hz + 1336 Hz), 200 ms, then 100 ms of silence.
fn key_five_frames() -> Vec<Vec<i16>> {
    let samples: Vec<i16> = (0..FRAME_SAMPLES * 15)
        .map(|n| {
            if n >= FRAME_SAMPLES * 10 {
                return 0;
            }
            let t = n as f64 / f64::from(SAMPLE_RATE);
            let value = 6000.0 * (2.0 * std::f64::consts::PI * 770.0 * t).sin()
                + 6000.0 * (2.0 * std::f64::consts::PI * 1336.0 * t).sin();
            value as i16
        })
        .collect();
    samples.chunks(FRAME_SAMPLES).map(<[i16]>::to_vec).collect()
}

/// The caller sends `frames` as PCMU RTP to `to`, 20 ms apart.
fn send_audio(from: &UdpSocket, to: SocketAddr, frames: &[Vec<i16>]) {
    let mut stream = RtpStream::new(0, 77, 1, 0);
    let mut packet = [0u8; 2048];
    for frame in frames {
        let mut payload = [0u8; FRAME_SAMPLES];
        Codec::Pcmu.encode(frame, &mut payload);
        let len = stream.next_packet(&payload, &mut packet).unwrap();
        from.send_to(&packet[..len], to).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn in_band_keys_are_listened_for_only_without_telephone_event_unless_told_always() {
    let loops = loops(1);
    // (telephone-event offered, policy, a key expected from a tone)
    for (events_offered, policy, expected) in [
        (true, InbandDtmf::Auto, None),
        (false, InbandDtmf::Auto, Some(MediaEvent::Digit('5'))),
        (true, InbandDtmf::Always, Some(MediaEvent::Digit('5'))),
        (false, InbandDtmf::Never, None),
    ] {
        let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
        let negotiated = Negotiated {
            remote: caller.local_addr().unwrap(),
            codec: Codec::Pcmu,
            dtmf_payload_type: events_offered.then_some(101),
            on_hold: false,
        };
        let (events, mut received) = mpsc::unbounded_channel();
        let leg = Leg::new(negotiated, Duration::from_secs(60), events).with_inband(policy);
        let handle = loops.add(leg).unwrap();
        handle.send(LegCommand::Start);
        send_audio(&caller, handle.local_addr(), &key_five_frames());
        assert_eq!(
            next_event(&mut received),
            expected,
            "telephone-event offered: {events_offered}, {policy:?}"
        );
    }
}
