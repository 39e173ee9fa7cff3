//! centralino-runtime: executes a compiled flow graph on calls.
//!
//! ```text
//!   channel adapters (simulate/test, SIP/RTP; later chat, e-mail, the dialer)
//!        │ events                                   ▲ actions (play, record, transfer, hang up)
//!        ▼                                          │
//!   port::CallPort ──► engine::Session (sans-IO) ──► commands: timers, trace, call log,
//!        │                   │                         store jobs (store, sled)
//!        │                   └── calendar (time zones, slots)
//!        └── one place for every channel: they cannot drift apart
//! ```

pub mod calendar;
pub mod conference;
pub mod control;
pub mod desk;
pub mod driver;
pub mod engine;
pub mod http;
pub mod media;
pub mod people;
pub mod port;
pub mod reload;
pub mod server;
pub mod sip;
pub mod store;

pub use centralino_compiler::graph::Graph;
