//! A media thread's one RTP socket, shared by all its legs: the frames of a wake leave with one
//! `sendmmsg`, and what the callers sent is read in `recvmmsg` batches and handed out by the
//! sender's address (the wheel keeps which far end is which leg).
//!
//! Before this, each leg had a socket of its own: one `sendto` per frame and one receive per
//! ready socket. On loopback most of a `sendto`'s cost is delivering the datagram and waking
//! the caller's thread; batching the sends of a tick into one system call and reading many
//! legs' datagrams with one `recvmmsg` leaves the kernel work per packet and drops the system
//! call per packet. The socket is plain and non-blocking, never registered with the reactor.

use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg, setsockopt, sockopt,
};

use crate::media::rtp;

/// Datagrams read with one system call, at most.
const RECEIVE_BATCH: usize = 64;
/// Receive calls per wake, at most: a flood cannot keep a thread from its ticks.
const MAX_RECEIVES: usize = 16;
/// Datagrams sent with one system call, at most.
const SEND_BATCH: usize = 256;
/// Bytes kept of one datagram: an RTP packet of G.711 is 172; larger ones are cut (and fail
/// to parse, as before).
const DATAGRAM: usize = 2048;
/// The receive queue wanted: many callers share it (the kernel may cap it at `rmem_max`).
const RECEIVE_BUFFER: usize = 4 << 20;
/// The send queue wanted: a tick after a stall may send many frames at once.
const SEND_BUFFER: usize = 1 << 20;

/// Bind a media thread's socket on `ip`, on the first even port of `first..=last` that is free
/// (port 0: one the system picks), non-blocking, with queues as large as the kernel allows.
pub(super) fn bind(ip: IpAddr, first: u16, last: u16, skip: u16) -> std::io::Result<UdpSocket> {
    let socket = bind_own(ip, first, last, skip)?;
    // Raised by root beyond `rmem_max`; else as far as `rmem_max` allows.
    if setsockopt(&socket, sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
        let _ = setsockopt(&socket, sockopt::RcvBuf, &RECEIVE_BUFFER);
    }
    if setsockopt(&socket, sockopt::SndBufForce, &SEND_BUFFER).is_err() {
        let _ = setsockopt(&socket, sockopt::SndBuf, &SEND_BUFFER);
    }
    Ok(socket)
}

/// A leg's own socket (`Leg::own`): the next free even port of `first..=last` from `skip` on,
/// non-blocking, with the system's usual queues.
pub(super) fn bind_own(ip: IpAddr, first: u16, last: u16, skip: u16) -> std::io::Result<UdpSocket> {
    let count = even_port_count(first, last);
    for n in 0..count {
        let Some(port) = nth_even_port(first, last, skip.wrapping_add(n)) else {
            break;
        };
        if let Ok(socket) = UdpSocket::bind(SocketAddr::new(ip, port)) {
            socket.set_nonblocking(true)?;
            return Ok(socket);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        format!("no free even port in {first}-{last}"),
    ))
}

/// How many even ports (RTP's, by RFC 3550 convention) lie in `first..=last` (port 0 alone:
/// one, the system's pick).
pub(super) fn even_port_count(first: u16, last: u16) -> u16 {
    let low = first.saturating_add(first % 2);
    let high = last - last % 2;
    if low > high { 0 } else { (high - low) / 2 + 1 }
}

/// The `n`-th even port of `first..=last`, going round: never outside the range.
pub(super) fn nth_even_port(first: u16, last: u16, n: u16) -> Option<u16> {
    let count = even_port_count(first, last);
    if count == 0 {
        return None;
    }
    let low = first.saturating_add(first % 2);
    Some(low + 2 * (n % count))
}

/// The packets of a wake, waiting to leave together (buffers reused from wake to wake).
pub(super) struct Outbox {
    packets: Vec<[u8; rtp::G711_PACKET_LEN]>,
    lengths: Vec<usize>,
    to: Vec<Option<SockaddrStorage>>,
    count: usize,
}

impl Outbox {
    pub(super) fn new() -> Outbox {
        Outbox {
            packets: Vec::new(),
            lengths: Vec::new(),
            to: Vec::new(),
            count: 0,
        }
    }

    /// A packet for `to`, written by `write` into its buffer (it returns the length, or `None`
    /// when there is nothing to send).
    pub(super) fn push(&mut self, to: SocketAddr, write: impl FnOnce(&mut [u8]) -> Option<usize>) {
        if self.count == self.packets.len() {
            self.packets.push([0; rtp::G711_PACKET_LEN]);
            self.lengths.push(0);
            self.to.push(None);
        }
        let (Some(packet), Some(length), Some(address)) = (
            self.packets.get_mut(self.count),
            self.lengths.get_mut(self.count),
            self.to.get_mut(self.count),
        ) else {
            return;
        };
        if let Some(written) = write(packet) {
            *length = written.min(rtp::G711_PACKET_LEN);
            *address = Some(SockaddrStorage::from(to));
            self.count += 1;
        }
    }

    /// Packets waiting.
    pub(super) fn len(&self) -> usize {
        self.count
    }
}

