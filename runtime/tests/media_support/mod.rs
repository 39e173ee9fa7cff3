//! Helpers shared by the media tests: RTP datagrams out of sipp's pcaps, tones, scratch dirs.
#![allow(dead_code)] // Each test file uses a different part.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::PcapReader;

/// Where Debian's sip-tester (sipp) keeps its pcaps.
pub const SIPP_PCAPS: &str = "/usr/share/sip-tester";

/// One UDP payload of a capture and when it was captured (since the epoch).
pub struct Datagram {
    pub at: Duration,
    pub payload: Vec<u8>,
}

/// The UDP payloads of an Ethernet/IPv4 pcap, in capture order (other packets skipped).
pub fn udp_payloads(path: &Path) -> Vec<Datagram> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        let frame = &packet.data[..];
        // Ethernet II: 14 bytes, EtherType 0x0800 (IPv4).
        if frame.len() < 14 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &frame[14..];
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0F) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
        let udp = &ip[ihl..total];
        let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]])).min(udp.len());
        out.push(Datagram {
            at: packet.timestamp,
            payload: udp[8..udp_len].to_vec(),
        });
    }
    out
}

/// The sipp pcap, or `None` (with a note) when sip-tester is not installed.
pub fn sipp_pcap(name: &str) -> Option<PathBuf> {
    let path = Path::new(SIPP_PCAPS).join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "note: {} missing (apt-get install sip-tester); skipped",
            path.display()
        );
        None
    }
}

/// A DTMF key's two frequencies.
pub fn dtmf_freqs(key: char) -> (f64, f64) {
    let rows = [697.0, 770.0, 852.0, 941.0];
    let cols = [1209.0, 1336.0, 1477.0, 1633.0];
    let keys = ["123A", "456B", "789C", "*0#D"];
    for (r, line) in keys.iter().enumerate() {
        if let Some(c) = line.find(key) {
            return (rows[r], cols[c]);
        }
    }
    panic!("not a DTMF key: {key}");
}

/// Appends `ms` of a sum of sines (amplitude each) at 8 kHz to `pcm`, continuing the phase
/// from the sample index.
pub fn push_tones(pcm: &mut Vec<i16>, freqs: &[(f64, f64)], ms: u32) {
    let n = 8 * ms as usize;
    let start = pcm.len();
    for i in start..start + n {
        let t = i as f64 / 8000.0;
        let v: f64 = freqs
            .iter()
            .map(|&(f, a)| a * (2.0 * std::f64::consts::PI * f * t).sin())
            .sum();
        pcm.push(v.round().clamp(-32768.0, 32767.0) as i16);
    }
}

/// Appends `ms` of silence.
pub fn push_silence(pcm: &mut Vec<i16>, ms: u32) {
    pcm.extend(std::iter::repeat_n(0i16, 8 * ms as usize));
}

/// Appends a key press: both tones at `amplitude` for `ms`.
pub fn push_key(pcm: &mut Vec<i16>, key: char, amplitude: f64, ms: u32) {
    let (row, col) = dtmf_freqs(key);
    push_tones(pcm, &[(row, amplitude), (col, amplitude)], ms);
}

/// RMS of PCM.
pub fn rms(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt()
}

/// Goertzel magnitude of `freq` in PCM at 8 kHz, as an amplitude estimate.
pub fn tone_amplitude(pcm: &[i16], freq: f64, rate: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in pcm {
        let s0 = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power.max(0.0).sqrt() / pcm.len() as f64
}

/// True when `program` runs (`program --version` or `-h` succeeds).
pub fn have_program(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}
