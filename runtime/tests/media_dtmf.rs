//! DTMF: RFC 4733 events from sipp's pcaps (each key once, whatever the retransmissions, and
//! twice when sipp replays the same pcap twice), SIP INFO bodies, and the in-band Goertzel
//! detector on synthesized tones, on G.711 round trips and on sox-made WAVs.
#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

mod media_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use centralino_runtime::media::codec::Codec;
use centralino_runtime::media::dtmf::{
    self, InbandConfig, InbandDetector, InfoDigit, InfoError, Rfc4733Receiver, detect_all,
    parse_info_body,
};
use centralino_runtime::media::prompt::load_pcm;
use centralino_runtime::media::rtp::{self, Packet};
use media_support::{push_key, push_silence, push_tones};

const SIPP_KEYS: [(&str, char); 12] = [
    ("0", '0'),
    ("1", '1'),
    ("2", '2'),
    ("3", '3'),
    ("4", '4'),
    ("5", '5'),
    ("6", '6'),
    ("7", '7'),
    ("8", '8'),
    ("9", '9'),
    ("star", '*'),
    ("pound", '#'),
];

/// Feeds datagrams to a receiver, each at `base + (its capture time - first capture time)`.
fn feed(
    receiver: &mut Rfc4733Receiver,
    datagrams: &[media_support::Datagram],
    base: Instant,
) -> String {
    let first = datagrams.first().map(|d| d.at).unwrap_or_default();
    let mut keys = String::new();
    for d in datagrams {
        let packet = rtp::parse(&d.payload).unwrap();
        if let Some(key) = receiver.push(&packet, base + (d.at - first)) {
            keys.push(key);
        }
    }
    keys
}

#[test]
fn each_sipp_pcap_is_one_key_press() {
    let mut all = String::new();
    let mut receiver = Rfc4733Receiver::new(101);
    let mut base = Instant::now();
    for (name, key) in SIPP_KEYS {
        let Some(path) = media_support::sipp_pcap(&format!("dtmf_2833_{name}.pcap")) else {
            return;
        };
        let datagrams = media_support::udp_payloads(&path);
        // Ten packets: start (marker), six updates, the end packet three times.
        assert_eq!(datagrams.len(), 10, "{name}");
        let got = feed(&mut Rfc4733Receiver::new(101), &datagrams, base);
        assert_eq!(got, key.to_string(), "{name}");
        all.push_str(&feed(&mut receiver, &datagrams, base));
        base += Duration::from_millis(500);
    }
    assert_eq!(all, "0123456789*#");
}

#[test]
fn sipp_replaying_the_same_pcap_is_two_presses() {
    // sipp 3.6 replays a pcap byte for byte: "5" twice has the same sequence numbers and
    // timestamps twice (seen on the wire here). 500 ms apart, as a scenario's pause makes them.
    let Some(path) = media_support::sipp_pcap("dtmf_2833_5.pcap") else {
        return;
    };
    let datagrams = media_support::udp_payloads(&path);
    let mut receiver = Rfc4733Receiver::new(101);
    let t0 = Instant::now();
    let mut keys = feed(&mut receiver, &datagrams, t0);
    keys += &feed(&mut receiver, &datagrams, t0 + Duration::from_millis(500));
    assert_eq!(keys, "55");
}

#[test]
fn retransmissions_reordering_and_loss_report_once() {
    let Some(path) = media_support::sipp_pcap("dtmf_2833_7.pcap") else {
        return;
    };
    let datagrams = media_support::udp_payloads(&path);
    let t0 = Instant::now();
    let at = |i: usize| t0 + Duration::from_millis(20 * i as u64);
    let packet = |i: usize| rtp::parse(&datagrams[i].payload).unwrap();

    // Only the end packets arrive (start and updates lost): still one key.
    let mut receiver = Rfc4733Receiver::new(101);
    let keys: String = (7..10)
        .filter_map(|i| receiver.push(&packet(i), at(7)))
        .collect();
    assert_eq!(keys, "7");

    // Every packet delivered twice, the updates shuffled.
    let mut receiver = Rfc4733Receiver::new(101);
    let order = [0, 0, 2, 1, 3, 3, 5, 4, 6, 7, 6, 8, 9, 7, 8, 9];
    let keys: String = order
        .iter()
        .enumerate()
        .filter_map(|(n, &i)| receiver.push(&packet(i), at(n)))
        .collect();
    assert_eq!(keys, "7");

    // An end packet retransmitted late (400 ms) is still the same event.
    let mut receiver = Rfc4733Receiver::new(101);
    let mut keys: String = (0..10)
        .filter_map(|i| receiver.push(&packet(i), at(i)))
        .collect();
    keys.extend(receiver.push(&packet(9), at(30)));
    assert_eq!(keys, "7");
}

