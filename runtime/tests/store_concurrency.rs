//! SledStore under concurrent writers: unique references, no slot beyond capacity.

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Barrier};
use std::thread;

use centralino_runtime::store::{
    Moved, NewBooking, NewTicket, Resource, SledStore, Slot, Status, Store, StoreConfig,
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

/// Slots of 20 minutes from 9:00 on 3 June 2026 (UTC).
fn slots(n: i64) -> Vec<Slot> {
    (0..n)
        .map(|i| Slot {
            start: at("2026-06-03T09:00:00Z")
                .checked_add(jiff::SignedDuration::from_mins(20 * i))
                .unwrap(),
            duration_ms: 20 * 60 * 1000,
        })
        .collect()
}

/// What a caller who picked one offered time does: book exactly that slot (as `book ... offer`
/// does at the moment of choice), and when it was taken, look again and book the first free one.
#[test]
fn bookers_who_chose_the_same_last_place_get_it_once_and_the_others_the_next() {
    const THREADS: usize = 8;
    let store = SledStore::temporary().unwrap();
    let resource = Resource::Service("prova".into());
    let all = slots(THREADS as i64 + 1);
    let chosen = all[0];
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            let resource = resource.clone();
            let all = all.clone();
            thread::spawn(move || {
                let request = |candidates: Vec<Slot>| NewBooking {
                    resource: resource.clone(),
                    candidates,
                    capacity: 1,
                    caller: format!("caller-{t}"),
                    call_id: format!("call-{t}"),
                    created_at: at("2026-06-01T10:00:00Z"),
                };
                barrier.wait();
                match store.book(request(vec![chosen])).unwrap() {
                    Some(booking) => (true, booking),
                    None => loop {
                        // Taken meanwhile: offered again, the caller takes the first free time.
                        let free = store.free_slots(&resource, &all, 1, 1).unwrap();
                        let next = *free.first().expect("a free slot is left for every booker");
                        if let Some(booking) = store.book(request(vec![next])).unwrap() {
                            break (false, booking);
                        }
                    },
                }
            })
        })
        .collect();
    let outcomes: Vec<(bool, _)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = outcomes.iter().filter(|(first, _)| *first).collect();
    assert_eq!(winners.len(), 1, "exactly one booker gets the chosen slot");
    assert_eq!(winners[0].1.slot, chosen);
    let mut starts: Vec<Timestamp> = outcomes.iter().map(|(_, b)| b.slot.start).collect();
    starts.sort_unstable();
    let expected: Vec<Timestamp> = all[..THREADS].iter().map(|s| s.start).collect();
    assert_eq!(
        starts, expected,
        "the others got the following slots, one each"
    );
    for slot in &all[..THREADS] {
        assert_eq!(store.occupancy(&resource, slot.start).unwrap(), 1);
    }
    assert_eq!(store.occupancy(&resource, all[THREADS].start).unwrap(), 0);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn bookings_moved_at_once_into_the_last_place_move_once() {
    const THREADS: usize = 6;
    let store = SledStore::temporary().unwrap();
    let resource = Resource::Service("prova".into());
    let all = slots(THREADS as i64 + 1);
    let target = all[THREADS];
    let references: Vec<String> = all[..THREADS]
        .iter()
        .enumerate()
        .map(|(t, slot)| {
            store
                .book(NewBooking {
                    resource: resource.clone(),
                    candidates: vec![*slot],
                    capacity: 1,
                    caller: format!("caller-{t}"),
                    call_id: format!("call-{t}"),
                    created_at: at("2026-06-01T10:00:00Z"),
                })
                .unwrap()
                .unwrap()
                .reference
        })
        .collect();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = references
        .iter()
        .map(|reference| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            let reference = reference.clone();
            thread::spawn(move || {
                barrier.wait();
                store.move_booking(&reference, target, 1).unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Moved> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let moved: Vec<_> = outcomes
        .iter()
        .filter_map(|m| match m {
            Moved::Moved(booking) => Some(booking),
            Moved::Full | Moved::NotFound => None,
        })
        .collect();
    assert_eq!(moved.len(), 1, "{outcomes:#?}");
    assert_eq!(moved[0].slot, target);
    assert_eq!(
        outcomes.iter().filter(|m| **m == Moved::Full).count(),
        THREADS - 1
    );
    // The mover's old slot is free; every other booking kept its place.
    assert_eq!(store.occupancy(&resource, target.start).unwrap(), 1);
    let freed = all
        .iter()
        .filter(|s| store.occupancy(&resource, s.start).unwrap() == 0)
        .count();
    assert_eq!(freed, 1);
    assert!(store.verify().unwrap().is_empty());
    // A cancelled booking cannot be moved.
    store.cancel_booking(&moved[0].reference).unwrap().unwrap();
    assert_eq!(
        store.move_booking(&moved[0].reference, all[0], 1).unwrap(),
        Moved::NotFound
    );
}
