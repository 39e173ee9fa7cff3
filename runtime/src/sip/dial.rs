//! Calls the server places to staff phones (UAC INVITE), for a transfer: the devices of one
//! round ring at once, rounds follow each other after the ring time, the first to answer wins
//! and every other INVITE still ringing is cancelled.
//!
//! ```text
//!   transfer to `anagrafe` (in turn)     round 1: 2101's desk phone + softphone ──ring 20 s──┐
//!                                        round 2: 2102's desk phone ──ring 20 s──────────────┤
//!   transfer ... ring all                round 1: every device of every present person      │
//!                                                                                            ▼
//!                        Dialled::Answered (dialog, SDP answer, its states) | Busy | NoAnswer | Failed
//! ```
//!
//! Only staff bindings (devices registered for an extension the flow files name) are ever
//! dialled: what a caller keys in never becomes a destination. Dropping [`ring`] before it
//! returns (the caller hung up) drops every pending INVITE, which rsipstack ends with CANCEL.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use jiff::Timestamp;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{StatusCode, StatusCodeKind, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::sdp::{self, Negotiated};
use crate::desk::{Desk, DeskEvent};
use crate::people::presence::CallState;
use crate::people::{Binding, Location, SignalTransport, extension_of};

/// What the server needs to place calls: its dialog layer, where staff phones reach it, and
/// the states of the dialogs it places.
pub struct Outbound {
    pub dialogs: Arc<DialogLayer>,
    /// The SIP address the server listens on (its Contact; an unspecified IP is replaced by the
    /// address the route to each device leaves from).
    pub listen: SocketAddr,
    pub states: ClientStates,
}

/// The states of the dialogs the server places (to staff phones, to the trunk), each handed
/// to its own [`LegStates`] by Call-ID.
///
/// rsipstack sends a dialog's states into the channel given with its INVITE. A channel of
/// `DialogState`s per dialog allocates its first block of 32 states (about 10 KiB) at once,
/// more than the rest of a staff leg's signalling; so every placed dialog shares one channel,
/// and [`ClientStates::route`] passes each state on, boxed, to the small channel of its dialog.
#[derive(Clone)]
pub struct ClientStates {
    sender: DialogStateSender,
    routes: Routes,
}

type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Box<DialogState>>>>>;

impl ClientStates {
    /// The shared channel's sending side, and the receiving side for [`ClientStates::route`].
    pub fn new() -> (ClientStates, DialogStateReceiver) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let states = ClientStates {
            sender,
            routes: Arc::default(),
        };
        (states, receiver)
    }

    /// The states of the dialog with this Call-ID, from now on: the sender to give rsipstack
    /// with its INVITE, and the dialog's own receiver (dropping it ends the routing).
    pub fn open(&self, call_id: &str) -> (DialogStateSender, LegStates) {
        let (sender, receiver) = mpsc::unbounded_channel();
        if let Ok(mut routes) = self.routes.lock() {
            routes.insert(call_id.to_owned(), sender);
        }
        let states = LegStates {
            receiver,
            _route: Some(Route {
                call_id: call_id.to_owned(),
                routes: self.routes.clone(),
            }),
        };
        (self.sender.clone(), states)
    }

    /// Hands each state of the shared channel to its dialog's receiver, until the channel
    /// closes (owned by the SIP server's task set).
    pub async fn route(routes: ClientStates, mut states: DialogStateReceiver) {
        // The server's own sender: only rsipstack's clones and the calls' keep it open.
        let ClientStates { sender, routes } = routes;
        drop(sender);
        while let Some(state) = states.recv().await {
            let call_id = dialog_id(&state).call_id.clone();
            let Ok(mut routes) = routes.lock() else {
                return;
            };
            match routes.get(&call_id) {
                Some(leg) => {
                    if let Err(unread) = leg.send(Box::new(state)) {
                        debug!(%call_id, state = %unread.0, "dialog state after its call let go");
                        routes.remove(&call_id);
                    }
                }
                None => debug!(%call_id, %state, "dialog state of no call"),
            }
        }
    }
}

/// The dialog a state is about.
fn dialog_id(state: &DialogState) -> &rsipstack::dialog::DialogId {
    match state {
        DialogState::Calling(id)
        | DialogState::Trying(id)
        | DialogState::Early(id, _)
        | DialogState::WaitAck(id, _)
        | DialogState::Confirmed(id, _)
        | DialogState::Updated(id, ..)
        | DialogState::Publish(id, ..)
        | DialogState::Notify(id, ..)
        | DialogState::Refer(id, ..)
        | DialogState::Message(id, ..)
        | DialogState::Info(id, ..)
        | DialogState::Options(id, ..)
        | DialogState::Terminated(id, _) => id,
    }
}

