//! RTP: exact header bytes and seq/timestamp progressions, the parser's validation (and sipp's
//! g711a.pcap), and the pacer's deadlines with synthetic instants.
#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

mod media_support;

use std::time::{Duration, Instant};

use centralino_runtime::media::rtp::{
    self, Due, G711_PACKET_LEN, HEADER_LEN, Pacer, RtpError, RtpStream,
};

#[test]
fn first_packets_have_exact_header_bytes() {
    let mut stream = RtpStream::new(0, 0x1122_3344, 0xFFFE, 0xFFFF_FF00);
    let frame = [0xFFu8; 160];
    let mut buf = [0u8; 1500];

    let len = stream.next_packet(&frame, &mut buf).unwrap();
    assert_eq!(len, G711_PACKET_LEN);
    assert_eq!(
        buf[..HEADER_LEN],
        [
            0x80, 0x80, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0x00, 0x11, 0x22, 0x33, 0x44
        ],
        "V=2, marker + PT 0, seq 65534, ts 0xFFFFFF00, SSRC"
    );
    assert_eq!(buf[HEADER_LEN..len], frame);

    let len = stream.next_packet(&frame, &mut buf).unwrap();
    assert_eq!(len, 172);
    assert_eq!(
        buf[..HEADER_LEN],
        [
            0x80, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xA0, 0x11, 0x22, 0x33, 0x44
        ],
        "no marker; seq +1; ts +160"
    );

    stream.next_packet(&frame, &mut buf).unwrap();
    assert_eq!(
        buf[..HEADER_LEN],
        [
            0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x22, 0x33, 0x44
        ],
        "seq and ts wrap around"
    );
}

#[test]
fn pcma_payload_type_and_talk_spurts() {
    let mut stream = RtpStream::new(8, 7, 100, 1000);
    let mut buf = [0u8; 200];
    let mut headers = Vec::new();
    for i in 0..6 {
        if i == 3 {
            stream.start_talk_spurt();
        }
        let len = stream.next_packet(&[0xD5; 160], &mut buf).unwrap();
        let packet = rtp::parse(&buf[..len]).unwrap();
        headers.push((
            packet.marker,
            packet.payload_type,
            packet.sequence,
            packet.timestamp,
        ));
    }
    assert_eq!(
        headers,
        [
            (true, 8, 100, 1000),
            (false, 8, 101, 1160),
            (false, 8, 102, 1320),
            (true, 8, 103, 1480),
            (false, 8, 104, 1640),
            (false, 8, 105, 1800),
        ]
    );
}

#[test]
fn skipped_frames_move_the_timestamp_not_the_sequence() {
    let mut stream = RtpStream::new(0, 1, 10, 0);
    let mut buf = [0u8; 200];
    stream.next_packet(&[0; 160], &mut buf).unwrap();
    stream.skip_frames(5);
    assert_eq!(stream.next_sequence(), 11);
    assert_eq!(stream.next_timestamp(), 6 * 160);
}

#[test]
fn random_streams_differ() {
    let a = RtpStream::random(0);
    let b = RtpStream::random(0);
    assert_eq!(a.payload_type(), 0);
    assert!(
        (a.ssrc(), a.next_sequence(), a.next_timestamp())
            != (b.ssrc(), b.next_sequence(), b.next_timestamp())
    );
}

#[test]
fn write_and_parse_round_trip() {
    let payload: Vec<u8> = (0..=255).collect();
    let mut buf = [0u8; 400];
    let len = rtp::write_packet(
        &mut buf,
        101,
        true,
        4242,
        0xDEAD_BEEF,
        0xCAFE_F00D,
        &payload,
    )
    .unwrap();
    assert_eq!(len, 12 + 256);
    let packet = rtp::parse(&buf[..len]).unwrap();
    assert_eq!(packet.payload_type, 101);
    assert!(packet.marker);
    assert_eq!(packet.sequence, 4242);
    assert_eq!(packet.timestamp, 0xDEAD_BEEF);
    assert_eq!(packet.ssrc, 0xCAFE_F00D);
    assert_eq!(packet.payload, &payload[..]);
}

