//! SledStore crash durability: a writer process killed with SIGKILL loses nothing it reported.
//!
//! The test binary re-runs itself as the writer (`crash_writer`, active only when
//! `CENTRALINO_STORE_WRITER` names a directory). The writer creates tickets,
//! bookings and cancellations and prints each reference only after the durable
//! call returned. The parent kills it at a random moment, reopens the store and
//! checks every printed reference, then starts the next round on the same
//! directory. `CENTRALINO_CRASH_ROUNDS` and `CENTRALINO_CRASH_SEED` override the
//! round count and the random seed (printed on failure).

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use centralino_runtime::store::{
    NewBooking, NewTicket, Resource, SledStore, Slot, Status, Store, StoreConfig,
};
use jiff::{SignedDuration, Timestamp};

const WRITER_ENV: &str = "CENTRALINO_STORE_WRITER";
const DEFAULT_ROUNDS: u64 = 50;

/// Kills and reaps the child however the test ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// xorshift64*: enough randomness for kill delays, and reproducible from the seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn resource() -> Resource {
    Resource::Office("anagrafe".into())
}

fn slots() -> Vec<Slot> {
    let first: Timestamp = "2026-06-03T09:00:00Z".parse().unwrap();
    (0..8)
        .map(|i| Slot {
            start: first
                .checked_add(SignedDuration::from_mins(15 * i))
                .unwrap(),
            duration_ms: 15 * 60 * 1000,
        })
        .collect()
}

/// The writer half. Does nothing in an ordinary test run.
#[test]
fn crash_writer() {
    let Ok(dir) = std::env::var(WRITER_ENV) else {
        return;
    };
    let store = SledStore::open(Path::new(&dir), StoreConfig::default()).unwrap();
    let created: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
    let slots = slots();
    let mut out = std::io::stdout().lock();
    // A newline first: the test harness may have left "test crash_writer ... " unterminated.
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    let mut booked: Vec<String> = Vec::new();
    for i in 0usize.. {
        let ticket = store
            .create_ticket(NewTicket {
                category: "buche".into(),
                title: format!("crash {i}"),
                office: None,
                priority: "normale".into(),
                fields: BTreeMap::from([("i".to_string(), i.to_string())]),
                caller: "+390600000000".into(),
                call_id: format!("call-{i}"),
                created_at: created,
                due_at: None,
            })
            .unwrap();
        writeln!(out, "T {}", ticket.reference).unwrap();
        out.flush().unwrap();

        let mut candidates = slots.clone();
        candidates.rotate_left(i % slots.len());
        let booking = store
            .book(NewBooking {
                resource: resource(),
                candidates,
                capacity: 1_000_000,
                caller: "+390600000000".into(),
                call_id: format!("call-{i}"),
                created_at: created,
            })
            .unwrap()
            .unwrap();
        writeln!(out, "B {}", booking.reference).unwrap();
        out.flush().unwrap();
        booked.push(booking.reference);

        if i % 3 == 2 {
            let reference = booked.swap_remove(booked.len() / 2);
            store.cancel_booking(&reference).unwrap().unwrap();
            writeln!(out, "C {reference}").unwrap();
            out.flush().unwrap();
        }
    }
}

/// Complete lines the child printed (a line cut by the kill is not counted).
fn spawn_reader(child: &mut Child) -> (mpsc::Receiver<String>, thread::JoinHandle<()>) {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with(b"\n") => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    if tx.send(text).is_err() {
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
    });
    (rx, handle)
}

#[test]
fn a_killed_writer_loses_nothing_it_reported() {
    if std::env::var(WRITER_ENV).is_ok() {
        return;
    }
    let rounds: u64 = std::env::var("CENTRALINO_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let seed: u64 = std::env::var("CENTRALINO_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            (nanos as u64) | 1
        });
    let mut rng = XorShift(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();

    let mut tickets: HashSet<String> = HashSet::new();
    // Booking reference -> cancelled (as far as the writer reported).
    let mut bookings: HashMap<String, bool> = HashMap::new();
    // Every ticket ever seen in the store after a reopen, reported or not.
    let mut recovered: HashSet<String> = HashSet::new();
    let mut cancels = 0usize;

    for round in 0..rounds {
        let context = format!("round {round}, seed {seed} (CENTRALINO_CRASH_SEED={seed})");
        let child = Command::new(&exe)
            .args(["crash_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut guard = ChildGuard(child);
        let (lines, reader) = spawn_reader(&mut guard.0);
        loop {
            match lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line == "READY" => break,
                Ok(_) => {}
                Err(error) => panic!("{context}: the writer never got ready ({error})"),
            }
        }
        let delay = rng.between(5, 150);
        thread::sleep(Duration::from_millis(delay));
        drop(guard); // SIGKILL, then reap.
        reader.join().unwrap();

        let mut new_tickets = 0;
        for line in lines.try_iter() {
            let (kind, reference) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("{context}: unexpected line {line:?}"));
            let reference = reference.to_string();
            match kind {
                "T" => {
                    assert!(
                        tickets.insert(reference.clone()) && !recovered.contains(&reference),
                        "{context}: ticket {reference} given out twice"
                    );
                    new_tickets += 1;
                }
                "B" => assert!(
                    bookings.insert(reference.clone(), false).is_none(),
                    "{context}: booking {reference} given out twice"
                ),
                "C" => {
                    cancels += 1;
                    assert_eq!(
                        bookings.insert(reference.clone(), true),
                        Some(false),
                        "{context}: cancelled {reference} before booking it"
                    );
                }
                _ => panic!("{context}: unexpected line {line:?}"),
            }
        }

        let store = SledStore::open(dir.path(), StoreConfig::default())
            .unwrap_or_else(|e| panic!("{context}: reopening failed: {e}"));
        for reference in &tickets {
            assert!(
                store.ticket(reference).unwrap().is_some(),
                "{context}: reported ticket {reference} is lost ({new_tickets} new this round)"
            );
        }
        for (reference, cancelled) in &bookings {
            let booking = store
                .booking(reference)
                .unwrap()
                .unwrap_or_else(|| panic!("{context}: reported booking {reference} is lost"));
            if *cancelled {
                assert_eq!(
                    booking.status,
                    Status::Cancelled,
                    "{context}: reported cancellation of {reference} is lost"
                );
            }
        }
        let now: HashSet<String> = store
            .tickets()
            .unwrap_or_else(|e| panic!("{context}: {e}"))
            .into_iter()
            .map(|t| t.reference)
            .collect();
        let vanished: Vec<&String> = recovered.difference(&now).collect();
        assert!(
            vanished.is_empty(),
            "{context}: recovered before, gone now: {vanished:?}"
        );
        recovered = now;
        // Slot counts match the open bookings: each booking and its count were one transaction.
        let problems = store.verify().unwrap();
        assert!(problems.is_empty(), "{context}: {problems:?}");
        let open = store
            .bookings()
            .unwrap()
            .iter()
            .filter(|b| b.status == Status::Open)
            .count();
        let held: u32 = slots()
            .iter()
            .map(|s| store.occupancy(&resource(), s.start).unwrap())
            .sum();
        assert_eq!(held as usize, open, "{context}");
    }

    let elapsed = started.elapsed();
    eprintln!(
        "{rounds} kills in {elapsed:.1?}: {} tickets, {} bookings, {cancels} cancellations reported, seed {seed}",
        tickets.len(),
        bookings.len(),
    );
    // The test only proves something if the writer got work done before the kills.
    assert!(
        tickets.len() as u64 >= rounds,
        "only {} tickets in {rounds} rounds",
        tickets.len()
    );
}
