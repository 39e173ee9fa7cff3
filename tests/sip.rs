//! `centralino serve` against a real SIP client (sipp): calls, DTMF, CANCEL, 404, 488,
//! re-INVITE, SIP INFO, hang-ups, and the malformed-message corpora.
//!
//! Every test starts its own server on free ports (never 5060) and stops it by
//! PID, also when the test fails. sipp runs in a temporary directory so its logs
//! stay out of the tree. Tests need `sipp` (Debian `sip-tester`, installed by
//! `scripts/test`); without it they say so and pass nothing off as done.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::{Server, centralino, have_sipp, root, stderr, test_flows};

#[test]
fn rfc4733_dtmf_navigates_the_menu_to_a_ticket() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    let call = server.sipp("dtmf_ticket.xml", "100");
    assert!(call.status.success(), "the call must succeed");
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let tickets = server.tickets();
    assert_eq!(tickets.len(), 1, "one ticket: {tickets:?}");
    assert_eq!(tickets[0]["category"], "prova");
    assert!(
        tickets[0]["reference"].as_str().unwrap().starts_with("PG-"),
        "{tickets:?}"
    );
}

#[test]
fn sip_info_dtmf_works_too() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("info_dtmf.xml", "100").status.success());
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success());
    assert_eq!(server.tickets().len(), 1);
}

#[test]
fn unknown_number_gets_404_and_a_bad_codec_488() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("unknown_number.xml", "999").status.success());
    assert!(server.sipp("codec_mismatch.xml", "100").status.success());
    assert!(server.log().contains("no flow answers this number: 404"));
    assert!(server.alive());
}

#[test]
fn cancel_before_answer_gets_487() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &["--answer-after-ms", "3000"]);
    assert!(
        server
            .sipp("cancel_before_answer.xml", "100")
            .status
            .success()
    );
    server.wait_for("caller hung up", Duration::from_secs(10));
    assert!(server.alive());
}

#[test]
fn a_caller_hanging_up_mid_prompt_leaves_the_server_answering() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("hangup_mid_prompt.xml", "100").status.success());
    server.wait_for("caller hung up", Duration::from_secs(10));
    // The next caller is served as usual.
    assert!(server.sipp("dtmf_ticket.xml", "100").status.success());
    assert!(server.alive());
}

#[test]
fn reinvite_puts_the_call_on_hold_and_back() {
    if !have_sipp() {
        return;
    }
    let server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("reinvite_hold.xml", "100").status.success());
    server.wait_for("hold=true", Duration::from_secs(5));
    server.wait_for("hold=false", Duration::from_secs(5));
}

/// Every message of the RFC 4475 torture tests and the PROTOS c07 suite, sent
/// raw: the server must not die, and must still answer a real call afterwards.
#[test]
fn malformed_messages_do_not_hurt_the_server() {
    let corpora = root().join("../shared/corpora/sip");
    if !corpora.exists() || !have_sipp() {
        eprintln!("no ../shared/corpora/sip here: corpus test not run");
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let mut answered_400 = 0;
    for suite in ["rfc4475", "protos-c07-sip"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpora.join(suite))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let bytes = &bytes[..bytes.len().min(65_000)];
            let _ = socket.send_to(bytes, ("127.0.0.1", server.port));
            sent += 1;
            // A breather every 25 messages, so the server's socket buffer does not overflow
            // and every message is really read (and, if malformed, answered).
            if sent % 25 == 0 {
                std::thread::sleep(Duration::from_millis(10));
            }
            // Read what came back so far; never wait long per message.
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 400") {
                    answered_400 += 1;
                }
            }
        }
    }
    socket.set_nonblocking(false).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        if buf[..n].starts_with(b"SIP/2.0 400") {
            answered_400 += 1;
        }
    }
    assert!(sent > 100, "the corpora were read ({sent} messages)");
    assert!(server.alive(), "the server died:\n{}", server.log());
    assert!(!server.log().contains("panicked"), "{}", server.log());
    eprintln!("{sent} malformed or odd messages sent, {answered_400} answered 400");
    // The screen answers about 800 of them 400 (rsipstack alone answered none).
    assert!(answered_400 >= 600, "{answered_400} answered 400");
    assert!(server.sipp("dtmf_ticket.xml", "100").status.success());
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success());
    assert_eq!(server.tickets().len(), 1);
}

