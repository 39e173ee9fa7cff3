//! The load tools' RTP receiving threads (`load_caller`, `load_staff`): `recvmmsg` on a
//! socket shared by many calls, kernel arrival timestamps, each datagram told apart by the
//! address it was sent to (`IP_PKTINFO`: every call has an RTP address of its own) and counted
//! into that call's [`StreamStats`].

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg};
use nix::sys::time::TimeSpec;

use crate::rtpstats::StreamStats;
use crate::stats::Histogram;

/// What one receiving thread counted.
pub struct Received {
    /// Per call (the number given in `calls`).
    pub streams: HashMap<u32, StreamStats>,
    /// How late each packet was against its stream's clock, every stream together.
    pub lateness: Histogram,
    /// Datagrams to no known call, or not RTP.
    pub unmatched: u64,
    /// Datagrams the kernel dropped for a full receive buffer (`SO_RXQ_OVFL`).
    pub socket_drops: u64,
}

/// Receives what the server sends to the calls on `socket` until `stop`: each datagram is
/// counted against the call whose RTP address it was sent to (`calls`, by `IP_PKTINFO`), with
/// its kernel arrival time. With `poll`, the socket is read every `poll` instead of slept on
/// (on loopback, waking a sleeping reader is counted in the sender's CPU: the server's).
pub fn receive(
    socket: &UdpSocket,
    calls: &Mutex<HashMap<Ipv4Addr, u32>>,
    stop: &AtomicBool,
    poll: Option<Duration>,
) -> Received {
    const BATCH: usize = 64;
    let mut out = Received {
        streams: HashMap::new(),
        // 10 µs buckets up to 1 s.
        lateness: Histogram::new(0.01, 100_000),
        unmatched: 0,
        socket_drops: 0,
    };
    let mut buffers = vec![[0u8; 512]; BATCH];
    let mut headers: MultiHeaders<SockaddrIn> = MultiHeaders::preallocate(
        BATCH,
        Some(nix::cmsg_space!(TimeSpec, u32, nix::libc::in_pktinfo)),
    );
    let fd = socket.as_raw_fd();
    while !stop.load(Ordering::Relaxed) {
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffers
            .iter_mut()
            .map(|b| [IoSliceMut::new(&mut b[..])])
            .collect();
        let results = match recvmmsg(
            fd,
            &mut headers,
            slices.iter_mut(),
            if poll.is_some() {
                MsgFlags::MSG_DONTWAIT
            } else {
                MsgFlags::MSG_WAITFORONE
            },
            None,
        ) {
            Ok(results) => results,
            Err(nix::errno::Errno::EAGAIN) => {
                if let Some(poll) = poll {
                    std::thread::sleep(poll);
                }
                continue;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        };
        let calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
        for msg in results {
            let mut arrival_ns = None;
            let mut to = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    match c {
                        ControlMessageOwned::ScmTimestampns(ts) => {
                            arrival_ns = Some(ts.tv_sec() * 1_000_000_000 + ts.tv_nsec());
                        }
                        ControlMessageOwned::RxqOvfl(n) => {
                            out.socket_drops = out.socket_drops.max(u64::from(n));
                        }
                        ControlMessageOwned::Ipv4PacketInfo(info) => {
                            to = Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)));
                        }
                        _ => {}
                    }
                }
            }
            let Some(to) = to else {
                out.unmatched += 1;
                continue;
            };
            let Some(data) = msg.iovs().next() else {
                continue;
            };
            let data = data.get(..msg.bytes).unwrap_or(data);
            let Some(&call) = calls.get(&to) else {
                out.unmatched += 1;
                continue;
            };
            let (Some(b1), Some(seq), Some(ts)) = (
                data.get(1),
                data.get(2..4).and_then(|s| <[u8; 2]>::try_from(s).ok()),
                data.get(4..8).and_then(|s| <[u8; 4]>::try_from(s).ok()),
            ) else {
                out.unmatched += 1;
                continue;
            };
            if data.first().map(|b| b >> 6) != Some(2) {
                out.unmatched += 1;
                continue;
            }
            let arrival = arrival_ns.unwrap_or_else(realtime_ns);
            let stream = out.streams.entry(call).or_default();
            if let Some(ssrc) = data.get(8..12).and_then(|s| <[u8; 4]>::try_from(s).ok()) {
                stream.source(u32::from_be_bytes(ssrc));
            }
            stream.push(
                u16::from_be_bytes(seq),
                u32::from_be_bytes(ts),
                b1 & 0x7f,
                data.len(),
                arrival,
                &mut out.lateness,
            );
        }
    }
    out
}

fn realtime_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