/// A telephone-event packet.
fn event(seq: u16, ts: u32, marker: bool, key: u8, end: bool, duration: u16) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let payload = [
        key,
        if end { 0x8A } else { 0x0A },
        (duration >> 8) as u8,
        duration as u8,
    ];
    let len = rtp::write_packet(&mut buf, 101, marker, seq, ts, 0xABCD, &payload).unwrap();
    buf[..len].to_vec()
}

#[test]
fn rfc4733_sequence_of_keys_with_fresh_timestamps() {
    // "1", "1", "#" as a conforming sender does it: new timestamp per event, end packet ×3,
    // audio packets (PT 0) in between that the receiver ignores.
    let t0 = Instant::now();
    let mut receiver = Rfc4733Receiver::new(101);
    let mut datagrams = Vec::new();
    let mut seq = 1000u16;
    let mut ts = 50_000u32;
    for key in [1u8, 1, 11] {
        datagrams.push(event(seq, ts, true, key, false, 0));
        seq += 1;
        for d in [400u16, 800] {
            datagrams.push(event(seq, ts, false, key, false, d));
            seq += 1;
        }
        for _ in 0..3 {
            datagrams.push(event(seq, ts, false, key, true, 1000));
        }
        seq += 1;
        let mut audio = [0u8; 200];
        let len =
            rtp::write_packet(&mut audio, 0, false, seq, ts + 1000, 0xABCD, &[0xFF; 160]).unwrap();
        datagrams.push(audio[..len].to_vec());
        seq += 1;
        ts += 1600;
    }
    // All at once: the timestamps tell the events apart, not the arrival times.
    let keys: String = datagrams
        .iter()
        .filter_map(|d| receiver.push(&rtp::parse(d).unwrap(), t0))
        .collect();
    assert_eq!(keys, "11#");
}

#[test]
fn a_long_press_in_several_segments_is_one_key() {
    // RFC 4733 §2.5.1.3: past 65535 units the event goes on with a new timestamp, no marker.
    let t0 = Instant::now();
    let mut receiver = Rfc4733Receiver::new(101);
    let packets = [
        event(1, 10_000, true, 5, false, 0),
        event(2, 10_000, false, 5, false, 65_535),
        event(3, 75_535, false, 5, false, 8_000),
        event(4, 75_535, false, 5, true, 16_000),
        event(4, 75_535, false, 5, true, 16_000),
    ];
    let keys: String = packets
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            receiver.push(
                &rtp::parse(d).unwrap(),
                t0 + Duration::from_secs(i as u64 * 4),
            )
        })
        .collect();
    assert_eq!(keys, "5");
}

#[test]
fn other_payload_types_and_malformed_events_are_ignored() {
    let t0 = Instant::now();
    let mut receiver = Rfc4733Receiver::new(96);
    // Right shape, wrong payload type (101 is not ours here).
    assert_eq!(
        receiver.push(&rtp::parse(&event(1, 1, true, 3, false, 0)).unwrap(), t0),
        None
    );
    let packet = |payload: &'static [u8]| Packet {
        payload_type: 96,
        marker: true,
        sequence: 1,
        timestamp: 99,
        ssrc: 1,
        payload,
    };
    assert_eq!(receiver.push(&packet(&[]), t0), None);
    assert_eq!(receiver.push(&packet(&[3, 0x0A, 0]), t0), None, "3 bytes");
    assert_eq!(
        receiver.push(&packet(&[16, 0x0A, 0, 0]), t0),
        None,
        "flash is not a key"
    );
    assert_eq!(receiver.push(&packet(&[15, 0x0A, 0, 0]), t0), Some('D'));
}

#[test]
fn key_codes() {
    assert_eq!(dtmf::event_to_digit(10), Some('*'));
    assert_eq!(dtmf::event_to_digit(11), Some('#'));
    assert_eq!(dtmf::event_to_digit(12), Some('A'));
    assert_eq!(dtmf::event_to_digit(16), None);
    for key in "0123456789*#ABCD".chars() {
        let code = dtmf::digit_to_event(key).unwrap();
        assert_eq!(dtmf::event_to_digit(code), Some(key));
    }
}

// ---- SIP INFO ----