/// The states of one dialog the server placed, in order (see [`ClientStates`]).
pub struct LegStates {
    receiver: mpsc::UnboundedReceiver<Box<DialogState>>,
    /// Held for its `Drop`: the dialog's entry leaves the routes with it.
    _route: Option<Route>,
}

impl LegStates {
    /// The next state (`None` only for [`LegStates::none`]: a routed leg's sender stays in the
    /// routes while the leg holds this, as rsipstack's stays in the dialog the leg holds).
    pub async fn recv(&mut self) -> Option<DialogState> {
        self.receiver.recv().await.map(|state| *state)
    }

    /// The states of a dialog that never was: none.
    pub fn none() -> LegStates {
        let (_sender, receiver) = mpsc::unbounded_channel();
        LegStates {
            receiver,
            _route: None,
        }
    }
}

/// A dialog's entry in the routes, removed with its [`LegStates`].
struct Route {
    call_id: String,
    routes: Routes,
}

impl Drop for Route {
    fn drop(&mut self) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.remove(&self.call_id);
        }
    }
}

/// A transfer's calls: who rings, in which order, for how long, and what their phones show.
pub struct Ring {
    /// Each round's devices ring at once; the next round starts when one ends unanswered.
    pub rounds: Vec<Round>,
    /// How long each round rings.
    pub ring_time: Duration,
    /// The citizen's number (the user part of our From: phones show it and can call it back).
    pub caller: String,
    /// What the staff phone shows as the caller's name: the number and the office or menu.
    pub display: String,
    /// The RTP address of our offer (the media thread the caller's leg is on).
    pub media: SocketAddr,
    pub session_id: u64,
    /// Told when each device starts and stops ringing (presence: BLF keys blink).
    pub desk: Desk,
}

/// Devices that ring together.
pub struct Round {
    pub devices: Vec<Binding>,
}

/// Someone answered.
pub struct Answered {
    pub dialog: InviteDialog,
    /// The states of the answered dialog (a BYE from staff ends it).
    pub states: LegStates,
    pub negotiated: Negotiated,
    pub extension: String,
}

/// How a transfer's ringing ended.
pub enum Dialled {
    Answered(Box<Answered>),
    /// Every device said busy or declined.
    Busy,
    /// At least one rang for the whole ring time, and nobody answered.
    NoAnswer,
    /// No device could be called (unreachable, errors, a broken answer).
    Failed,
}

/// How one INVITE ended.
enum Attempt {
    Answered(Box<Answered>),
    Busy,
    Failed,
}

/// Rings the rounds in turn; the first answer wins.
pub async fn ring(outbound: &Outbound, ring: Ring) -> Dialled {
    let mut busy = 0usize;
    let mut attempts = 0usize;
    let mut unanswered = false;
    for round in &ring.rounds {
        let mut pending: FuturesUnordered<_> = round
            .devices
            .iter()
            .map(|device| invite(outbound, &ring, device))
            .collect();
        attempts += round.devices.len();
        let outcome = tokio::time::timeout(ring.ring_time, async {
            while let Some(attempt) = pending.next().await {
                match attempt {
                    Attempt::Answered(answered) => return Some(answered),
                    Attempt::Busy => busy += 1,
                    Attempt::Failed => {}
                }
            }
            None
        })
        .await;
        match outcome {
            Ok(Some(answered)) => return Dialled::Answered(answered),
            Ok(None) => {}
            Err(_elapsed) => unanswered = true,
        }
        // Dropping `pending` cancels the INVITEs still ringing.
    }
    if unanswered {
        Dialled::NoAnswer
    } else if attempts > 0 && busy == attempts {
        Dialled::Busy
    } else {
        Dialled::Failed
    }
}