/// A media thread's socket and its receive buffers (reused for every read).
pub(super) struct RtpSocket {
    socket: UdpSocket,
    send_headers: MultiHeaders<SockaddrStorage>,
    receive_headers: MultiHeaders<SockaddrStorage>,
    buffers: Vec<[u8; DATAGRAM]>,
    /// The length and sender of each datagram of the last read.
    received: Vec<(usize, Option<SocketAddr>)>,
}

impl RtpSocket {
    pub(super) fn new(socket: UdpSocket) -> RtpSocket {
        RtpSocket {
            socket,
            send_headers: MultiHeaders::preallocate(SEND_BATCH, None),
            receive_headers: MultiHeaders::preallocate(RECEIVE_BATCH, None),
            buffers: vec![[0; DATAGRAM]; RECEIVE_BATCH],
            received: Vec::with_capacity(RECEIVE_BATCH),
        }
    }

    /// Send what waits in `outbox` (`sendmmsg`, [`SEND_BATCH`] at a time) and empty it. A
    /// datagram the kernel refuses is dropped, as a failed `sendto` was; the rest still leave.
    pub(super) fn send(&mut self, outbox: &mut Outbox) {
        let count = outbox.count;
        let mut offset = 0;
        while offset < count {
            let end = count.min(offset + SEND_BATCH);
            let (Some(packets), Some(lengths), Some(to)) = (
                outbox.packets.get(offset..end),
                outbox.lengths.get(offset..end),
                outbox.to.get(offset..end),
            ) else {
                break;
            };
            let slices: Vec<[IoSlice<'_>; 1]> = packets
                .iter()
                .zip(lengths)
                .map(|(packet, length)| [IoSlice::new(packet.get(..*length).unwrap_or(packet))])
                .collect();
            let sent = sendmmsg(
                self.socket.as_raw_fd(),
                &mut self.send_headers,
                slices.iter(),
                to,
                [],
                MsgFlags::MSG_DONTWAIT,
            )
            .map_or(0, Iterator::count);
            // The one at `offset + sent` failed (or the batch is done): skip it.
            offset += if sent == 0 { 1 } else { sent };
        }
        outbox.count = 0;
    }

    /// What waits in the socket, in batches until one is not full (at most [`MAX_RECEIVES`]),
    /// each datagram passed to `each` with its sender.
    pub(super) fn receive(&mut self, mut each: impl FnMut(&[u8], SocketAddr)) {
        for _ in 0..MAX_RECEIVES {
            let read = self.read();
            for ((length, from), buffer) in self.received.iter().zip(&self.buffers) {
                if let (Some(datagram), Some(from)) = (buffer.get(..*length), from) {
                    each(datagram, *from);
                }
            }
            if read < RECEIVE_BATCH {
                return;
            }
        }
    }

    /// One `recvmmsg`; the datagrams' lengths and senders go to `received`.
    fn read(&mut self) -> usize {
        self.received.clear();
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
            .buffers
            .iter_mut()
            .map(|buffer| [IoSliceMut::new(buffer)])
            .collect();
        let Ok(results) = recvmmsg(
            self.socket.as_raw_fd(),
            &mut self.receive_headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        ) else {
            return 0;
        };
        for message in results {
            self.received.push((
                message.bytes,
                message.address.as_ref().and_then(socket_addr),
            ));
        }
        self.received.len()
    }
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    let v6 = address.as_sockaddr_in6()?;
    Some(SocketAddr::from((v6.ip(), v6.port())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{even_port_count, nth_even_port};

    #[test]
    fn rtp_ports_stay_inside_the_configured_range_and_are_even() {
        for (first, last) in [
            (20_000, 29_999),
            (10_001, 10_009),
            (1025, 1026),
            (4000, 4001),
        ] {
            let count = even_port_count(first, last);
            assert!(count > 0, "{first}-{last}");
            let ports: Vec<u16> = (0..count * 2)
                .map(|n| nth_even_port(first, last, n).unwrap())
                .collect();
            for port in &ports {
                assert!(
                    (first..=last).contains(port),
                    "{port} outside {first}-{last}"
                );
                assert_eq!(port % 2, 0, "{port} is odd");
            }
            // Every even port is handed out once per round, then the pool goes round.
            let round: std::collections::BTreeSet<u16> =
                ports.iter().take(usize::from(count)).copied().collect();
            assert_eq!(round.len(), usize::from(count));
            assert_eq!(ports[usize::from(count)], ports[0]);
        }
        assert_eq!(even_port_count(10_001, 10_009), 4); // 10002, 10004, 10006, 10008
        assert_eq!(nth_even_port(10_001, 10_009, 0), Some(10_002));
        assert_eq!(even_port_count(20_000, 29_999), 5_000);
        assert_eq!(even_port_count(65_533, 65_535), 1);
        assert_eq!(even_port_count(3, 3), 0);
        assert_eq!(nth_even_port(3, 3, 0), None);
        assert_eq!(nth_even_port(0, 0, 3), Some(0), "0-0: the system picks");
    }
}
