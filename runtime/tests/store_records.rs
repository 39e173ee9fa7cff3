//! SledStore records: round trips through disk, reference formats, damaged records, schema gate.

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use centralino_runtime::engine::Trace;
use centralino_runtime::store::{
    Booking, CallRecord, NewBooking, NewCallback, NewTicket, Recording, Resource, SCHEMA_VERSION,
    SledStore, Slot, Status, StepRecord, Store, StoreConfig, StoreError,
    is_valid_booking_reference,
};
use jiff::Timestamp;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn new_ticket(title: &str, created_at: Timestamp) -> NewTicket {
    NewTicket {
        category: "buche".into(),
        title: title.into(),
        office: Some("lavori pubblici".into()),
        priority: "normale".into(),
        fields: BTreeMap::from([("via".to_string(), "Via Roma 12".to_string())]),
        caller: "+390612345678".into(),
        call_id: format!("call-{title}"),
        created_at,
        due_at: Some(at("2026-03-09T09:00:00Z")),
    }
}

fn new_callback(office: &str, created_at: Timestamp) -> NewCallback {
    NewCallback {
        office: office.into(),
        number: "+390698765432".into(),
        note: Some("certificato di residenza".into()),
        call_id: "call-cb".into(),
        created_at,
        window: None,
        ticket: None,
        category: None,
        citizen_first: false,
        language: None,
    }
}

fn slot(start: &str) -> Slot {
    Slot {
        start: at(start),
        duration_ms: 15 * 60 * 1000,
    }
}

fn new_booking(candidates: Vec<Slot>, capacity: u32) -> NewBooking {
    NewBooking {
        resource: Resource::Office("anagrafe".into()),
        candidates,
        capacity,
        caller: "+390611111111".into(),
        call_id: "call-book".into(),
        created_at: at("2026-03-02T08:15:00.123456789Z"),
    }
}

fn step(call_id: &str, seq: u32) -> StepRecord {
    StepRecord {
        schema: SCHEMA_VERSION,
        call_id: call_id.into(),
        seq,
        at: at("2026-03-02T08:00:00Z"),
        trace: Trace {
            flow: "main".into(),
            state: format!("state{seq}"),
            location: format!("main.flow:{seq}:3"),
            note: String::new(),
        },
    }
}

/// Opens `dir` with sled directly, for tests that damage a store on purpose.
/// Retries while the store's previous handle still holds the lock.
fn raw_sled(dir: &Path) -> sled::Db {
    let started = Instant::now();
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(error) if started.elapsed() < Duration::from_secs(5) => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("cannot open {}: {error}", dir.display()),
        }
    }
}

/// `PREFIX-YYYY-NNNNNN`, parsed without regular expressions: prefix, year, number.
fn parse_reference(reference: &str) -> Option<(&str, i16, u32)> {
    let mut parts = reference.split('-');
    let (prefix, year, seq) = (parts.next()?, parts.next()?, parts.next()?);
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let ok = parts.next().is_none()
        && !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_uppercase())
        && year.len() == 4
        && all_digits(year)
        && seq.len() == 6
        && all_digits(seq);
    ok.then(|| Some((prefix, year.parse().ok()?, seq.parse().ok()?)))
        .flatten()
}

/// Luhn check written independently of the store's.
fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d = d * 2;
                if d > 9 { d - 9 } else { d }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[test]
