//! centralino-runtime: executes a compiled flow graph on calls.
//!
//! ```text
//!   channel adapters (simulate/test, SIP/RTP, web chat in channels; later the dialer)
//!        │ (SIP calls' webhooks: webhook::WebhookClient, HTTP(S) to allow-listed hosts)
//!        │ events                                   ▲ actions (play, record, transfer, hang up)
//!        ▼                                          │
//!   port::CallPort ──► engine::Session (sans-IO) ──► commands: timers, trace, call log,
//!        │                   │                         store jobs (store, sled)
//!        │                   └── calendar (time zones, slots)
//!        └── one place for every channel: they cannot drift apart
//! ```

pub mod calendar;
pub mod calllog;
pub mod channels;
pub mod conference;
pub mod control;
pub mod desk;
pub mod dialer;
pub mod driver;
pub mod engine;
pub mod events;
pub mod http;
pub mod media;
pub mod people;
pub mod port;
pub mod promise;
pub mod reload;
pub mod reports;
pub mod server;
pub mod sip;
pub mod store;
pub mod webhook;

pub use centralino_compiler::graph::Graph;
