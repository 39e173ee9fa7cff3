//! centralino-runtime: executes a compiled flow graph on calls.
//!
//! ```text
//!   adapters (simulate, SIP/RTP, chat) ──events──► engine::Session ──commands──► adapters
//!                                                     │ (sans-IO)                  │
//!                                                     └── calendar (time zones)    └──► store (sled)
//! ```

pub mod calendar;
pub mod control;
pub mod driver;
pub mod effects;
pub mod engine;
pub mod media;
pub mod reload;
pub mod sip;
pub mod store;

pub use centralino_compiler::graph::Graph;
