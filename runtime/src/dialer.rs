//! The callback dialer: works the callback requests of the store, calling staff
//! and then the citizen (or the citizen first, when the flow says so), so a request
//! that could not be answered at once is closed.
//!
//! ```text
//!   store (callbacks, dialing state) ──► schedule (sans-IO: hours, window, limits,
//!        ▲                                 presence, backoff) ──► rule (numbers that
//!        └── attempts, leases ◄──────────── may be dialled) ──► SIP adapter (ring staff,
//!                                                                call the citizen, bridge)
//! ```
//!
//! - [`attempt`]: one attempt, staff first (brief, call, bridge, close from the phone) or
//!   citizen first (call, announce, "press 1", ring and brief staff, bridge).
//! - [`rule`]: which numbers may be called (toll-fraud guard).
//! - [`schedule`]: which request is worked next, and what follows an attempt.
//! - [`task`]: the owned task tying the scheduler, the store and the SIP side together.
//! - [`trunk`]: the outbound trunk's SIP URI template.

pub mod attempt;
pub mod rule;
pub mod schedule;
pub mod task;
pub mod trunk;
