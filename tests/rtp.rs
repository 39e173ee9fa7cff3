//! `centralino serve` seen from the wire, by a small user agent written here: SIP by hand over a
//! plain `UdpSocket`, RTP in and out on the test's own socket.
//!
//! ```text
//!   test UA                                   centralino serve
//!   ───────                                   ────────────────
//!   INVITE (SDP: PCMU 0, telephone-event 101) ──►
//!                       ◄── 100 / 180 / 200 OK (SDP answer: the server's RTP address)
//!   ACK ──►
//!   receiver thread ◄── RTP every 20 ms ──── prompts (espeak-ng → G.711)
//!   sender thread ──── RTP every 20 ms ──►   silence, sox DTMF tones, RFC 4733 events
//!   stranger socket ── RTP ──►               (must be ignored)
//!                       ◄── BYE;  200 OK ──►
//! ```
//!
//! What is checked: the stream's pacing (packets per elapsed time, median and p95 of the
//! inter-arrival times, printed), its headers (sequence +1, timestamp +160, one SSRC, payload
//! type 0, marker on the first packet only), that its payload *is* the prompt audio, that
//! in-band tones and RFC 4733 events from the caller drive the flow, and that RTP from any other
//! address does not.
//!
//! Every test starts its own server on free ports and stops it by PID, also on failure. The user
//! agent itself (SIP, the talker and receiver threads) is `support::ua`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use centralino_runtime::engine::Media;
use centralino_runtime::media::codec::Codec;
use centralino_runtime::media::dtmf::detect_all;
use centralino_runtime::media::prompt::{
    EncodedPrompt, Frame, PromptCache, PromptCacheConfig, SpeechCommand, load_pcm,
};
use centralino_runtime::media::rtp;
use centralino_runtime::media::{FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};
use support::ua::{Answer, Arrival, Caller, EVENT_PT, FRAME, RtpWriter, audio_slots, event_slots};
use support::{Server, test_flows};

/// The DTMF tone of `key` (100 ms on, then 100 ms of silence) as 8 kHz PCM: a WAV made by sox
/// and decoded by the server's own prompt decoder; synthesized here only when sox is missing.
fn dtmf_tone(key: char, dir: &Path) -> Vec<i16> {
    let (low, high) = match key {
        '1' => (697.0, 1209.0),
        '2' => (697.0, 1336.0),
        '5' => (770.0, 1336.0),
        '#' => (941.0, 1477.0),
        other => panic!("no tone table entry for {other}"),
    };
    let wav = dir.join(format!("dtmf-{}.wav", u32::from(key)));
    let made = Command::new("sox")
        .args([
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
        ])
        .arg(&wav)
        .args(["synth", "0.1", "sine", &format!("{low}"), "sine", "mix"])
        .arg(format!("{high}"))
        .args(["gain", "-6", "pad", "0", "0.1"])
        .status();
    let mut pcm = match made {
        Ok(status) if status.success() => load_pcm(&wav, 10).unwrap(),
        _ => {
            eprintln!("note: sox is not installed; the DTMF tone is synthesized in the test");
            (0..800)
                .map(|n| {
                    let t = f64::from(n) / f64::from(SAMPLE_RATE);
                    let s = (2.0 * std::f64::consts::PI * low * t).sin()
                        + (2.0 * std::f64::consts::PI * high * t).sin();
                    (s * 6000.0) as i16
                })
                .chain(std::iter::repeat_n(0, 800))
                .collect()
        }
    };
    pcm.resize(1600, 0);
    // The tone must be a key press for the server's own detector before it goes on the wire.
    assert_eq!(detect_all(&pcm), key.to_string(), "the tone of {key}");
    pcm
}

/// The figures of one received stream.
#[derive(Debug)]
struct StreamReport {
    packets: usize,
    /// Packets the elapsed time (first to last arrival) calls for at one per 20 ms.
    expected: usize,
    median_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    /// Timestamp jumps of more than one frame (frames the server's pacer skipped after a stall).
    skipped_frames: u64,
    /// The PCMU payloads, in order.
    frames: Vec<Vec<u8>>,
}