fn every_record_round_trips_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let created = at("2026-03-02T08:00:00.000000001Z");

    let (ticket, callback, booking, cancelled, recording, call) = {
        let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
        let ticket = store.create_ticket(new_ticket("buca", created)).unwrap();
        assert_eq!(ticket.schema, SCHEMA_VERSION);
        assert_eq!(ticket.status, Status::Open);
        assert_eq!(ticket.request, new_ticket("buca", created));
        assert_eq!(
            store.ticket(&ticket.reference).unwrap(),
            Some(ticket.clone())
        );
        assert_eq!(store.ticket("PG-2026-999999").unwrap(), None);

        let callback = store
            .create_callback(new_callback("anagrafe", created))
            .unwrap();
        assert_eq!(callback.request, new_callback("anagrafe", created));
        assert_eq!(store.callbacks().unwrap(), vec![callback.clone()]);

        let candidates = vec![slot("2026-03-03T09:00:00Z"), slot("2026-03-03T09:15:00Z")];
        let booking = store
            .book(new_booking(candidates.clone(), 1))
            .unwrap()
            .unwrap();
        assert_eq!(booking.slot, candidates[0]);
        assert_eq!(booking.status, Status::Open);
        let second = store.book(new_booking(candidates, 1)).unwrap().unwrap();
        assert_eq!(second.slot, slot("2026-03-03T09:15:00Z"));
        let cancelled = store.cancel_booking(&second.reference).unwrap().unwrap();
        assert_eq!(cancelled.status, Status::Cancelled);
        assert_eq!(
            store.booking(&booking.reference).unwrap(),
            Some(booking.clone())
        );

        let recording = Recording {
            schema: SCHEMA_VERSION,
            call_id: "call-rec".into(),
            variable: "messaggio".into(),
            path: "recordings/call-rec/messaggio.wav".into(),
            duration_ms: 4200,
            created_at: created,
        };
        store.save_recording(recording.clone()).unwrap();

        let mut call = CallRecord {
            schema: SCHEMA_VERSION,
            call_id: "call-1".into(),
            caller: "+390612345678".into(),
            number: "060606".into(),
            flow: "main".into(),
            graph_version: "sha256:abc".into(),
            started_at: created,
            ended_at: None,
            outcome: None,
            channel: String::from("sip"),
            handoffs: Vec::new(),
        };
        store.save_call(call.clone()).unwrap();
        // The call record is saved again when the call ends: the newer one wins.
        call.ended_at = Some(at("2026-03-02T08:03:00Z"));
        call.outcome = Some("ticket".into());
        store.save_call(call.clone()).unwrap();
        // Out of order, across a byte boundary, and a call id that is a prefix of another.
        for seq in [256, 2, 0, 1, 255] {
            store.append_step(step("call-1", seq)).unwrap();
        }
        store.append_step(step("call-10", 0)).unwrap();
        store.flush().unwrap();
        (ticket, callback, booking, cancelled, recording, call)
    };

    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    assert_eq!(
        store.ticket(&ticket.reference).unwrap(),
        Some(ticket.clone())
    );
    assert_eq!(store.tickets().unwrap(), vec![ticket]);
    assert_eq!(store.callbacks().unwrap(), vec![callback]);
    assert_eq!(
        store.bookings().unwrap(),
        vec![booking.clone(), cancelled.clone()]
    );
    assert_eq!(
        store.booking(&cancelled.reference).unwrap(),
        Some(cancelled)
    );
    assert_eq!(store.recordings().unwrap(), vec![recording]);
    assert_eq!(store.calls().unwrap(), vec![call]);
    let seqs: Vec<u32> = store
        .steps("call-1")
        .unwrap()
        .iter()
        .map(|s| s.seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2, 255, 256]);
    assert_eq!(store.steps("call-1").unwrap()[3], step("call-1", 255));
    assert_eq!(store.steps("call-10").unwrap(), vec![step("call-10", 0)]);
    assert!(store.steps("call").unwrap().is_empty());
    assert_eq!(
        store
            .occupancy(&booking.resource, booking.slot.start)
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .occupancy(&booking.resource, at("2026-03-03T09:15:00Z"))
            .unwrap(),
        0
    );
    assert!(store.verify().unwrap().is_empty());
    // Numbers carry on after reopening; nothing is given out twice.
    let next = store
        .create_ticket(new_ticket("altra", created))
        .unwrap()
        .reference;
    assert_eq!(next, "PG-2026-000002");
}

