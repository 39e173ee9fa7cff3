//! Recordings: exact WAV header bytes, G.711 payloads decoded into the file, the temporary
//! `.part` name, flushing while recording, the length limit, and errors.
#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use centralino_runtime::media::codec::Codec;
use centralino_runtime::media::prompt::load_pcm;
use centralino_runtime::media::wav::{Recorder, WavError, write_wav};

fn tone(samples: usize) -> Vec<i16> {
    (0..samples)
        .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0).sin() * 12000.0) as i16)
        .collect()
}

#[test]
fn header_bytes_are_8khz_16bit_mono_pcm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msg.wav");
    let recording = write_wav(&path, &[1, -1, 256]).unwrap();
    assert_eq!(recording.samples, 3);
    let bytes = std::fs::read(&path).unwrap();
    let mut expected = Vec::new();
    expected.extend_from_slice(b"RIFF");
    expected.extend_from_slice(&(36u32 + 6).to_le_bytes());
    expected.extend_from_slice(b"WAVEfmt ");
    expected.extend_from_slice(&16u32.to_le_bytes());
    expected.extend_from_slice(&1u16.to_le_bytes()); // PCM
    expected.extend_from_slice(&1u16.to_le_bytes()); // mono
    expected.extend_from_slice(&8000u32.to_le_bytes());
    expected.extend_from_slice(&16000u32.to_le_bytes()); // bytes per second
    expected.extend_from_slice(&2u16.to_le_bytes()); // block align
    expected.extend_from_slice(&16u16.to_le_bytes());
    expected.extend_from_slice(b"data");
    expected.extend_from_slice(&6u32.to_le_bytes());
    expected.extend_from_slice(&[0x01, 0x00, 0xFF, 0xFF, 0x00, 0x01]);
    assert_eq!(bytes, expected);
}

#[test]
fn g711_payloads_are_decoded_into_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caller.wav");
    let pcm = tone(8000);
    let mut recorder = Recorder::create(&path).unwrap();
    let mut expected = Vec::new();
    for (i, chunk) in pcm.chunks(160).enumerate() {
        let codec = if i % 2 == 0 { Codec::Pcmu } else { Codec::Pcma };
        let payload = codec.encode_to_vec(chunk);
        expected.extend(codec.decode_to_vec(&payload));
        recorder.write_g711(codec, &payload).unwrap();
    }
    assert!(!path.exists(), "only the .part file exists while recording");
    assert!(dir.path().join("caller.wav.part").exists());
    let recording = recorder.finish().unwrap();
    assert_eq!(recording.samples, 8000);
    assert_eq!(recording.duration_ms, 1000);
    assert_eq!(recording.path, path);
    assert!(!dir.path().join("caller.wav.part").exists());

    let mut reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 8000, 16)
    );
    let read: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(read, expected);
    // And the prompt decoder reads it back the same (an 8 kHz file is not resampled).
    assert_eq!(load_pcm(&path, 60).unwrap(), expected);
}

#[test]
fn flush_makes_the_partial_file_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    let mut recorder = Recorder::create(&path).unwrap();
    recorder.write_pcm(&tone(1600)).unwrap();
    recorder.flush().unwrap();
    let partial = hound::WavReader::open(dir.path().join("long.wav.part")).unwrap();
    assert_eq!(partial.len(), 1600);
    recorder.write_pcm(&tone(800)).unwrap();
    assert_eq!(recorder.finish().unwrap().samples, 2400);
}

#[test]
fn the_length_limit_drops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limited.wav");
    let mut recorder = Recorder::create(&path).unwrap().with_max_ms(100);
    assert!(!recorder.is_full());
    recorder.write_pcm(&tone(500)).unwrap();
    recorder.write_pcm(&tone(500)).unwrap();
    assert!(recorder.is_full());
    assert_eq!(recorder.samples(), 800);
    let recording = recorder.finish().unwrap();
    assert_eq!(recording.duration_ms, 100);
    assert_eq!(hound::WavReader::open(&path).unwrap().len(), 800);
}

#[test]
fn an_unwritable_place_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/msg.wav");
    assert!(matches!(
        Recorder::create(&path),
        Err(WavError::Write { .. })
    ));
}