/// The "done when": a call to 075 075 075 on the real `flows/`, keys as RFC 4733 (sipp's
/// pcaps), reports a pothole: 2 (segnalazione), 1 (buche), 2 (no street code), a recording
/// ended by #, then 2 to end the call; the server reads the ticket back and hangs up. The
/// timeline is in the scenario. The RTP timeout is raised because sipp sends RTP only while it
/// plays a key (29 s pass before the first).
#[test]
fn perugia_call_reports_a_pothole() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&root().join("flows"), &["--rtp-timeout", "120"]);
    let started = Instant::now();
    let call = server.sipp_within("perugia_ticket.xml", "075075075", 120);
    eprintln!(
        "the Perugia call took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        call.status.success(),
        "the call must succeed:\n{}",
        server.log()
    );
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let tickets = server.tickets();
    assert_eq!(tickets.len(), 1, "one ticket: {tickets:?}");
    let ticket = &tickets[0];
    assert_eq!(ticket["category"], "buche", "{ticket}");
    assert_eq!(ticket["fields"]["via"], "non indicato", "{ticket}");
    assert_eq!(ticket["fields"]["civico"], "non indicato", "{ticket}");
    assert_eq!(ticket["caller"], "3331234567", "{ticket}");
    assert!(
        ticket["reference"].as_str().unwrap().starts_with("PG-"),
        "{ticket}"
    );
    // The description is the recording, ended by the caller's #.
    let recording = ticket["fields"]["descrizione"].as_str().unwrap();
    assert!(
        server.data.path().join(recording).is_file(),
        "the recording {recording} exists"
    );
}

/// With `--max-calls 1`, a second caller is turned away with 503 and Retry-After while the
/// first is on the line; the first call goes on and ends normally.
#[test]
fn max_calls_turns_the_next_caller_away_with_503() {
    if !have_sipp() {
        return;
    }
    let server = Server::start(&test_flows(), &["--max-calls", "1"]);
    std::thread::scope(|scope| {
        let held = scope.spawn(|| server.sipp("hold_call.xml", "100"));
        server.wait_for("call accepted", Duration::from_secs(10));
        let busy = server.sipp("busy_503.xml", "100");
        assert!(
            busy.status.success(),
            "503 with Retry-After:\n{}",
            server.log()
        );
        let held = held.join().unwrap();
        assert!(held.status.success(), "the held call:\n{}", server.log());
    });
    // The line is free again.
    assert!(server.sipp("dtmf_ticket.xml", "100").status.success());
}

/// SIGTERM during a call: new callers get 503, the live call finishes (its BYE is answered),
/// and the server exits 0 as soon as it has ended, long before the 30 s grace period.
#[test]
fn sigterm_lets_the_live_call_finish_then_exits() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &["--grace", "30"]);
    let call_ended = std::thread::scope(|scope| {
        let held = scope.spawn(|| {
            let output = server.sipp("hold_call.xml", "100");
            (output, Instant::now())
        });
        server.wait_for("call accepted", Duration::from_secs(10));
        server.signal("TERM");
        server.wait_for("new calls get 503", Duration::from_secs(5));
        let busy = server.sipp("busy_503.xml", "100");
        assert!(
            busy.status.success(),
            "503 while draining:\n{}",
            server.log()
        );
        let (held, ended) = held.join().unwrap();
        assert!(held.status.success(), "the live call:\n{}", server.log());
        ended
    });
    let status = server
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running after the call ended:\n{}", server.log()));
    assert!(status.success(), "{status}:\n{}", server.log());
    let after = call_ended.elapsed();
    assert!(
        after < Duration::from_secs(5),
        "exited {after:?} after the call"
    );
    assert!(
        !server.log().contains("grace period over"),
        "{}",
        server.log()
    );
}

/// With `--grace 1`, a call still live 1 s after SIGTERM is hung up by the server (sipp
/// answers its BYE) and the server exits 0.
#[test]
fn after_the_grace_period_the_server_hangs_up() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &["--grace", "1"]);
    let signalled = std::thread::scope(|scope| {
        let call = scope.spawn(|| server.sipp("ended_by_server.xml", "100"));
        server.wait_for("call accepted", Duration::from_secs(10));
        server.signal("TERM");
        let signalled = Instant::now();
        let call = call.join().unwrap();
        assert!(call.status.success(), "the server's BYE:\n{}", server.log());
        signalled
    });
    let status = server
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running:\n{}", server.log()));
    assert!(status.success(), "{status}:\n{}", server.log());
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "exited {took:?} after SIGTERM"
    );
    assert!(
        server.log().contains("grace period over"),
        "{}",
        server.log()
    );
}

/// OPTIONS outside a dialog (a keep-alive or capability probe): 200 with Allow.
#[test]
fn options_outside_a_dialog_gets_200_with_allow() {
    if !have_sipp() {
        return;
    }
    let server = Server::start(&test_flows(), &[]);
    let options = server.sipp("options.xml", "100");
    assert!(options.status.success(), "{}", server.log());
}

/// No espeak-ng (here: `tts.program` names a missing file, through the config file): one
/// WARN line at startup, one for the first skipped prompt, and a call still goes through the
/// menu by DTMF to a ticket.
#[test]
fn without_text_to_speech_calls_still_reach_a_ticket() {
    if !have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("centralino.toml");
    let missing = dir.path().join("no-espeak-ng");
    std::fs::write(
        &config,
        format!("[tts]\nprogram = \"{}\"\n", missing.display()),
    )
    .unwrap();
    let mut server = Server::start(&test_flows(), &["--config", config.to_str().unwrap()]);
    let log = server.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("text prompts will be silent"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning:\n{log}");
    assert!(warnings[0].contains("WARN"), "{log}");
    assert!(warnings[0].contains("apt-get install espeak-ng"), "{log}");
    let call = server.sipp("dtmf_ticket.xml", "100");
    assert!(call.status.success(), "{}", server.log());
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success(), "{}", server.log());
    assert_eq!(server.tickets().len(), 1);
    // The call skipped several spoken prompts; the log says so once, not per prompt.
    let log = server.log();
    let skipped = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("prompt skipped"))
        .count();
    assert_eq!(skipped, 1, "one warning for the skipped prompts:\n{log}");
}