/// One INVITE to one device, until its final answer.
async fn invite(outbound: &Outbound, ring: &Ring, device: &Binding) -> Attempt {
    let call_id = format!(
        "{:016x}{:016x}@centralino",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let Some(mut options) = invite_options(outbound, ring, device) else {
        return Attempt::Failed;
    };
    options.call_id = Some(call_id.clone());
    // Ringing until answered; any other end (refused, cancelled: this future dropped) ends it.
    let (sender, states) = outbound.states.open(&call_id);
    let mut ringing = Ringing::start(&ring.desk, &device.extension, call_id);
    let result = outbound.dialogs.do_invite(options, sender).await;
    let (dialog, response) = match result {
        Ok(done) => done,
        Err(e) => {
            info!(extension = %device.extension, contact = %device.contact, error = %e, "staff device not reached");
            return Attempt::Failed;
        }
    };
    let Some(response) = response else {
        return Attempt::Failed;
    };
    match response.status_code.kind() {
        StatusCodeKind::Successful => match sdp::negotiate(&response.body) {
            Ok(negotiated) => {
                // The call takes over: it tells presence the call is answered, then ended.
                ringing.answered();
                Attempt::Answered(Box::new(Answered {
                    dialog,
                    states,
                    negotiated,
                    extension: device.extension.clone(),
                }))
            }
            Err(e) => {
                info!(extension = %device.extension, error = %e, "staff device answered without usable audio: hanging up");
                if let Err(e) = dialog.bye().await {
                    debug!(error = %e, "BYE");
                }
                outbound.dialogs.remove_dialog(&dialog.id());
                Attempt::Failed
            }
        },
        _ if is_busy(&response.status_code) => Attempt::Busy,
        _ => {
            debug!(extension = %device.extension, status = %response.status_code, "staff device did not answer");
            Attempt::Failed
        }
    }
}

/// A device ringing, as presence shows it: `early` from the INVITE until the answer;
/// `terminated` when it stops ringing unanswered (or the INVITE is dropped: cancelled).
struct Ringing<'a> {
    desk: &'a Desk,
    extension: String,
    call_id: String,
    answered: bool,
}

impl<'a> Ringing<'a> {
    fn start(desk: &'a Desk, extension: &str, call_id: String) -> Ringing<'a> {
        desk.send(DeskEvent::StaffLeg {
            extension: extension.to_owned(),
            call_id: call_id.clone(),
            state: CallState::Early,
        });
        Ringing {
            desk,
            extension: extension.to_owned(),
            call_id,
            answered: false,
        }
    }

    fn answered(&mut self) {
        self.answered = true;
    }
}

impl Drop for Ringing<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.desk.send(DeskEvent::StaffLeg {
                extension: std::mem::take(&mut self.extension),
                call_id: std::mem::take(&mut self.call_id),
                state: CallState::Terminated,
            });
        }
    }
}

fn is_busy(status: &StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BusyHere | StatusCode::BusyEverywhere | StatusCode::Decline
    )
}

fn invite_options(outbound: &Outbound, ring: &Ring, device: &Binding) -> Option<InviteOption> {
    let local = reachable_local(outbound.listen, device.source);
    let transport = match device.transport {
        SignalTransport::Udp => "udp",
        SignalTransport::Tcp => "tcp",
    };
    let caller = Uri::try_from(format!("sip:{}@{local}", sip_user(&ring.caller)).as_str()).ok()?;
    let callee = Uri::try_from(device.contact.as_str()).ok()?;
    let contact =
        Uri::try_from(format!("sip:centralino@{local};transport={transport}").as_str()).ok()?;
    let mut destination = SipAddr::from(device.source);
    destination.r#type = Some(match device.transport {
        SignalTransport::Udp => rsipstack::sip::Transport::Udp,
        SignalTransport::Tcp => rsipstack::sip::Transport::Tcp,
    });
    let media = if ring.media.ip().is_unspecified() {
        SocketAddr::new(local.ip(), ring.media.port())
    } else {
        ring.media
    };
    Some(InviteOption {
        caller_display_name: Some(ring.display.clone()),
        caller,
        callee,
        destination: Some(destination),
        content_type: Some(String::from("application/sdp")),
        offer: Some(sdp::offer(media, ring.session_id, 1).into_bytes()),
        contact,
        ..InviteOption::default()
    })
}

/// The address a device reaches us at: the listening address, or, when that is unspecified
/// (`0.0.0.0`), the local address of the route to the device.
pub(super) fn reachable_local(listen: SocketAddr, device: SocketAddr) -> SocketAddr {
    if !listen.ip().is_unspecified() {
        return listen;
    }
    let route = std::net::UdpSocket::bind(SocketAddr::new(listen.ip(), 0))
        .and_then(|socket| socket.connect(device).map(|()| socket))
        .and_then(|socket| socket.local_addr());
    match route {
        Ok(route) => SocketAddr::new(route.ip(), listen.port()),
        Err(_) => listen,
    }
}

/// A caller's number as the user part of a SIP URI: digits, `+`, `*`, `#` and letters pass;
/// anything else (or nothing) becomes `anonymous`.
fn sip_user(number: &str) -> String {
    let clean: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '.' | '-' | '_'))
        .take(32)
        .collect();
    if clean.is_empty() {
        String::from("anonymous")
    } else {
        clean
    }
}

