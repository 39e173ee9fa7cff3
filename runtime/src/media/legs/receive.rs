//! Reading the legs' sockets: which legs have datagrams waiting (one readiness poll per thread
//! wake), and all that waits in one leg's socket (one `recvmmsg`).
//!
//! Before this, each leg drained its own socket on its tick with `recv_from` until the kernel
//! said "nothing more": two system calls per packet for a caller sending 20 ms audio (the second
//! one only to learn the socket is empty), and one per idle leg per 20 ms. Now the thread asks
//! epoll once per wake which of its legs' sockets are readable (level-triggered), and reads each
//! of those with one `recvmmsg` of up to [`BATCH`] datagrams; a socket with more left is
//! reported again on the next wake. Legs with nothing waiting cost nothing. A leg's socket is
//! watched from its start (as its tick used to begin) until it is removed.

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};

pub(super) use nix::sys::epoll::Epoll;
use nix::sys::epoll::{EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};

use super::LegId;

/// Datagrams read from one socket with one system call, at most (80 ms of 20 ms audio).
pub(super) const BATCH: usize = 4;
/// Bytes kept of one datagram: an RTP packet of G.711 is 172; larger ones are cut (and fail
/// to parse, as before).
const DATAGRAM: usize = 2048;
/// Ready sockets taken from the poll at once.
const EVENTS: usize = 256;
/// Polls per wake, at most: a flood cannot keep a thread from its ticks.
const MAX_POLLS: usize = 4;

/// A media thread's readiness poll and its receive buffers (reused for every read).
pub(super) struct Receiver {
    epoll: Epoll,
    events: Vec<EpollEvent>,
    headers: MultiHeaders<SockaddrStorage>,
    buffers: Box<[[u8; DATAGRAM]; BATCH]>,
    /// The length and sender of each datagram of the last read.
    received: [(usize, Option<SocketAddr>); BATCH],
    count: usize,
}

impl Receiver {
    /// A readiness poll for a media thread (made where the thread is started, so that a
    /// failure is the starter's error; the rest of the receiver lives on the thread).
    pub(super) fn poll() -> std::io::Result<Epoll> {
        Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(std::io::Error::from)
    }

    pub(super) fn new(epoll: Epoll) -> Receiver {
        Receiver {
            epoll,
            events: vec![EpollEvent::empty(); EVENTS],
            headers: MultiHeaders::preallocate(BATCH, None),
            buffers: Box::new([[0; DATAGRAM]; BATCH]),
            received: [(0, None); BATCH],
            count: 0,
        }
    }

    /// Report `socket` as leg `id` whenever it has datagrams waiting.
    pub(super) fn watch(&self, socket: &UdpSocket, id: LegId) -> std::io::Result<()> {
        self.epoll
            .add(socket, EpollEvent::new(EpollFlags::EPOLLIN, id.0))
            .map_err(std::io::Error::from)
    }

    /// Stop reporting `socket` (before it is closed).
    pub(super) fn forget(&self, socket: &UdpSocket) {
        let _ = self.epoll.delete(socket);
    }

    /// The legs whose sockets have datagrams waiting, each passed to `each` (which reads it
    /// with [`Receiver::read`]); at most a few polls, so that a flood cannot starve the ticks.
    pub(super) fn ready(&mut self, mut each: impl FnMut(&mut Receiver, LegId)) {
        for _ in 0..MAX_POLLS {
            let count = match self.epoll.wait(&mut self.events, EpollTimeout::ZERO) {
                Ok(count) => count.min(EVENTS),
                Err(_) => return,
            };
            for index in 0..count {
                let Some(event) = self.events.get(index) else {
                    break;
                };
                let id = LegId(event.data());
                each(self, id);
            }
            if count < EVENTS {
                return;
            }
        }
    }

    /// Read everything waiting in `socket`, up to [`BATCH`] datagrams, with one system call;
    /// [`Receiver::datagrams`] then gives them. Returns how many were read.
    pub(super) fn read(&mut self, socket: &UdpSocket) -> usize {
        use std::os::fd::AsRawFd;
        self.count = 0;
        let [b0, b1, b2, b3] = &mut *self.buffers;
        let mut slices = [
            [IoSliceMut::new(b0)],
            [IoSliceMut::new(b1)],
            [IoSliceMut::new(b2)],
            [IoSliceMut::new(b3)],
        ];
        let results = match recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        ) {
            Ok(results) => results,
            Err(_) => return 0,
        };
        for (message, received) in results.zip(self.received.iter_mut()) {
            *received = (
                message.bytes,
                message.address.as_ref().and_then(socket_addr),
            );
            self.count += 1;
        }
        self.count
    }

    /// The datagrams of the last [`Receiver::read`] and who sent them.
    pub(super) fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        self.received
            .iter()
            .zip(self.buffers.iter())
            .take(self.count)
            .filter_map(|((len, from), buffer)| Some((buffer.get(..*len)?, (*from)?)))
    }
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    let v6 = address.as_sockaddr_in6()?;
    Some(SocketAddr::from((v6.ip(), v6.port())))
}