/// A configuration the server cannot use stops it before it listens: exit 2, and the
/// message names the file, the line and the key.
#[test]
fn a_bad_config_file_stops_serve_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("centralino.toml");
    std::fs::write(&config, "[rtp]\nports = \"30000-20000\"\n").unwrap();
    let output = centralino(&["serve", "--config", config.to_str().unwrap()]);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("centralino.toml:2:9: `rtp.ports`"),
        "{stderr}"
    );
    assert!(stderr.contains("FIRST < LAST"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A caller who vanishes without a BYE (no RTP any more) is hung up on once the
/// RTP timeout passes, and the call's task ends.
#[test]
fn a_vanished_caller_is_hung_up_after_the_rtp_timeout() {
    if !have_sipp() {
        return;
    }
    let server = Server::start(&test_flows(), &["--rtp-timeout", "2"]);
    let started = Instant::now();
    assert!(server.sipp("silent_caller.xml", "100").status.success());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "not before the timeout ({took:?})"
    );
    server.wait_for("no RTP from the caller", Duration::from_secs(5));
    server.wait_for("call ended", Duration::from_secs(5));
}

/// A caller who takes the 200 OK and never ACKs it: the server retransmits, gives up after
/// 64·T1 (32 s), sends BYE, ends the call and frees its place (`--max-calls 1`: a new
/// call is answered after).
#[test]
fn a_caller_who_never_acks_is_hung_up_and_the_call_slot_freed() {
    if !have_sipp() {
        return;
    }
    let server = Server::start(&test_flows(), &["--max-calls", "1"]);
    let started = Instant::now();
    let call = server.sipp_within("no_ack.xml", "100", 60);
    assert!(call.status.success(), "the server's BYE:\n{}", server.log());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(30),
        "not before 64*T1 ({took:?})"
    );
    server.wait_for("dialog terminated by the SIP stack", Duration::from_secs(5));
    server.wait_for("call ended", Duration::from_secs(5));
    assert_eq!(
        server.lines_with(&["dialog terminated by the SIP stack", "Timeout"]),
        1,
        "{}",
        server.log()
    );
    let next = server.sipp("dtmf_ticket.xml", "100");
    assert!(
        next.status.success(),
        "the place is free:\n{}",
        server.log()
    );
}

/// The server's registry, read through the control socket: a held call is listed with its
/// caller, number, flow state and version while it lasts; afterwards the line is gone and the
/// counters say what happened (one call answered and ended, one refused for its number).
#[test]
fn live_calls_are_listed_while_they_last() {
    if !have_sipp() {
        return;
    }
    let server = Server::start(&test_flows(), &[]);
    let version = server.control(&["status"])["status"]["current"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        server.control(&["calls"])["calls"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    std::thread::scope(|scope| {
        let held = scope.spawn(|| server.sipp("hold_call.xml", "100"));
        server.wait_for("call answered", Duration::from_secs(10));
        // The flow reaches its menu within the welcome prompt.
        let start = Instant::now();
        let listed = loop {
            let answer = server.control(&["calls"]);
            let calls = answer["calls"].as_array().unwrap().clone();
            if calls.len() == 1 && calls[0]["state"] == "menu" {
                break calls[0].clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no live call in the menu: {answer}\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(listed["caller"], "3331234567");
        assert_eq!(listed["number"], "100");
        assert_eq!(listed["flow"], "main");
        assert_eq!(listed["channel"], "sip");
        assert_eq!(listed["answered"], true);
        assert_eq!(listed["version"], version.as_str());
        let legs = listed["legs"].as_array().unwrap();
        assert!(
            legs.len() == 1 && legs[0].as_str().unwrap().ends_with("PCMA"),
            "{legs:?}"
        );
        // The human table says the same.
        let table = centralino(&["calls", "--data", server.data.path().to_str().unwrap()]);
        let text = String::from_utf8_lossy(&table.stdout);
        assert!(text.contains("3331234567 -> 100  main.menu"), "{text}");
        assert!(held.join().unwrap().status.success());
    });
    assert!(server.sipp("unknown_number.xml", "999").status.success());
    server.wait_for("call ended", Duration::from_secs(10));
    let answer = server.control(&["calls"]);
    assert!(answer["calls"].as_array().unwrap().is_empty(), "{answer}");
    let counters = &answer["counters"];
    assert_eq!(counters["accepted"], 1, "{answer}");
    assert_eq!(counters["answered"], 1, "{answer}");
    assert_eq!(counters["ended"], 1, "{answer}");
    assert_eq!(counters["refused_unknown_number"], 1, "{answer}");
}
