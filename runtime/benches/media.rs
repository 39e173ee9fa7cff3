//! Media micro-benchmarks: prompt loading (decode + resample + G.711 encode) per second of audio,
//! and the per-packet cost of RTP header writing, parsing and pacing. Prints medians; asserts
//! nothing. Run: `cargo bench -p centralino-runtime --bench media`.
#![allow(clippy::unwrap_used)] // A benchmark that cannot set up may panic.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use centralino_runtime::media::codec::Codec;
use centralino_runtime::media::dtmf::InbandDetector;
use centralino_runtime::media::prompt::{
    EncodedPrompt, decode_file, load_pcm, resample, to_telephone_pcm,
};
use centralino_runtime::media::rtp::{self, Pacer, RtpStream};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs `f` `rounds` times and returns the median duration of one run.
fn measure(rounds: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn write_wav(path: &Path, rate: u32, channels: u16, seconds: u32) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..rate * seconds {
        let t = f64::from(i) / f64::from(rate);
        let v = (2.0 * std::f64::consts::PI * 440.0 * t).sin() * 0.3
            + (2.0 * std::f64::consts::PI * 1234.0 * t).sin() * 0.2;
        for _ in 0..channels {
            writer.write_sample((v * 32767.0) as i16).unwrap();
        }
    }
    writer.finalize().unwrap();
}

fn prompt_loading() {
    let dir = tempfile::tempdir().unwrap();
    let seconds = 10;
    println!(
        "prompt load: decode + mono + resample to 8 kHz + encode PCMU and PCMA ({seconds} s files, median of 9)"
    );
    for (rate, channels, label) in [
        (8000, 1, "8 kHz mono wav (no resampling)"),
        (22050, 1, "22.05 kHz mono wav (espeak-ng's output)"),
        (44100, 2, "44.1 kHz stereo wav"),
        (48000, 1, "48 kHz mono wav"),
    ] {
        let path = dir.path().join(format!("{rate}-{channels}.wav"));
        write_wav(&path, rate, channels, seconds);
        let full = measure(9, || {
            let pcm = load_pcm(&path, 600).unwrap();
            black_box(EncodedPrompt::from_pcm(&pcm));
        });
        let decode = measure(9, || {
            black_box(decode_file(&path, 600).unwrap());
        });
        let decoded = decode_file(&path, 600).unwrap();
        let resampling = measure(9, || {
            black_box(resample(&decoded.samples, rate, 8000).unwrap());
        });
        let pcm = to_telephone_pcm(&decoded, &path).unwrap();
        let encode = measure(9, || {
            black_box(EncodedPrompt::from_pcm(&pcm));
        });
        let per_second = full / seconds;
        println!(
            "  {label:42} {:>7.2} ms per audio second ({:>5.0}x real time); decode {:.2}, resample {:.2}, encode {:.2} ms/s",
            per_second.as_secs_f64() * 1e3,
            1.0 / per_second.as_secs_f64(),
            (decode / seconds).as_secs_f64() * 1e3,
            (resampling / seconds).as_secs_f64() * 1e3,
            (encode / seconds).as_secs_f64() * 1e3,
        );
    }
}

/// Median time of one operation over `batches` batches of `per_batch`.
fn per_op(batches: usize, per_batch: u32, mut f: impl FnMut()) -> Duration {
    measure(batches, || {
        for _ in 0..per_batch {
            f();
        }
    }) / per_batch
}

fn packets() {
    const N: u32 = 200_000;
    println!("per packet (median of 15 batches of {N}):");
    let frame = [0xD5u8; 160];
    let mut buf = [0u8; 1500];

    let mut stream = RtpStream::new(8, 0x1234_5678, 0, 0);
    let write = per_op(15, N, || {
        let len = stream.next_packet(black_box(&frame), &mut buf).unwrap();
        black_box(&buf[..len]);
    });
    println!(
        "  RtpStream::next_packet (rtp-types, header + 160-byte copy): {:>6.1} ns",
        write.as_secs_f64() * 1e9
    );

    // For comparison: the 12 header bytes and the copy written by hand.
    let (mut seq, mut ts) = (0u16, 0u32);
    let by_hand = per_op(15, N, || {
        buf[0] = 0x80;
        buf[1] = 8;
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        buf[4..8].copy_from_slice(&ts.to_be_bytes());
        buf[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        buf[12..172].copy_from_slice(black_box(&frame));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        black_box(&buf[..172]);
    });
    println!(
        "  the same written by hand (reference):                       {:>6.1} ns",
        by_hand.as_secs_f64() * 1e9
    );

    let len = RtpStream::new(8, 1, 0, 0)
        .next_packet(&frame, &mut buf)
        .unwrap();
    let datagram = buf[..len].to_vec();
    let parse = per_op(15, N, || {
        black_box(rtp::parse(black_box(&datagram)).unwrap());
    });
    println!(
        "  rtp::parse (validate + borrow payload):                     {:>6.1} ns",
        parse.as_secs_f64() * 1e9
    );

    let anchor = Instant::now();
    let mut pacer = Pacer::new(anchor);
    let mut tick = 0u64;
    let poll = per_op(15, N, || {
        tick += 1;
        black_box(pacer.poll(anchor + Duration::from_micros(tick * 1000)));
    });
    println!(
        "  Pacer::poll (1 ms ticks):                                   {:>6.1} ns",
        poll.as_secs_f64() * 1e9
    );

    let mut pcm = [0i16; 160];
    let decode = per_op(15, N, || {
        black_box(Codec::Pcma.decode(black_box(&frame), &mut pcm));
    });
    println!(
        "  G.711 decode of one 20 ms frame:                            {:>6.1} ns",
        decode.as_secs_f64() * 1e9
    );

    let mut detector = InbandDetector::default();
    let mut keys = Vec::new();
    let inband = per_op(15, N / 20, || {
        detector.push(black_box(&pcm), &mut keys);
    });
    println!(
        "  in-band DTMF detector, one 20 ms frame:                     {:>6.1} ns",
        inband.as_secs_f64() * 1e9
    );
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments (filters) are ignored.
    prompt_loading();
    packets();
}
