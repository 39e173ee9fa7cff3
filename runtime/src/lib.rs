//! centralino-runtime: executes a compiled flow graph on live calls.
//!
//! For now this crate only re-exports the graph it will run; the sans-IO
//! engine, the SIP/RTP adapters and the store arrive with the next issues.

pub use centralino_compiler::graph::Graph;