/// Checks the RTP headers of the server's stream and measures its pacing.
fn check_stream(arrivals: &[Arrival], answer: &Answer) -> StreamReport {
    assert!(arrivals.len() > 50, "too little RTP: {}", arrivals.len());
    for a in arrivals {
        // Symmetric RTP: the server sends from the address its SDP answer gave.
        assert_eq!(a.from, answer.rtp, "RTP from an unexpected address");
    }
    let packets: Vec<rtp::Packet<'_>> = arrivals
        .iter()
        .map(|a| rtp::parse(&a.bytes).unwrap())
        .collect();
    let first = packets[0];
    assert!(first.marker, "the first packet carries the marker bit");
    let mut skipped_frames = 0u64;
    for (i, pair) in packets.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!(b.ssrc, first.ssrc, "one SSRC (packet {})", i + 1);
        assert_eq!(b.payload_type, 0, "PCMU (packet {})", i + 1);
        assert!(!b.marker, "marker bit on packet {} (only the first)", i + 1);
        assert_eq!(
            b.sequence,
            a.sequence.wrapping_add(1),
            "sequence numbers are continuous (packet {})",
            i + 1
        );
        let step = b.timestamp.wrapping_sub(a.timestamp);
        // +160 per packet. The pacer may skip frames after a stall of more than 60 ms (the
        // timestamp then jumps by whole frames and the sequence does not): allowed, counted,
        // and bounded below.
        assert!(
            step >= 160 && step % 160 == 0 && step <= 160 * 200,
            "timestamp step {step} at packet {}",
            i + 1
        );
        skipped_frames += u64::from(step / 160 - 1);
    }
    assert_eq!(first.payload_type, answer.payload_type);
    for p in &packets {
        assert_eq!(p.payload.len(), FRAME_SAMPLES, "20 ms of G.711 per packet");
    }
    let mut gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at).as_secs_f64() * 1000.0)
        .collect();
    // The stream starts on its own 20 ms grid: no burst of frames "due" since the INVITE.
    let opening = &gaps[..5];
    eprintln!("RTP from the server: the first inter-arrival gaps (ms): {opening:.2?}");
    assert!(
        opening.iter().all(|&gap| gap > 5.0),
        "the stream opens with a burst: {opening:.2?} ms"
    );
    gaps.sort_by(f64::total_cmp);
    let quantile = |q: f64| gaps[((gaps.len() - 1) as f64 * q).round() as usize];
    let elapsed = arrivals
        .last()
        .unwrap()
        .at
        .duration_since(arrivals[0].at)
        .as_secs_f64();
    let report = StreamReport {
        packets: packets.len(),
        expected: (elapsed * 1000.0 / f64::from(FRAME_MS)).round() as usize + 1,
        median_ms: quantile(0.5),
        p95_ms: quantile(0.95),
        max_ms: *gaps.last().unwrap(),
        skipped_frames,
        frames: packets.iter().map(|p| p.payload.to_vec()).collect(),
    };
    eprintln!(
        "RTP from the server: {} packets over {:.3} s (expected {} at 20 ms), inter-arrival \
         median {:.2} ms, p95 {:.2} ms, max {:.2} ms, frames skipped by the pacer: {}",
        report.packets,
        elapsed,
        report.expected,
        report.median_ms,
        report.p95_ms,
        report.max_ms,
        report.skipped_frames
    );
    assert!(
        report.packets.abs_diff(report.expected) <= 3 + report.expected / 200,
        "packet count {} for {:.3} s: expected {} ± {}",
        report.packets,
        elapsed,
        report.expected,
        3 + report.expected / 200
    );
    assert!(
        (18.0..=22.0).contains(&report.median_ms),
        "median inter-arrival {:.2} ms",
        report.median_ms
    );
    assert!(
        report.p95_ms < 30.0,
        "p95 inter-arrival {:.2} ms",
        report.p95_ms
    );
    assert!(
        report.skipped_frames <= 2 + report.packets as u64 / 100,
        "the pacer skipped {} frames",
        report.skipped_frames
    );
    report
}

/// A text prompt rendered the way the server renders it: the same `PromptCache` pipeline
/// (espeak-ng, voice `it`, decode, resample to 8 kHz, G.711), with its own speech directory.
fn render(text: &str) -> Arc<EncodedPrompt> {
    let dir = tempfile::tempdir().unwrap();
    let defaults = PromptCacheConfig::default();
    let cache = PromptCache::new(PromptCacheConfig {
        speech: SpeechCommand {
            dir: dir.path().join("speech"),
            ..defaults.speech.clone()
        },
        ..defaults
    });
    cache
        .get_or_load(&Media::Speech {
            text: text.to_owned(),
            language: String::from("it"),
        })
        .unwrap_or_else(|e| panic!("cannot render {text:?} (is espeak-ng installed?): {e}"))
}