/// A header with the given first byte, then `rest` after the 12 bytes.
fn datagram(first: u8, rest: &[u8]) -> Vec<u8> {
    let mut d = vec![first, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
    d.extend_from_slice(rest);
    d
}

#[test]
fn parser_rejects_malformed_packets() {
    // Too short.
    for len in 0..12 {
        assert!(matches!(
            rtp::parse(&vec![0x80; len]),
            Err(RtpError::Truncated { .. })
        ));
    }
    // Versions 0, 1, 3.
    for first in [0x00, 0x40, 0xC0] {
        assert!(matches!(
            rtp::parse(&datagram(first, &[0; 160])),
            Err(RtpError::UnsupportedVersion(_))
        ));
    }
    // CSRC count 2 but one CSRC present.
    assert!(matches!(
        rtp::parse(&datagram(0x82, &[0, 0, 0, 1])),
        Err(RtpError::Truncated {
            expected: 20,
            actual: 16
        })
    ));
    // Extension bit without the extension header.
    assert!(matches!(
        rtp::parse(&datagram(0x90, &[0xBE, 0xDE])),
        Err(RtpError::Truncated { .. })
    ));
    // Extension header says 2 words, one present.
    assert!(matches!(
        rtp::parse(&datagram(0x90, &[0xBE, 0xDE, 0, 2, 1, 2, 3, 4])),
        Err(RtpError::Truncated { .. })
    ));
    // Padding bit with a padding count of 0.
    assert!(matches!(
        rtp::parse(&datagram(0xA0, &[1, 2, 3, 0])),
        Err(RtpError::InvalidPadding(0))
    ));
    // Padding count longer than the payload.
    assert!(matches!(
        rtp::parse(&datagram(0xA0, &[1, 2, 9])),
        Err(RtpError::Truncated { .. })
    ));
}

#[test]
fn parser_skips_csrcs_extension_and_padding() {
    // 1 CSRC, a one-word extension, payload [7, 8, 9], 3 bytes of padding.
    let rest = [
        0, 0, 0, 0x2A, // CSRC
        0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0, // extension: profile, 1 word, data
        7, 8, 9, // payload
        0, 0, 3, // padding, count 3
    ];
    let d = datagram(0x80 | 0x20 | 0x10 | 0x01, &rest);
    let packet = rtp::parse(&d).unwrap();
    assert_eq!(packet.payload, &[7, 8, 9]);
    assert_eq!(packet.sequence, 1);
    assert_eq!(packet.timestamp, 160);
    assert_eq!(packet.ssrc, 9);
}

#[test]
fn parser_never_panics_on_garbage() {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ok = 0;
    for _ in 0..200_000 {
        let len = (next() % 64) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(b) = d.first_mut() {
            // Half of them look like version 2, to reach the deeper checks.
            if next() % 2 == 0 {
                *b = (*b & 0x3F) | 0x80;
            }
        }
        if let Ok(packet) = rtp::parse(&d) {
            assert!(packet.payload.len() <= d.len() - 12);
            ok += 1;
        }
    }
    assert!(ok > 1000, "some random datagrams are valid RTP: {ok}");
}

#[test]
fn sipp_g711a_pcap_parses_as_30ms_pcma() {
    let Some(path) = media_support::sipp_pcap("g711a.pcap") else {
        return;
    };
    let datagrams = media_support::udp_payloads(&path);
    assert!(datagrams.len() > 100, "{} datagrams", datagrams.len());
    let packets: Vec<_> = datagrams
        .iter()
        .map(|d| rtp::parse(&d.payload).unwrap())
        .collect();
    for pair in packets.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(240));
        assert_eq!(pair[1].ssrc, pair[0].ssrc);
    }
    for packet in &packets {
        assert_eq!(packet.payload_type, 8);
        assert_eq!(packet.payload.len(), 240);
    }
}

// ---- Pacer ----

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn frames_are_due_at_their_deadlines() {
    let t0 = Instant::now();
    let mut pacer = Pacer::new(t0 + ms(5));
    assert!(pacer.poll(t0).is_empty(), "before the anchor");
    assert_eq!(pacer.next_deadline(), t0 + ms(5));
    assert_eq!(
        pacer.poll(t0 + ms(5)),
        Due {
            frames: 0..1,
            skipped: 0
        }
    );
    assert!(pacer.poll(t0 + ms(5)).is_empty(), "given out once");
    assert!(pacer.poll(t0 + ms(24)).is_empty());
    assert_eq!(pacer.next_deadline(), t0 + ms(25));
    assert_eq!(
        pacer.poll(t0 + ms(25)),
        Due {
            frames: 1..2,
            skipped: 0
        }
    );
    assert_eq!(pacer.deadline(1000), t0 + ms(5 + 20_000));
}

