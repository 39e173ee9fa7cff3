//! Channels without audio: the same flows for citizens who write instead of calling.
//!
//! ```text
//!   browser ──HTTP──► webchat (routes: /chat) ──► one chat task per citizen ──► port::CallPort
//!                                                   (timers in real time,        (the engine,
//!                                                    store jobs, call log)        store jobs,
//!   maildir/new ──► email (owned polling task) ──► a ticket per mail ──────────►  call log)
//!                                 └──► acknowledgement with the reference ──► outbox maildir
//! ```
//!
//! [`webchat`] runs a flow as text through the call port, exactly as a SIP call does (so
//! tickets, callbacks and bookings get the same references and the call log lists the chat);
//! [`email`] turns each mail into a ticket of the flows' categories, with an acknowledgement.

pub mod email;
pub mod webchat;