fn is_silence(frame: &[u8]) -> bool {
    // μ-law has two zeros: 0xFF (+0) and 0x7F (−0).
    frame.iter().all(|&b| b == 0xFF || b == 0x7F)
}

/// Where the prompt plays in the received frames: the index of its first non-silent frame.
///
/// The comparison is byte-for-byte, not a correlation: the server sends the prompt's
/// pre-encoded 20 ms frames as they are, one per packet, and the test renders the same text
/// with the same deterministic pipeline (espeak-ng's output does not vary from run to run, the
/// resampler and the G.711 tables are pure), so any difference is a real fault (a lost,
/// repeated, reordered or re-encoded frame). The prompt's leading silent frames are skipped:
/// they cannot be told from the silence the server sends while a prompt is loading.
fn find_prompt(received: &[Vec<u8>], prompt: &EncodedPrompt, name: &str) -> usize {
    let frames: &[Frame] = prompt.frames(Codec::Pcmu);
    let start = frames
        .iter()
        .position(|f| !is_silence(f))
        .unwrap_or_else(|| panic!("the rendered {name} is all silence"));
    let wanted = &frames[start..];
    let mut best = (0usize, 0usize);
    for (at, _) in received
        .iter()
        .enumerate()
        .filter(|(_, f)| f.as_slice() == wanted[0].as_slice())
    {
        let matching = wanted
            .iter()
            .zip(&received[at..])
            .take_while(|(w, r)| w.as_slice() == r.as_slice())
            .count();
        if matching == wanted.len() {
            eprintln!(
                "{name}: all {} non-silent frames found byte-for-byte from received frame {at}",
                wanted.len()
            );
            return at;
        }
        best = best.max((matching, at));
    }
    panic!(
        "{name} ({} frames) is not in the received audio; best run: {} frames from frame {}",
        wanted.len(),
        best.0,
        best.1
    );
}

/// Waits for the server's BYE (answered), then stops the caller's media threads; returns what
/// arrived and how many packets the caller sent.
fn hang_up_after_bye(caller: &mut Caller, limit: Duration, server: &Server) -> (Vec<Arrival>, u64) {
    caller
        .finish_after_bye(limit)
        .unwrap_or_else(|| panic!("no BYE from the server within {limit:?}:\n{}", server.log()))
}

fn have_tools() -> bool {
    let espeak = Command::new("espeak-ng").arg("--version").output().is_ok();
    if !espeak {
        eprintln!("espeak-ng is not installed: the RTP tests cannot compare prompts; not run");
    }
    espeak
}

// ------------------------------------------------------------------ the tests

