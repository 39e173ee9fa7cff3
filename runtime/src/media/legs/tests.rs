//! The legs on real threads and loopback sockets: pacing, prompts, silence, closing.

#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Leg, LegCommand, MediaEvent, MediaLoops, Negotiated};
use crate::media::FRAME_SAMPLES;
use crate::media::codec::Codec;
use crate::media::prompt::EncodedPrompt;
use crate::media::rtp;

/// A leg whose caller is a plain socket on loopback, and that caller.
fn leg(timeout: Duration) -> (Leg, UdpSocket, mpsc::UnboundedReceiver<MediaEvent>) {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    caller
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let negotiated = Negotiated {
        remote: caller.local_addr().unwrap(),
        codec: Codec::Pcmu,
        dtmf_payload_type: Some(101),
        on_hold: false,
    };
    let (events, receiver) = mpsc::unbounded_channel();
    let leg = Leg::new(server, negotiated, timeout, events).unwrap();
    (leg, caller, receiver)
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

#[test]
fn two_legs_on_one_thread_get_their_prompts_paced_and_finished() {
    let loops = MediaLoops::start(1).unwrap();
    let timeout = Duration::from_secs(60);
    let (first, first_caller, mut first_events) = leg(timeout);
    let (second, second_caller, mut second_events) = leg(timeout);
    let first = loops.add(first);
    let second = loops.add(second);
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
    let loops = MediaLoops::start(1).unwrap();
    let (leg, caller, mut events) = leg(Duration::from_millis(100));
    let handle = loops.add(leg);
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
fn dropping_the_handle_closes_the_legs_socket() {
    let loops = MediaLoops::start(1).unwrap();
    let (leg, _caller, _events) = leg(Duration::from_secs(60));
    let port = leg.socket.local_addr().unwrap();
    let handle = loops.add(leg);
    handle.send(LegCommand::Start);
    drop(handle);
    let start = Instant::now();
    while UdpSocket::bind(port).is_err() {
        assert!(start.elapsed() < Duration::from_secs(2), "port still bound");
        std::thread::sleep(Duration::from_millis(5));
    }
}
