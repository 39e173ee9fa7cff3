//! SledStore under concurrent writers: unique references, no slot beyond capacity.

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Barrier};
use std::thread;

use centralino_runtime::store::{
    NewBooking, NewTicket, Resource, SledStore, Slot, Status, Store, StoreConfig,
};
use jiff::Timestamp;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn new_ticket(thread: usize, i: usize) -> NewTicket {
    NewTicket {
        category: "buche".into(),
        title: format!("t{thread}-{i}"),
        office: None,
        priority: "normale".into(),
        fields: BTreeMap::new(),
        caller: format!("+3906{thread:02}{i:04}"),
        call_id: format!("call-{thread}-{i}"),
        created_at: at("2026-06-01T10:00:00Z"),
        due_at: None,
    }
}

#[test]
fn eight_writers_get_distinct_references_that_survive_reopening() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                (0..PER_THREAD)
                    .map(|i| {
                        let ticket = store.create_ticket(new_ticket(t, i)).unwrap();
                        (ticket.reference, ticket.request.title)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let made: Vec<(String, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    drop(store);

    let distinct: HashSet<&str> = made.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(distinct.len(), THREADS * PER_THREAD);
    // Exactly the numbers 1..=1600, no gaps and no repeats.
    let mut numbers: Vec<u32> = made
        .iter()
        .map(|(r, _)| r.strip_prefix("PG-2026-").unwrap().parse().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=1600).collect::<Vec<u32>>());

    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    for (reference, title) in &made {
        let ticket = store.ticket(reference).unwrap().unwrap();
        assert_eq!(&ticket.request.title, title);
    }
    let listed = store.tickets().unwrap();
    assert_eq!(listed.len(), 1600);
    assert!(listed.windows(2).all(|w| w[0].reference < w[1].reference));
}

#[test]
fn sixteen_bookers_never_exceed_capacity() {
    const THREADS: usize = 16;
    const ATTEMPTS: usize = 40;
    const CAPACITY: u32 = 2;
    let store = SledStore::temporary().unwrap();
    let resource = Resource::Service("carta d'identità".into());
    let candidates: Vec<Slot> = (0..5)
        .map(|i| Slot {
            start: at("2026-06-03T09:00:00Z")
                .checked_add(jiff::SignedDuration::from_mins(20 * i))
                .unwrap(),
            duration_ms: 20 * 60 * 1000,
        })
        .collect();
    let request = |thread: usize, attempt: usize| NewBooking {
        resource: resource.clone(),
        candidates: candidates.clone(),
        capacity: CAPACITY,
        caller: format!("caller-{thread}"),
        call_id: format!("call-{thread}-{attempt}"),
        created_at: at("2026-06-01T10:00:00Z"),
    };

    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            let requests: Vec<NewBooking> = (0..ATTEMPTS).map(|a| request(t, a)).collect();
            thread::spawn(move || {
                barrier.wait();
                requests
                    .into_iter()
                    .filter_map(|r| store.book(r).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let booked: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(booked.len(), 10, "{booked:#?}");

    let per_slot = |store: &SledStore| {
        let mut counts: BTreeMap<Timestamp, usize> = BTreeMap::new();
        for booking in store.bookings().unwrap() {
            if booking.status == Status::Open {
                *counts.entry(booking.slot.start).or_default() += 1;
            }
        }
        counts
    };
    let counts = per_slot(&store);
    assert_eq!(counts.len(), 5);
    assert!(counts.values().all(|&n| n == 2), "{counts:?}");
    for slot in &candidates {
        assert_eq!(store.occupancy(&resource, slot.start).unwrap(), CAPACITY);
    }
    let distinct: HashSet<&str> = booked.iter().map(|b| b.reference.as_str()).collect();
    assert_eq!(distinct.len(), 10);
    assert_eq!(store.book(request(99, 0)).unwrap(), None);

    // Free one place in the fourth slot: exactly one more booking fits, there.
    let victim = booked.iter().find(|b| b.slot == candidates[3]).unwrap();
    store.cancel_booking(&victim.reference).unwrap().unwrap();
    assert_eq!(store.occupancy(&resource, candidates[3].start).unwrap(), 1);
    let again = store.book(request(99, 1)).unwrap().unwrap();
    assert_eq!(again.slot, candidates[3]);
    assert_eq!(store.book(request(99, 2)).unwrap(), None);
    assert!(per_slot(&store).values().all(|&n| n == 2));
    assert!(store.verify().unwrap().is_empty());
}