/// The welcome prompt arrives as a well-formed, 20 ms-paced PCMU stream carrying exactly the
/// prompt's audio; key 1 sent as in-band tones (a sox WAV, as RTP) opens a ticket, which is read
/// back before the server hangs up.
#[test]
fn prompt_audio_is_paced_and_inband_tones_drive_the_menu() {
    if !have_tools() {
        return;
    }
    // This caller offers telephone-event but sends its key as tones: listened to with
    // `always` (the default, `auto`, listens for tones only without telephone-event).
    let mut server = Server::start(&test_flows(), &["--inband-dtmf", "always"]);
    let tones = tempfile::tempdir().unwrap();
    let one = dtmf_tone('1', tones.path());
    let mut caller = Caller::call(server.addr(), "100");
    eprintln!("the INVITE got {:?}", caller.statuses);
    assert_eq!(caller.statuses.last(), Some(&200));
    assert!(
        caller.statuses.contains(&100) && caller.statuses.contains(&180),
        "trying and ringing before the answer: {:?}",
        caller.statuses
    );
    assert_eq!(caller.answer.payload_type, 0, "PCMU was offered first");
    assert_eq!(caller.answer.event_payload_type, Some(EVENT_PT));
    let rtp_local = caller.rtp.local_addr().unwrap();
    assert_ne!(caller.answer.rtp, rtp_local);

    // "Benvenuto." (about 1 s), then the menu: press 1 while it plays (barge-in).
    std::thread::sleep(Duration::from_millis(2500));
    caller.talker().say(audio_slots(&one));
    let (arrivals, sent) = hang_up_after_bye(&mut caller, Duration::from_secs(20), &server);
    eprintln!("the caller sent {sent} packets (silence and the tone of 1)");
    let report = check_stream(&arrivals, &caller.answer);

    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let tickets = server.tickets();
    assert_eq!(
        tickets.len(),
        1,
        "one ticket: {tickets:?}\n{}",
        server.log()
    );
    assert_eq!(tickets[0]["category"], "prova");
    let reference = tickets[0]["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("PG-"), "{tickets:?}");

    let welcome = find_prompt(&report.frames, &render("Benvenuto."), "Benvenuto.");
    let read_back_text = format!("Segnalazione {reference}.");
    let read_back = find_prompt(&report.frames, &render(&read_back_text), &read_back_text);
    assert!(
        welcome < read_back,
        "the welcome plays before the read-back"
    );
}

/// Key 1 from a stranger's address (in-band tones and RFC 4733 events, to the server's RTP
/// port) is ignored; key 2 as RFC 4733 events from the caller takes the message path: the long
/// message plays, then goodbye, and no ticket is opened. The server rings 45 ms before it
/// answers, as a far caller's round trip would delay the ACK: the stream must still open on its
/// 20 ms grid (it once sent the frames "due" since the INVITE back to back).
#[test]
fn rfc4733_events_work_and_rtp_from_a_stranger_is_ignored() {
    if !have_tools() {
        return;
    }
    let mut server = Server::start(&test_flows(), &["--answer-after-ms", "45"]);
    let tones = tempfile::tempdir().unwrap();
    let one = dtmf_tone('1', tones.path());
    let mut caller = Caller::call(server.addr(), "100");
    std::thread::sleep(Duration::from_millis(2000));

    // The stranger: another socket, its own SSRC, key 1 twice over, while the menu plays.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut writer = RtpWriter::new(0x0bad_0bad);
    let mut slots = audio_slots(&one);
    slots.extend(event_slots(1, 100));
    for slot in &slots {
        stranger
            .send_to(&writer.packet(slot), caller.answer.rtp)
            .unwrap();
        std::thread::sleep(FRAME);
    }
    std::thread::sleep(Duration::from_millis(800));
    caller.talker().say(event_slots(2, 100));

    let (arrivals, _) = hang_up_after_bye(&mut caller, Duration::from_secs(30), &server);
    let report = check_stream(&arrivals, &caller.answer);
    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let tickets = server.tickets();
    assert!(
        tickets.is_empty(),
        "the stranger's key 1 opened a ticket: {tickets:?}"
    );
    let message = find_prompt(
        &report.frames,
        &render(
            "Questo è un messaggio lungo che dura parecchi secondi, così il chiamante può \
             riattaccare mentre lo ascolta, prima della fine.",
        ),
        "the long message",
    );
    let goodbye = find_prompt(&report.frames, &render("Arrivederci."), "Arrivederci.");
    assert!(message < goodbye);
}

/// Issue 5: reloading the flows (ten publishes while the caller listens to a long message)
/// does not disturb the pacing of the call in progress, which also keeps its version.
#[test]
fn pacing_holds_while_the_flows_are_reloaded() {
    if !have_tools() {
        return;
    }
    let flows = tempfile::tempdir().unwrap();
    let file = flows.path().join("main.flow");
    let original = std::fs::read_to_string(test_flows().join("main.flow")).unwrap();
    std::fs::write(&file, &original).unwrap();
    let server = Server::start(flows.path(), &[]);
    server.wait_for("watching the flows", Duration::from_secs(10));
    let mut caller = Caller::call(server.addr(), "100");
    assert_eq!(caller.statuses.last(), Some(&200));
    // Key 2: the long message (several seconds), then goodbye.
    std::thread::sleep(Duration::from_millis(2500));
    caller.talker().say(event_slots(2, 100));
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..10 {
        let edited = original.replace("Arrivederci.", &format!("Arrivederci ({i})."));
        std::fs::write(&file, edited).unwrap();
        std::thread::sleep(Duration::from_millis(250));
    }
    let (arrivals, _) = hang_up_after_bye(&mut caller, Duration::from_secs(30), &server);
    let publishes = server.log().matches("published").count();
    eprintln!("{publishes} versions published during the call");
    assert!(
        publishes >= 5,
        "the edits were published:\n{}",
        server.log()
    );
    // check_stream asserts the pacing (median 18-22 ms, p95 < 30 ms, no burst of skips).
    let report = check_stream(&arrivals, &caller.answer);
    // The call kept its version: it says the original goodbye, not an edited one.
    find_prompt(&report.frames, &render("Arrivederci."), "Arrivederci.");
}