#[test]
fn info_dtmf_relay_bodies() {
    let parsed = parse_info_body("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n");
    assert_eq!(
        parsed,
        Ok(InfoDigit {
            digit: '5',
            duration_ms: Some(160)
        })
    );
    assert_eq!(
        parse_info_body(
            "Application/DTMF-Relay; charset=utf-8",
            b"signal= #\nduration = 250"
        ),
        Ok(InfoDigit {
            digit: '#',
            duration_ms: Some(250)
        })
    );
    assert_eq!(
        parse_info_body("application/dtmf-relay", b"Signal=*").map(|d| (d.digit, d.duration_ms)),
        Ok(('*', None))
    );
    assert_eq!(
        parse_info_body("application/dtmf-relay", b"Signal=11\r\nDuration=100").map(|d| d.digit),
        Ok('#'),
        "RFC 4733 event number"
    );
    assert_eq!(
        parse_info_body("application/dtmf-relay", b"Signal=b").map(|d| d.digit),
        Ok('B')
    );
}

#[test]
fn info_dtmf_bodies() {
    assert_eq!(
        parse_info_body("application/dtmf", b"5").map(|d| d.digit),
        Ok('5')
    );
    assert_eq!(
        parse_info_body("application/dtmf", b" 0\r\n").map(|d| d.digit),
        Ok('0')
    );
    assert_eq!(
        parse_info_body("application/dtmf", b"10").map(|d| d.digit),
        Ok('*')
    );
}

#[test]
fn info_bodies_without_a_key() {
    assert_eq!(
        parse_info_body("application/dtmf-relay", b"Duration=160"),
        Err(InfoError::NoSignal)
    );
    assert_eq!(
        parse_info_body("application/dtmf-relay", b"Signal=x"),
        Err(InfoError::InvalidSignal("x".to_string()))
    );
    assert_eq!(
        parse_info_body("application/dtmf-relay", b"Signal=99"),
        Err(InfoError::InvalidSignal("99".to_string()))
    );
    assert_eq!(
        parse_info_body("application/dtmf", b""),
        Err(InfoError::InvalidSignal(String::new()))
    );
    assert_eq!(
        parse_info_body("application/dtmf", &[0xFF, 0xFE]),
        Err(InfoError::NotText)
    );
    assert_eq!(
        parse_info_body("application/sdp", b"v=0"),
        Err(InfoError::UnsupportedContentType(
            "application/sdp".to_string()
        ))
    );
}

// ---- In-band ----

const ALL_KEYS: &str = "123A456B789C*0#D";

#[test]
fn every_key_is_detected_once() {
    for key in ALL_KEYS.chars() {
        let mut pcm = Vec::new();
        push_silence(&mut pcm, 30);
        push_key(&mut pcm, key, 6000.0, 100);
        push_silence(&mut pcm, 60);
        assert_eq!(detect_all(&pcm), key.to_string(), "{key}");
    }
}

#[test]
fn a_dialled_sequence_in_pieces_of_20ms() {
    // 60 ms tones, 50 ms pauses; fed as RTP would bring it, 160 samples at a time.
    let number = "0755123456*#";
    let mut pcm = Vec::new();
    for key in number.chars() {
        push_key(&mut pcm, key, 5000.0, 60);
        push_silence(&mut pcm, 50);
    }
    let mut detector = InbandDetector::default();
    let mut keys = Vec::new();
    for chunk in pcm.chunks(160) {
        detector.push(chunk, &mut keys);
    }
    assert_eq!(keys.into_iter().collect::<String>(), number);
}

#[test]
fn minimum_tone_and_pause_durations() {
    // 40 ms tones with 40 ms pauses (the shortest ITU-T Q.24 asks receivers to take), at every
    // offset against the detector's blocks.
    for offset in (0..102).step_by(17) {
        let mut pcm = vec![0i16; offset];
        for key in "5551".chars() {
            push_key(&mut pcm, key, 4000.0, 40);
            push_silence(&mut pcm, 40);
        }
        assert_eq!(detect_all(&pcm), "5551", "offset {offset}");
    }
    // A 20 ms blip is not a key.
    let mut pcm = Vec::new();
    push_silence(&mut pcm, 20);
    push_key(&mut pcm, '5', 8000.0, 20);
    push_silence(&mut pcm, 100);
    assert_eq!(detect_all(&pcm), "");
}

#[test]
fn a_long_press_is_one_key() {
    let mut pcm = Vec::new();
    push_key(&mut pcm, '9', 5000.0, 2000);
    assert_eq!(detect_all(&pcm), "9");
}

#[test]
fn levels_and_twist() {
    let press = |row_amp: f64, col_amp: f64| {
        let mut pcm = Vec::new();
        push_tones(&mut pcm, &[(770.0, row_amp), (1336.0, col_amp)], 80);
        push_silence(&mut pcm, 50);
        detect_all(&pcm)
    };
    assert_eq!(press(2000.0, 2000.0), "5");
    assert_eq!(press(600.0, 600.0), "5", "-35 dBFS per tone");
    assert_eq!(press(100.0, 100.0), "", "too faint");
    // Row 6 dB above column: accepted (normal twist ≤ 8 dB); 10 dB: refused.
    assert_eq!(press(4000.0, 2000.0), "5");
    assert_eq!(press(6300.0, 2000.0), "");
    // Column 3 dB above row: accepted (reverse twist ≤ 4 dB); 6 dB: refused.
    assert_eq!(press(2000.0, 2800.0), "5");
    assert_eq!(press(2000.0, 4000.0), "");
}

