//! The live-call load benchmark of `centralino serve` (issue 4).
//!
//! `load_caller` (src/bin/load_caller.rs) places N concurrent SIP calls over UDP, receives the
//! server's RTP and reports RFC 6076 signalling metrics and RFC 3550 media metrics as JSON;
//! `proc_window` samples a process's CPU time and RSS over a window (for the sipp runs).
//! `bench/load.sh` starts the server and drives both. This library holds what they share:
//! [`procfs`] sampling, the small SIP text codec of the caller ([`sip`]), the receive-side
//! statistics of one RTP stream ([`rtpstats`]) and the threads that receive the server's RTP
//! ([`rtprecv`]), percentiles ([`stats`]) and the RFC 4733 key presses both tools send
//! ([`dtmf`]).

pub mod dtmf;
pub mod procfs;
pub mod rtprecv;
pub mod rtpstats;
pub mod sip;
pub mod stats;