/// The rounds of a transfer to these staff addresses (the office's present staff, in the
/// flow's order): one round per person, all their devices at once; or, with `all_at_once`,
/// one round of everyone's devices. People with no device registered are left out.
pub fn rounds(
    location: &dyn Location,
    contacts: &[String],
    all_at_once: bool,
    now: Timestamp,
) -> Vec<Round> {
    let per_person: Vec<Vec<Binding>> = contacts
        .iter()
        .filter_map(|contact| extension_of(contact))
        .map(|extension| location.bindings(extension, now))
        .filter(|devices| !devices.is_empty())
        .collect();
    if all_at_once {
        let devices: Vec<Binding> = per_person.into_iter().flatten().collect();
        if devices.is_empty() {
            Vec::new()
        } else {
            vec![Round { devices }]
        }
    } else {
        per_person
            .into_iter()
            .map(|devices| Round { devices })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Book(HashMap<String, Vec<Binding>>);

    impl Location for Book {
        fn bindings(&self, extension: &str, _now: Timestamp) -> Vec<Binding> {
            self.0.get(extension).cloned().unwrap_or_default()
        }
    }

    fn device(extension: &str, port: u16) -> Binding {
        Binding {
            extension: extension.to_owned(),
            contact: format!("sip:{extension}@127.0.0.1:{port}"),
            source: SocketAddr::from(([127, 0, 0, 1], port)),
            transport: SignalTransport::Udp,
            expires_at: Timestamp::UNIX_EPOCH,
            user_agent: None,
        }
    }

    fn terminated(call_id: &str) -> DialogState {
        let id = rsipstack::dialog::DialogId {
            call_id: call_id.to_owned(),
            local_tag: String::from("ours"),
            remote_tag: String::from("theirs"),
        };
        DialogState::Terminated(id, rsipstack::dialog::dialog::TerminatedReason::UasBye)
    }

    #[tokio::test]
    async fn each_placed_dialog_gets_its_own_states_until_its_receiver_is_dropped() {
        let (states, shared) = ClientStates::new();
        let routes = states.routes.clone();
        let (sender_a, mut a) = states.open("a@centralino");
        let (sender_b, b) = states.open("b@centralino");
        let router = tokio::spawn(ClientStates::route(states, shared));
        sender_b.send(terminated("b@centralino")).unwrap();
        sender_a.send(terminated("a@centralino")).unwrap();
        sender_a.send(terminated("nobody@centralino")).unwrap();
        let state = a.recv().await.unwrap();
        assert!(
            matches!(&state, DialogState::Terminated(id, _) if id.call_id == "a@centralino"),
            "{state}"
        );
        assert_eq!(routes.lock().unwrap().len(), 2);
        drop(b);
        assert_eq!(routes.lock().unwrap().len(), 1, "b's route left with it");
        // Once every sender is gone the router ends; `a` got its own state only.
        drop((sender_a, sender_b));
        router.await.unwrap();
        assert!(
            a.receiver.try_recv().is_err(),
            "only a's own state reached a"
        );
    }

    #[test]
    fn rounds_ring_people_in_turn_or_everyone_at_once() {
        let book = Book(HashMap::from([
            (
                String::from("201"),
                vec![device("201", 5001), device("201", 5002)],
            ),
            (String::from("203"), vec![device("203", 5003)]),
        ]));
        let contacts = ["sip:201@x", "sip:202@x", "sip:203@x"].map(String::from);
        let in_turn = rounds(&book, &contacts, false, Timestamp::UNIX_EPOCH);
        let ports = |round: &Round| {
            round
                .devices
                .iter()
                .map(|d| d.source.port())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            in_turn.iter().map(ports).collect::<Vec<_>>(),
            vec![vec![5001, 5002], vec![5003]],
            "202 has no device: left out"
        );
        let all = rounds(&book, &contacts, true, Timestamp::UNIX_EPOCH);
        assert_eq!(
            all.iter().map(ports).collect::<Vec<_>>(),
            vec![vec![5001, 5002, 5003]]
        );
        assert!(
            rounds(
                &book,
                &[String::from("sip:202@x")],
                true,
                Timestamp::UNIX_EPOCH
            )
            .is_empty()
        );
    }

    #[test]
    fn caller_numbers_become_safe_sip_users() {
        assert_eq!(sip_user("+39 075 075075"), "+39075075075");
        assert_eq!(sip_user("<sip:evil>@x"), "sipevilx");
        assert_eq!(sip_user(""), "anonymous");
        assert_eq!(sip_user("\"; drop"), "drop");
    }

    #[test]
    fn an_unspecified_listen_address_becomes_the_route_to_the_device() {
        let local = reachable_local(
            "0.0.0.0:5062".parse().unwrap(),
            "127.0.0.1:5070".parse().unwrap(),
        );
        assert_eq!(local, "127.0.0.1:5062".parse().unwrap());
        let fixed = reachable_local(
            "127.0.0.2:5062".parse().unwrap(),
            "127.0.0.1:5070".parse().unwrap(),
        );
        assert_eq!(fixed, "127.0.0.2:5062".parse().unwrap());
    }
}