#[test]
fn non_dtmf_audio_is_not_keys() {
    // A single tone, a dial tone (350 + 440 Hz), an Italian dial tone (425 Hz), a chord near
    // DTMF frequencies, and noise.
    let cases: [&[(f64, f64)]; 5] = [
        &[(697.0, 8000.0)],
        &[(350.0, 6000.0), (440.0, 6000.0)],
        &[(425.0, 8000.0)],
        &[
            (697.0, 4000.0),
            (1209.0, 4000.0),
            (2000.0, 6000.0),
            (300.0, 6000.0),
        ],
        &[],
    ];
    for tones in cases {
        let mut pcm = Vec::new();
        push_tones(&mut pcm, tones, 500);
        assert_eq!(detect_all(&pcm), "", "{tones:?}");
    }
    let mut state = 12345u32;
    let noise: Vec<i16> = (0..8000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((state >> 16) as i16) / 3
        })
        .collect();
    assert_eq!(detect_all(&noise), "");
    // Two keys at once (row and column both doubled) are not a key.
    let mut pcm = Vec::new();
    push_tones(
        &mut pcm,
        &[
            (697.0, 3000.0),
            (770.0, 3000.0),
            (1209.0, 3000.0),
            (1336.0, 3000.0),
        ],
        200,
    );
    assert_eq!(detect_all(&pcm), "");
}

#[test]
fn keys_survive_g711_and_low_level_noise() {
    let number = "31#";
    let mut pcm = Vec::new();
    for key in number.chars() {
        push_key(&mut pcm, key, 3000.0, 70);
        push_silence(&mut pcm, 70);
    }
    let mut state = 7u32;
    for s in &mut pcm {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *s = s.saturating_add(((state >> 16) as i16) / 200);
    }
    for codec in Codec::ALL {
        let through = codec.decode_to_vec(&codec.encode_to_vec(&pcm));
        assert_eq!(detect_all(&through), number, "{codec}");
    }
}

#[test]
fn stricter_config_refuses_what_default_takes() {
    let mut pcm = Vec::new();
    push_key(&mut pcm, '4', 1000.0, 60);
    push_silence(&mut pcm, 60);
    let mut strict = InbandDetector::new(InbandConfig {
        min_amplitude: 2000.0,
        ..InbandConfig::default()
    });
    let mut keys = Vec::new();
    strict.push(&pcm, &mut keys);
    assert!(keys.is_empty());
    assert_eq!(detect_all(&pcm), "4");
}

fn sox(args: &[&str]) -> bool {
    Command::new("sox")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn sox_made_tones_are_detected() {
    if !media_support::have_program("sox") {
        eprintln!("note: sox not installed (apt-get install sox); in-band WAV test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let number = "1593*0#";
    let mut parts = Vec::new();
    for (i, key) in number.chars().enumerate() {
        let (row, col) = media_support::dtmf_freqs(key);
        let tone = dir.path().join(format!("k{i}.wav"));
        let tone_s = tone.to_str().unwrap();
        // The brief's recipe: two sines mixed into one 8 kHz channel, 100 ms.
        assert!(sox(&[
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            tone_s,
            "synth",
            "0.1",
            "sine",
            &row.to_string(),
            "sine",
            &col.to_string(),
        ]));
        let gap = dir.path().join(format!("g{i}.wav"));
        assert!(sox(&[
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            gap.to_str().unwrap(),
            "trim",
            "0",
            "0.08"
        ]));
        parts.push(tone);
        parts.push(gap);
    }
    let all = dir.path().join("number.wav");
    let mut args: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
    args.push(all.to_str().unwrap());
    assert!(sox(&args));

    let pcm = load_pcm(&all, 60).unwrap();
    assert_eq!(pcm.len(), 7 * 1440, "7 × 180 ms at 8 kHz");
    assert_eq!(detect_all(&pcm), number);

    // The same at 44.1 kHz stereo -3 dB, resampled on load like a prompt.
    let hifi = dir.path().join("number-44k.wav");
    assert!(sox(&[
        all.to_str().unwrap(),
        "-r",
        "44100",
        "-c",
        "2",
        hifi.to_str().unwrap(),
        "gain",
        "-3",
    ]));
    let pcm = load_pcm(Path::new(&hifi), 60).unwrap();
    assert_eq!(detect_all(&pcm), number);
}