#[test]
fn ticket_and_callback_references_count_per_prefix_and_year() {
    let store = SledStore::temporary().unwrap();
    let created = at("2026-05-04T10:00:00Z");
    let refs: Vec<String> = (0..3)
        .map(|i| {
            store
                .create_ticket(new_ticket(&format!("t{i}"), created))
                .unwrap()
                .reference
        })
        .collect();
    assert_eq!(refs, ["PG-2026-000001", "PG-2026-000002", "PG-2026-000003"]);
    for reference in &refs {
        assert_eq!(
            parse_reference(reference).map(|(p, y, _)| (p, y)),
            Some(("PG", 2026))
        );
    }
    assert_eq!(parse_reference("PG-2026-00001"), None);
    assert_eq!(parse_reference("PG-26-000001"), None);
    assert_eq!(parse_reference("pg-2026-000001"), None);

    let callback = store
        .create_callback(new_callback("tributi", created))
        .unwrap();
    assert_eq!(callback.reference, "RC-2026-000001");
    assert_eq!(parse_reference(&callback.reference), Some(("RC", 2026, 1)));

    // 23:30 UTC on 31 December is 00:30 on 1 January in Rome: a 2027 ticket,
    // numbered from 1 again.
    let new_year = store
        .create_ticket(new_ticket("capodanno", at("2026-12-31T23:30:00Z")))
        .unwrap();
    assert_eq!(new_year.reference, "PG-2027-000001");
    // 22:59:59 UTC is still 23:59:59 on 31 December in Rome.
    let old_year = store
        .create_ticket(new_ticket("vigilia", at("2026-12-31T22:59:59Z")))
        .unwrap();
    assert_eq!(old_year.reference, "PG-2026-000004");

    // Sorted by year then number, not by creation.
    let listed: Vec<String> = store
        .tickets()
        .unwrap()
        .into_iter()
        .map(|t| t.reference)
        .collect();
    assert_eq!(
        listed,
        [
            "PG-2026-000001",
            "PG-2026-000002",
            "PG-2026-000003",
            "PG-2026-000004",
            "PG-2027-000001"
        ]
    );
}

#[test]
fn the_year_follows_the_configured_time_zone() {
    let late = at("2026-12-31T23:30:00Z");
    let utc = SledStore::temporary_with(StoreConfig {
        ticket_prefix: "SEG".into(),
        callback_prefix: "RIC".into(),
        time_zone: "UTC".into(),
    })
    .unwrap();
    assert_eq!(
        utc.create_ticket(new_ticket("a", late)).unwrap().reference,
        "SEG-2026-000001"
    );
    assert_eq!(
        utc.create_callback(new_callback("b", late))
            .unwrap()
            .reference,
        "RIC-2026-000001"
    );
    // An unknown zone falls back to UTC rather than failing.
    let unknown = SledStore::temporary_with(StoreConfig {
        time_zone: "Mars/Olympus_Mons".into(),
        ..StoreConfig::default()
    })
    .unwrap();
    assert_eq!(
        unknown
            .create_ticket(new_ticket("a", late))
            .unwrap()
            .reference,
        "PG-2026-000001"
    );
}