#[test]
fn a_1ms_tick_gives_every_frame_once_in_order_without_drift() {
    let t0 = Instant::now();
    let mut pacer = Pacer::new(t0);
    let mut sent = Vec::new();
    for tick in 0..=60_000u64 {
        let due = pacer.poll(t0 + ms(tick));
        assert_eq!(due.skipped, 0);
        for k in due.to_send() {
            // Frame k leaves at the tick of its deadline: k·20 ms exactly.
            assert_eq!(tick, k * 20);
            sent.push(k);
        }
    }
    assert_eq!(sent, (0..=3000).collect::<Vec<_>>());
}

#[test]
fn late_wakeups_do_not_drift() {
    // A loop that asks to wake in 20 ms but wakes 1.3 ms late every time: a sleep(20 ms) loop
    // would send 1 frame per 21.3 ms (6% slow); with deadlines the count follows the clock.
    let t0 = Instant::now();
    let mut pacer = Pacer::new(t0);
    let mut now = t0;
    let mut sent = 0u64;
    let mut max_burst = 0;
    for _ in 0..1000 {
        let due = pacer.poll(now);
        sent += due.send();
        max_burst = max_burst.max(due.send());
        now = pacer.next_deadline() + Duration::from_micros(1300);
    }
    let elapsed = now - t0 - Duration::from_micros(1300);
    assert_eq!(sent, (elapsed.as_millis() / 20) as u64);
    assert_eq!(max_burst, 1);
}

#[test]
fn short_stall_catches_up_long_stall_skips_ahead() {
    let t0 = Instant::now();
    let mut pacer = Pacer::new(t0);
    assert_eq!(pacer.poll(t0).to_send(), 0..1);
    // Frames 1, 2, 3 (deadlines 20, 40, 60) are late at 65 ms: a short stall, all sent.
    let due = pacer.poll(t0 + ms(65));
    assert_eq!(
        due,
        Due {
            frames: 1..4,
            skipped: 0
        }
    );
    assert_eq!(due.send(), 3);
    // Back on the grid.
    assert_eq!(pacer.poll(t0 + ms(80)).to_send(), 4..5);
    // Nothing until 300 ms: frames 5..=15 are due; only the newest is sent.
    let due = pacer.poll(t0 + ms(300));
    assert_eq!(
        due,
        Due {
            frames: 5..16,
            skipped: 10
        }
    );
    assert_eq!(due.to_send(), 15..16);
    assert_eq!(pacer.poll(t0 + ms(320)).to_send(), 16..17);
    assert_eq!(pacer.next_deadline(), t0 + ms(340));
}

#[test]
fn catch_up_limit_is_configurable() {
    let t0 = Instant::now();
    let mut pacer = Pacer::new(t0).with_max_catch_up(5);
    assert_eq!(pacer.max_catch_up(), 5);
    assert_eq!(
        pacer.poll(t0 + ms(80)),
        Due {
            frames: 0..5,
            skipped: 0
        }
    );
    assert_eq!(
        pacer.poll(t0 + ms(200)),
        Due {
            frames: 5..11,
            skipped: 5
        }
    );
}

#[test]
fn pacer_and_stream_keep_timestamps_on_the_grid() {
    // The RTP timestamp of frame k is base + 160·k, skipped frames included.
    let t0 = Instant::now();
    let mut pacer = Pacer::new(t0);
    let mut stream = RtpStream::new(0, 5, 0, 1_000);
    let mut buf = [0u8; 200];
    let mut seen = Vec::new();
    for at in [0u64, 20, 40, 100, 120, 500, 520] {
        let due = pacer.poll(t0 + ms(at));
        stream.skip_frames(due.skipped);
        for k in due.to_send() {
            let len = stream.next_packet(&[0xFF; 160], &mut buf).unwrap();
            let packet = rtp::parse(&buf[..len]).unwrap();
            assert_eq!(packet.timestamp, 1_000 + 160 * k as u32);
            seen.push((k, packet.sequence));
        }
    }
    assert_eq!(
        seen,
        [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 4),
            (5, 5),
            (6, 6),
            (25, 7),
            (26, 8)
        ]
    );
}
