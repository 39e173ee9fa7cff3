//! Media without the network: codecs, prompts, RTP packets and pacing, DTMF, recordings.
//!
//! ```text
//!  Media::Audio{path} ─► prompt::PromptCache ─ compiler::audio ──── mono ─ resample 8 kHz (rubato)
//!  Media::Speech{..}  ─► espeak-ng ─► wav ─┘        └─► codec (G.711) ─► Arc<EncodedPrompt> (20 ms frames)
//!
//!  send:    rtp::Pacer (anchor + k·20 ms) ──due frames──► rtp::RtpStream::next_packet ──► bytes for sendto
//!  receive: bytes ──► rtp::parse ──┬─ payload type 0/8 ──► codec::decode ──┬─► dtmf::InbandDetector
//!                                  │                                       └─► wav::Recorder
//!                                  └─ telephone-event ──► dtmf::Rfc4733Receiver
//!  SIP INFO bodies ──► dtmf::parse_info_body
//!
//!  legs:    media threads (one per core) tick the legs: each sends from its source (prompts,
//!           a loop, another leg, a room's mix) and feeds its sinks (DTMF, recorder, listeners, room)
//! ```
//!
//! Everything here is sans-IO except the prompt cache, which reads files and runs `espeak-ng`
//! (call it off the media threads, e.g. in `spawn_blocking`), and `legs`, which owns the media
//! threads and the calls' RTP sockets. The SIP adapter builds on these pieces.

pub mod codec;
pub mod dtmf;
pub mod legs;
pub mod prompt;
pub mod rtp;
pub mod wav;

/// G.711 sample rate and RTP clock rate.
pub const SAMPLE_RATE: u32 = 8000;
/// Milliseconds of audio in one RTP packet.
pub const FRAME_MS: u32 = 20;
/// Samples (and G.711 bytes) in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