#[test]
fn booking_references_are_digits_with_a_check_digit() {
    let store = SledStore::temporary().unwrap();
    let candidates = vec![slot("2026-03-03T09:00:00Z")];
    let bookings: Vec<Booking> = (0..12)
        .map(|_| {
            store
                .book(new_booking(candidates.clone(), 100))
                .unwrap()
                .unwrap()
        })
        .collect();
    assert_eq!(bookings[0].reference, "10000008");
    for (i, booking) in bookings.iter().enumerate() {
        let reference = &booking.reference;
        assert_eq!(reference.len(), 8, "{reference}");
        assert!(reference.bytes().all(|b| b.is_ascii_digit()), "{reference}");
        assert!(luhn_ok(reference), "{reference} fails the Luhn check");
        assert!(is_valid_booking_reference(reference));
        let seq: u64 = reference[..7].parse().unwrap();
        assert_eq!(seq, 1_000_000 + i as u64);
    }
    assert_eq!(
        store
            .occupancy(&bookings[0].resource, candidates[0].start)
            .unwrap(),
        12
    );

    // A mistyped code is rejected and the real booking is untouched.
    let real = &bookings[3].reference;
    let last = real.as_bytes()[7];
    let typo = format!(
        "{}{}",
        &real[..7],
        char::from(b'0' + (last - b'0' + 1) % 10)
    );
    assert!(!is_valid_booking_reference(&typo));
    assert_eq!(store.cancel_booking(&typo).unwrap(), None);
    assert_eq!(store.cancel_booking("1234").unwrap(), None);
    assert_eq!(store.cancel_booking("").unwrap(), None);
    // Valid-looking but never given out.
    assert_eq!(store.cancel_booking("99999997").unwrap(), None);
    assert!(luhn_ok("99999997"));
    assert_eq!(store.booking(real).unwrap().unwrap().status, Status::Open);

    // Cancelling twice: the second time there is no open booking.
    let cancelled = store.cancel_booking(real).unwrap().unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(cancelled.reference, *real);
    assert_eq!(store.cancel_booking(real).unwrap(), None);
    assert_eq!(
        store.booking(real).unwrap().unwrap().status,
        Status::Cancelled
    );
    assert_eq!(
        store
            .occupancy(&bookings[0].resource, candidates[0].start)
            .unwrap(),
        11
    );

    // Full, or nothing to choose from: no booking, and no number used up.
    assert_eq!(
        store.book(new_booking(candidates.clone(), 0)).unwrap(),
        None
    );
    assert_eq!(store.book(new_booking(Vec::new(), 5)).unwrap(), None);
    let next = store.book(new_booking(candidates, 100)).unwrap().unwrap();
    assert_eq!(&next.reference[..7], "1000012");
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn a_damaged_ticket_is_reported_and_the_others_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let created = at("2026-03-02T08:00:00Z");
    let refs: Vec<String> = {
        let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
        (0..3)
            .map(|i| {
                store
                    .create_ticket(new_ticket(&format!("t{i}"), created))
                    .unwrap()
                    .reference
            })
            .collect()
    };
    {
        let db = raw_sled(dir.path());
        let tickets = db.open_tree("tickets").unwrap();
        tickets
            .insert(refs[1].as_bytes(), &b"\x00\x9f{not json"[..])
            .unwrap();
        db.flush().unwrap();
    }

    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    match store.ticket(&refs[1]) {
        Err(StoreError::Corrupt { tree, key, .. }) => {
            assert_eq!(tree, "tickets");
            assert_eq!(key, refs[1]);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let message = store.ticket(&refs[1]).unwrap_err().to_string();
    assert!(
        message.contains("PG-2026-000002") && message.contains("tickets"),
        "{message}"
    );
    assert_eq!(store.ticket(&refs[0]).unwrap().unwrap().request.title, "t0");
    assert_eq!(store.ticket(&refs[2]).unwrap().unwrap().request.title, "t2");

    // The trait's listing refuses to pretend the list is complete...
    assert!(matches!(
        store.tickets(),
        Err(StoreError::Corrupt {
            tree: "tickets",
            ..
        })
    ));
    // ...and the salvage listing gives the rest with the damage named.
    let (readable, damaged) = store.tickets_skipping_damaged().unwrap();
    let readable: Vec<&str> = readable.iter().map(|t| t.reference.as_str()).collect();
    assert_eq!(readable, [refs[0].as_str(), refs[2].as_str()]);
    assert_eq!(damaged.len(), 1);
    assert!(matches!(&damaged[0], StoreError::Corrupt { key, .. } if *key == refs[1]));
    assert_eq!(store.verify().unwrap().len(), 1);

    // New tickets still work and do not reuse the damaged one's number.
    let next = store.create_ticket(new_ticket("t3", created)).unwrap();
    assert_eq!(next.reference, "PG-2026-000004");
}

#[test]
fn a_store_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let reference = {
        let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
        store
            .create_ticket(new_ticket("t", at("2026-03-02T08:00:00Z")))
            .unwrap()
            .reference
    };
    {
        let db = raw_sled(dir.path());
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(
            meta.get("schema").unwrap().as_deref(),
            Some(SCHEMA_VERSION.to_string().as_bytes())
        );
        meta.insert("schema", "99").unwrap();
        db.flush().unwrap();
    }
    match SledStore::open(dir.path(), StoreConfig::default()) {
        Err(StoreError::Open { path, message }) => {
            assert_eq!(path, dir.path().display().to_string());
            assert!(message.contains("schema 99"), "{message}");
            assert!(
                message.contains(&format!("schema {SCHEMA_VERSION}")),
                "{message}"
            );
        }
        Ok(_) => panic!("a schema-99 store was opened"),
        Err(other) => panic!("expected Open, got {other:?}"),
    }
    {
        let db = raw_sled(dir.path());
        db.open_tree("meta").unwrap().insert("schema", "?").unwrap();
        db.flush().unwrap();
    }
    let error = SledStore::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert!(error.to_string().contains("unreadable"), "{error}");
    {
        let db = raw_sled(dir.path());
        db.open_tree("meta").unwrap().insert("schema", "1").unwrap();
        db.flush().unwrap();
    }
    // Refusing did not touch the data.
    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    assert!(store.ticket(&reference).unwrap().is_some());
}

#[test]
fn a_store_open_elsewhere_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    let started = Instant::now();
    let error = SledStore::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    assert!(error.to_string().contains("lock"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(store);
}
