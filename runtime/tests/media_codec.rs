//! G.711: code words checked against the ITU-T G.191 reference expansion, round trips, error
//! bounds over every 16-bit input, and the signal-to-noise ratio of a sine.
#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use centralino_runtime::media::codec::Codec;

/// ITU-T G.191 `ulaw_expand`, to 16-bit (the STL's 14-bit result shifted left by 2).
fn g191_ulaw_expand(code: u8) -> i16 {
    let sign: i32 = if code < 0x80 { -1 } else { 1 };
    let mantissa = !i32::from(code);
    let exponent = (mantissa >> 4) & 0x07;
    let segment = exponent + 1;
    let mantissa = mantissa & 0x0F;
    let step = 4 << segment;
    let value = sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33);
    value as i16
}

/// ITU-T G.191 `alaw_expand` (13-bit result, left-justified to 16 bits).
fn g191_alaw_expand(code: u8) -> i16 {
    let ix = i32::from(code ^ 0x55) & 0x7F;
    let exponent = ix >> 4;
    let mut mantissa = ix & 0x0F;
    if exponent > 0 {
        mantissa += 16;
    }
    mantissa = (mantissa << 4) + 0x08;
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    (if code > 127 { mantissa } else { -mantissa }) as i16
}

#[test]
fn decoding_matches_the_g191_reference_for_every_code_word() {
    for code in 0..=255u8 {
        assert_eq!(
            Codec::Pcmu.decode_sample(code),
            g191_ulaw_expand(code),
            "PCMU {code:#04x}"
        );
        assert_eq!(
            Codec::Pcma.decode_sample(code),
            g191_alaw_expand(code),
            "PCMA {code:#04x}"
        );
    }
}

#[test]
fn known_code_words() {
    assert_eq!(Codec::Pcmu.encode_sample(0), 0xFF);
    assert_eq!(Codec::Pcma.encode_sample(0), 0xD5);
    assert_eq!(Codec::Pcmu.encode_sample(i16::MAX), 0x80);
    assert_eq!(Codec::Pcmu.encode_sample(i16::MIN), 0x00);
    assert_eq!(Codec::Pcma.encode_sample(i16::MAX), 0xAA);
    assert_eq!(Codec::Pcma.encode_sample(i16::MIN), 0x2A);
    assert_eq!(Codec::Pcmu.decode_sample(0xFF), 0);
    assert_eq!(Codec::Pcmu.decode_sample(0x80), 32124);
    assert_eq!(Codec::Pcma.decode_sample(0xD5), 8);
    assert_eq!(Codec::Pcma.decode_sample(0xAA), 32256);
    assert_eq!(Codec::Pcmu.silence(), Codec::Pcmu.encode_sample(0));
    assert_eq!(Codec::Pcma.silence(), Codec::Pcma.encode_sample(0));
}

#[test]
fn every_code_word_survives_decode_then_encode() {
    for codec in Codec::ALL {
        for code in 0..=255u8 {
            // μ-law has two zeros (0x7F is "-0", re-encoded as +0 0xFF); audio-codec's A-law
            // encodes -8..-1 as +8 (0xD5), so 0x55 (-8) comes back as 0xD5: 16 units of error
            // at -78 dBFS.
            if (codec, code) == (Codec::Pcmu, 0x7F) || (codec, code) == (Codec::Pcma, 0x55) {
                continue;
            }
            let pcm = codec.decode_sample(code);
            assert_eq!(
                codec.encode_sample(pcm),
                code,
                "{codec} {code:#04x} -> {pcm}"
            );
        }
    }
}

#[test]
fn quantization_error_is_bounded_for_every_input() {
    for codec in Codec::ALL {
        let mut worst_relative = 0.0f64;
        for x in i16::MIN..=i16::MAX {
            let y = codec.decode_sample(codec.encode_sample(x));
            let err = (i32::from(y) - i32::from(x)).abs();
            // Segment step sizes double with the magnitude: the error stays within |x|/16
            // (plus the first segments' fixed step, and the clipping above 32124/32256).
            let bound = i32::from(x).abs() / 16 + 16;
            assert!(err <= bound.max(700), "{codec}: {x} -> {y} (error {err})");
            if i32::from(x).abs() > 256 && i32::from(x).abs() < 32000 {
                worst_relative = worst_relative.max(f64::from(err) / f64::from(x).abs());
            }
            // Monotonic: never reorders samples.
            if x > i16::MIN {
                let prev = codec.decode_sample(codec.encode_sample(x - 1));
                assert!(prev <= y, "{codec}: not monotonic at {x}");
            }
        }
        assert!(
            worst_relative < 0.07,
            "{codec}: worst relative error {worst_relative}"
        );
    }
}

#[test]
fn sine_signal_to_noise_ratio_is_that_of_g711() {
    // A 1 kHz sine at -6 dBFS: G.711 gives about 38 dB of SQNR over a wide range of levels.
    let pcm: Vec<i16> = (0..8000)
        .map(|i| {
            ((i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0 + 0.3).sin() * 16000.0) as i16
        })
        .collect();
    for codec in Codec::ALL {
        let encoded = codec.encode_to_vec(&pcm);
        assert_eq!(encoded.len(), pcm.len());
        let decoded = codec.decode_to_vec(&encoded);
        let signal: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum();
        let noise: f64 = pcm
            .iter()
            .zip(&decoded)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        let snr = 10.0 * (signal / noise).log10();
        assert!((35.0..45.0).contains(&snr), "{codec}: SQNR {snr:.1} dB");
    }
}

#[test]
fn payload_types_follow_rfc_3551() {
    assert_eq!(Codec::Pcmu.payload_type(), 0);
    assert_eq!(Codec::Pcma.payload_type(), 8);
    for codec in Codec::ALL {
        assert_eq!(Codec::from_payload_type(codec.payload_type()), Some(codec));
        assert_eq!(Codec::from_name(codec.name()), Some(codec));
        assert_eq!(codec.to_string(), codec.name());
    }
    for pt in (1..=127u8).filter(|&pt| pt != 8) {
        assert_eq!(Codec::from_payload_type(pt), None);
    }
}
