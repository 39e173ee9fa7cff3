//! One live call: its signalling and its [`CallPort`], in one owned task; its RTP stream is a
//! leg on a media thread (`media::legs`).
//!
//! ```text
//!   CallSignal (answer, ACK, INFO, re-INVITE, BYE) ──┐
//!   MediaEvent (prompt finished, digit, audio) ──────┼─► Call::run ─► CallPort ─► Session::step
//!   the port's timers ───────────────────────────────┤                  │ Action
//!   finished jobs (prompts, store, webhooks) ────────┘                  └─► leg / job / BYE
//! ```
//!
//! Jobs (a store write, a webhook's HTTP exchange, ringing staff) are the call's own: they run
//! beside it in its `JoinSet` while media and keys go on, and are aborted when the call ends.
//!
//! The task sleeps between events: frames leave from the media thread on absolute deadlines,
//! and RTP is accepted only from the address the caller's SDP gave. Everything between the
//! engine and the world (timers, pending events, store effects, the call log) is the port's;
//! this adapter only turns actions into SIP and media.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rsipstack::dialog::dialog::{DialogState, TransactionHandle};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, Request, StatusCode, StatusCodeKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Services;
use super::dial::{self, Dialled, LegStates, Outbound};
use super::sdp::{self, Negotiated};
use crate::calllog::RecordedPresence;
use crate::conference::{MuteKeys, PinEntry, PinStep, StaffKey, StaffKeys};
use crate::desk::{DeskEvent, QueueOrder};
use crate::engine::speech;
use crate::engine::{
    CallInfo, ChannelCommand, Event, Id, LineLoss, Media, Program, Session, TransferOutcome,
};
use crate::media::dtmf::parse_info_body;
use crate::media::legs::{
    FarEndInUse, InbandDtmf, Leg, LegCommand, LegHandle, MediaEvent, RoomId, Source,
};
use crate::media::prompt::{EncodedPrompt, PromptError};
use crate::media::wav::Recorder;
use crate::people::extension_of;
use crate::people::presence::CallState;
use crate::people::queue::{self, QueueOutcome};
use crate::port::{Action, CallPort, Phase, PortOptions, RecordingFinished, StoreDone, StoreJob};
use crate::server::{CallEntry, ChannelKind, LiveCall};

/// What the server tells a call about its signalling.
pub enum CallSignal {
    /// The INVITE arrived and the dialog is ready: ring and answer.
    Offered,
    /// The caller acknowledged our 200 OK: the flow starts.
    Confirmed,
    Info(Request, TransactionHandle),
    Reinvite(Request, TransactionHandle),
    Options(TransactionHandle),
    Terminated {
        by_caller: bool,
        reason: String,
    },
}

/// Live calls by Call-ID, for attended transfers: a call asks another for its staff leg.
#[derive(Default)]
pub struct Handovers {
    calls: std::sync::Mutex<std::collections::HashMap<String, mpsc::UnboundedSender<HandOver>>>,
}

impl Handovers {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, mpsc::UnboundedSender<HandOver>>>
    {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn register(&self, call_id: &str, sender: mpsc::UnboundedSender<HandOver>) {
        self.lock().insert(call_id.to_owned(), sender);
    }

    fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    fn find(&self, call_id: &str) -> Option<mpsc::UnboundedSender<HandOver>> {
        self.lock().get(call_id).cloned()
    }
}

/// Another call asks for this call's staff leg: its caller, a staff member, transfers the
/// person they called here to the caller they were talking to (RFC 3891 `Replaces`).
pub struct HandOver {
    /// The tags of this call's dialog as the transferring staff member named them: the
    /// server's (`to-tag`) and theirs (`from-tag`).
    local_tag: String,
    remote_tag: String,
    /// Who asks: the staff member transferring (it must be this call's caller).
    by: Option<String>,
    reply: tokio::sync::oneshot::Sender<Option<HandedOver>>,
}

/// A staff leg given to another call: its dialog (still up), its states and its SDP session.
pub struct HandedOver {
    dialog: InviteDialog,
    states: LegStates,
    sdp: SdpSession,
    extension: String,
    staff_call_id: String,
}

/// What a call is for.
pub enum CallKind {
    /// A citizen's call: the flow of the number answers.
    Flow,
    /// Staff dialled a code: they hear what it did, then the call ends.
    Announcement(speech::SystemText),
    /// Staff call a colleague or an office: the caller hears ringing until someone answers,
    /// then the two are bridged (the offices use Centralino as their phone system).
    Direct {
        /// The extension or office dialled.
        target: String,
        /// What the called phones show.
        display: String,
        rounds: Vec<dial::Round>,
        ring_time: Duration,
    },
}

/// Whom a staff member reaches by dialling `number`: a colleague's extension (their devices)
/// or an office (its available staff, in turn). `None`: neither (or themselves).
pub fn direct_target(
    program: &Program,
    services: &Services,
    number: &str,
    caller: &str,
) -> Option<CallKind> {
    let now = jiff::Timestamp::now();
    let graph = &program.graph;
    let name_of = |extension: &str| {
        graph
            .offices
            .values()
            .flat_map(|office| office.staff.iter())
            .find(|s| extension_of(&s.contact) == Some(extension))
            .map(|s| s.name.clone().unwrap_or_else(|| extension.to_owned()))
    };
    let display = display_name(
        &name_of(caller).map_or_else(|| caller.to_owned(), |name| format!("{name} ({caller})")),
    );
    if let Some(office) = graph.offices.get(number) {
        let presence = services.desk.presence();
        let present: Vec<String> = office
            .staff
            .iter()
            .filter(|s| extension_of(&s.contact) != Some(caller))
            .filter(|s| crate::engine::Presence::is_present(&*presence, &s.contact))
            .map(|s| s.contact.clone())
            .collect();
        return Some(CallKind::Direct {
            target: number.to_owned(),
            display,
            rounds: dial::rounds(services.location.as_ref(), &present, false, now),
            ring_time: Duration::from_millis(office.ring_ms),
        });
    }
    if number == caller {
        return None;
    }
    let office = graph.offices.values().find(|office| {
        office
            .staff
            .iter()
            .any(|s| extension_of(&s.contact) == Some(number))
    })?;
    let devices = services.location.bindings(number, now);
    let rounds = if devices.is_empty() {
        Vec::new()
    } else {
        vec![dial::Round { devices }]
    };
    Some(CallKind::Direct {
        target: number.to_owned(),
        display,
        rounds,
        ring_time: Duration::from_millis(office.ring_ms.max(DIRECT_RING_MIN.as_millis() as u64)),
    })
}

/// A colleague's phone rings at least this long when called directly.
const DIRECT_RING_MIN: Duration = Duration::from_secs(30);

pub struct CallSetup {
    pub dialog: InviteDialog,
    pub program: Arc<Program>,
    pub services: Services,
    pub outbound: Arc<Outbound>,
    pub negotiated: Negotiated,
    pub number: String,
    pub caller: String,
    pub rtp_timeout: Duration,
    /// Ring this long before answering (0: answer at once).
    pub answer_delay: Duration,
    /// When keys are listened for as tones (the caller's leg and staff legs).
    pub inband_dtmf: InbandDtmf,
    pub token: CancellationToken,
    pub kind: CallKind,
}

/// Work done off the call's task.
enum Job {
    Loaded {
        playback: Id,
        prompt: Result<Arc<EncodedPrompt>, PromptError>,
    },
    Stored(StoreDone),
    Recorded(RecordingFinished),
    /// A transfer's ringing ended.
    Dialled {
        request: Id,
        dialled: Dialled,
    },
    /// A staff leg that could not be bridged was hung up.
    StaffHungUp,
    /// The hold music of a queue, loaded.
    Music(Result<Arc<EncodedPrompt>, PromptError>),
    /// A queue's offer to an agent ended ringing.
    Offered {
        agent: String,
        dialled: Dialled,
    },
    /// The colleague or office a staff member called answered, or not.
    DirectDialled(Dialled),
    /// The ringing for a call staff passed on (REFER) ended.
    Referred {
        target: String,
        dialled: Dialled,
    },
    /// A NOTIFY of a transfer's outcome (and the BYE after it) went out.
    Notified,
    /// A webhook's answer (or why it failed: the flow's `else`).
    Webhook {
        request: Id,
        result: Result<serde_json::Value, String>,
    },
    /// The caller answered the re-INVITE that moves their audio to a conference room's
    /// media thread (the answer's SDP), or did not (`None`).
    MovedToRoom(Option<Vec<u8>>),
    /// The colleague or office staff added to a bridged call (`*3`) answered, or not.
    ThirdDialled {
        number: String,
        dialled: Dialled,
    },
}

/// The caller and a conference room of the flow (`conference "sala" pin "1234"`).
struct Conference {
    /// The flow's request: answered with `ConferenceLeft` when the caller does not get in.
    request: Id,
    /// The room's name in the flows.
    name: String,
    stage: RoomStage,
}

enum RoomStage {
    /// Typing the PIN (the prompt asking for it, while it plays); a try ends at `deadline`.
    Pin { entry: PinEntry, deadline: Instant },
    /// Entered (counted in `Rooms`): the caller's audio moves to the room's media thread.
    Moving(RoomId),
    /// The welcome (how to mute) plays; then the leg joins the room.
    Welcome { room: RoomId, prompt: Id },
    /// In the room.
    In { keys: MuteKeys, muted: bool },
}

impl RoomStage {
    /// Whether the caller was counted in the room (everything after the PIN).
    fn entered(&self) -> bool {
        !matches!(self, RoomStage::Pin { .. })
    }
}

/// How long a caller has to type a room's PIN before it counts as a wrong try.
const PIN_TIME: Duration = Duration::from_secs(15);

async fn pin_deadline(conference: Option<&Conference>) {
    match conference.map(|c| &c.stage) {
        Some(RoomStage::Pin { deadline, .. }) => {
            tokio::time::sleep_until((*deadline).into()).await;
        }
        _ => std::future::pending().await,
    }
}

/// Staff passed the call on (blind transfer): the target is ringing.
struct Referral {
    ringing: tokio::task::AbortHandle,
}

/// The caller waits in an office's queue: the desk's orders, and what is playing.
struct Waiting {
    request: Id,
    orders: mpsc::UnboundedReceiver<QueueOrder>,
    music: Option<Arc<EncodedPrompt>>,
    /// The position being said (a prompt of the channel's own, not the flow's).
    announcing: Option<Id>,
    /// The agent being rung for this caller.
    offer: Option<Offer>,
    /// The agent answered but could not be bridged: the flow hears `failed`, not `answered`.
    connect_failed: bool,
}

struct Offer {
    agent: String,
    ringing: tokio::task::AbortHandle,
    answered: Option<Box<dial::Answered>>,
}

async fn next_order(waiting: &mut Option<Waiting>) -> Option<QueueOrder> {
    match waiting.as_mut() {
        Some(waiting) => waiting.orders.recv().await,
        None => std::future::pending().await,
    }
}

/// Staff on the other end of a transfer: their dialog and media leg, bridged to the caller's.
struct Bridge {
    dialog: InviteDialog,
    states: LegStates,
    leg: LegHandle,
    events: mpsc::UnboundedReceiver<MediaEvent>,
    sdp: SdpSession,
    extension: String,
    /// The staff leg's Call-ID (presence shows the call under it).
    staff_call_id: String,
    /// Put through by a queue: the queue hears when the call ends.
    from_queue: bool,
}

/// What the staff side of a bridge says.
enum BridgeEvent {
    State(Box<DialogState>),
    Media(MediaEvent),
    /// Its dialog's states ended (the dialog is gone).
    Closed,
}

async fn next_bridge_event(bridge: &mut Option<Bridge>) -> BridgeEvent {
    let Some(bridge) = bridge.as_mut() else {
        return std::future::pending().await;
    };
    tokio::select! {
        state = bridge.states.recv() => state.map_or(BridgeEvent::Closed, |s| BridgeEvent::State(Box::new(s))),
        event = bridge.events.recv() => event.map_or(BridgeEvent::Closed, BridgeEvent::Media),
    }
}

struct ActiveRecording {
    request: Id,
    variable: String,
    recorder: Recorder,
    relative: String,
}

/// The call's own clock: wall-clock time for the engine and the call log, advanced by the
/// monotonic clock, so timers do not jump when the system clock is set.
#[derive(Debug, Clone, Copy)]
struct CallClock {
    instant: Instant,
    at: Timestamp,
}

impl CallClock {
    fn start() -> CallClock {
        CallClock {
            instant: Instant::now(),
            at: Timestamp::now(),
        }
    }

    fn now(&self) -> Timestamp {
        let elapsed =
            SignedDuration::try_from(self.instant.elapsed()).unwrap_or(SignedDuration::MAX);
        self.at.checked_add(elapsed).unwrap_or(self.at)
    }

    /// The instant a timestamp of this clock falls on (now, if it is past).
    fn instant_of(&self, at: Timestamp) -> Instant {
        let ahead = at.duration_since(self.now());
        match Duration::try_from(ahead) {
            Ok(ahead) => Instant::now() + ahead,
            Err(_) => Instant::now(),
        }
    }
}

/// The SDP session this side offers: our address, what was negotiated, and the versions.
struct SdpSession {
    local: SocketAddr,
    negotiated: Negotiated,
    session_id: u64,
    version: u64,
}

impl SdpSession {
    fn answer(&self) -> String {
        sdp::answer(self.local, &self.negotiated, self.session_id, self.version)
    }

    /// The leg as the registry shows it.
    fn describe(&self) -> String {
        let n = &self.negotiated;
        let hold = if n.on_hold { " (on hold)" } else { "" };
        format!(
            "rtp {} <-> {} {}{hold}",
            self.local,
            n.remote,
            n.codec.name()
        )
    }
}

pub struct Call {
    dialog: InviteDialog,
    port: CallPort,
    services: Services,
    outbound: Arc<Outbound>,
    /// Staff the caller was put through to.
    bridge: Option<Bridge>,
    /// Waiting in a queue.
    waiting: Option<Waiting>,
    /// Ids of the channel's own prompts (queue positions), counting down from the top so they
    /// never meet the flow's.
    next_own_playback: Id,
    /// The channel's own prompts playing (not the flow's: the port does not know them).
    own_playbacks: Vec<Id>,
    /// A blind transfer by staff in progress.
    referral: Option<Referral>,
    /// End the call after the channel's own prompts (a transfer that found nobody).
    hang_up_after_prompts: bool,
    /// What the call is for (taken when acted on).
    kind: Option<CallKind>,
    /// Other calls asking for this call's staff leg (attended transfer).
    handovers: mpsc::UnboundedReceiver<HandOver>,
    /// During an attended transfer: the bridge being replaced (the staff member transferring).
    bridge_before_move: Option<Bridge>,
    /// In, or entering, a conference room.
    conference: Option<Conference>,
    /// The staff member's keys in a bridge (`*3` + number + `#` adds a party).
    staff_keys: StaffKeys,
    /// A party staff added (three-way call): the caller, staff and they share a room.
    third: Option<Bridge>,
    /// That party's phones ringing.
    third_ringing: Option<tokio::task::AbortHandle>,
    /// A staff member placing the call (a colleague, an office, a star code): presence shows
    /// them on it.
    staff_caller: Option<String>,
    rtp_timeout: Duration,
    inband_dtmf: InbandDtmf,
    clock: CallClock,
    sdp: SdpSession,
    media: LegHandle,
    media_events: mpsc::UnboundedReceiver<MediaEvent>,
    jobs: JoinSet<Job>,
    recording: Option<ActiveRecording>,
    answer_delay: Duration,
    answer_at: Option<Instant>,
    token: CancellationToken,
    /// The call's line in the server's registry (removed when the call is dropped).
    entry: CallEntry,
}

impl Call {
    /// A call whose leg is on a media thread; refused when the caller's RTP address has a call
    /// on every media thread and no RTP port is free for a socket of the call's own.
    pub fn new(setup: CallSetup) -> Result<Call, FarEndInUse> {
        let (events, media_events) = mpsc::unbounded_channel();
        let leg = Leg::new(setup.negotiated.clone(), setup.rtp_timeout, events)
            .with_inband(setup.inband_dtmf);
        let media = setup.services.media.add(leg)?;
        let local = media.local_addr();
        let call_info = CallInfo {
            call_id: setup.dialog.id().call_id.clone(),
            caller: setup.caller,
            number: setup.number,
        };
        let clock = CallClock::start();
        let sdp = SdpSession {
            local,
            negotiated: setup.negotiated,
            // Calls on one media thread share its port: the random half tells their sessions apart.
            session_id: u64::from(local.port()) << 32 | u64::from(fastrand::u32(..)),
            version: 1,
        };
        let entry = setup.services.registry.register(LiveCall {
            call_id: call_info.call_id.clone(),
            channel: ChannelKind::Sip,
            caller: call_info.caller.clone(),
            number: call_info.number.clone(),
            version: setup.program.version().to_owned(),
            flow: String::new(),
            state: String::new(),
            since: clock.now(),
            answered: false,
            legs: vec![sdp.describe()],
        });
        let staff_caller = match setup.kind {
            CallKind::Flow => None,
            CallKind::Announcement(_) | CallKind::Direct { .. } => Some(call_info.caller.clone()),
        };
        let (handover_sender, handovers) = mpsc::unbounded_channel();
        setup
            .services
            .handovers
            .register(&call_info.call_id, handover_sender);
        // The presence answers are kept with the call's events, so it can be replayed exactly.
        let presence = Arc::new(RecordedPresence::new(
            setup.services.desk.presence(),
            setup.program.clone(),
        ));
        let session = Session::new(setup.program, call_info).with_presence(presence.clone());
        let options = PortOptions {
            call_log: Some(setup.services.store.clone()),
            presence_log: Some(presence),
            channel: String::from("sip"),
            journal: false,
        };
        Ok(Call {
            dialog: setup.dialog,
            port: CallPort::new(session, options, clock.now()),
            services: setup.services,
            outbound: setup.outbound,
            bridge: None,
            waiting: None,
            next_own_playback: Id::MAX,
            own_playbacks: Vec::new(),
            referral: None,
            hang_up_after_prompts: false,
            staff_caller,
            kind: Some(setup.kind),
            handovers,
            bridge_before_move: None,
            conference: None,
            staff_keys: StaffKeys::default(),
            third: None,
            third_ringing: None,
            rtp_timeout: setup.rtp_timeout,
            inband_dtmf: setup.inband_dtmf,
            clock,
            sdp,
            media,
            media_events,
            jobs: JoinSet::new(),
            recording: None,
            answer_delay: setup.answer_delay,
            answer_at: None,
            token: setup.token,
            entry,
        })
    }

    fn call_id(&self) -> &str {
        &self.port.call().call_id
    }

    fn program(&self) -> &Arc<Program> {
        self.port.program()
    }

    /// Run until the call ends; then the server forgets it.
    pub async fn run(mut self, mut signals: mpsc::UnboundedReceiver<CallSignal>) {
        loop {
            match self.port.phase() {
                // A bridged call goes on after its flow: until either side hangs up.
                // A call passed on that found nobody: end it once the caller heard why.
                Phase::Over if self.hang_up_after_prompts && self.own_playbacks.is_empty() => {
                    self.bye().await;
                    break;
                }
                // A bridged call goes on after its flow: until either side hangs up (or while
                // staff pass it on).
                Phase::Over
                    if self.bridge.is_none()
                        && self.referral.is_none()
                        && !self.hang_up_after_prompts =>
                {
                    break;
                }
                Phase::Over => {}
                Phase::HangingUp if self.port.ready_to_hang_up() => {
                    self.bye().await;
                    break;
                }
                Phase::Waiting | Phase::Running | Phase::HangingUp => {}
            }
            let timer_deadline = self.port.next_timer().map(|due| self.clock.instant_of(due));
            tokio::select! {
                () = self.token.cancelled() => {
                    info!(call = %self.call_id(), "ending the call (shutdown)");
                    self.line_gone(Some(LineLoss::Shutdown));
                    self.leave_room();
                    self.bye().await;
                    break;
                }
                order = next_order(&mut self.waiting) => match order {
                    Some(order) => self.on_order(order),
                    None => self.waiting = None,
                },
                Some(request) = self.handovers.recv() => {
                    if self.hand_over(request).await {
                        break;
                    }
                }
                event = next_bridge_event(&mut self.bridge) => {
                    if self.on_bridge_event(event).await {
                        break;
                    }
                }
                event = next_bridge_event(&mut self.third) => self.on_third_event(event).await,
                signal = signals.recv() => match signal {
                    Some(signal) => self.on_signal(signal).await,
                    None => break,
                },
                event = self.media_events.recv() => match event {
                    Some(MediaEvent::Silent) => {
                        warn!(call = %self.call_id(), "no RTP from the caller: ending the call");
                        self.line_gone(Some(LineLoss::Silence));
                        // Out of the room at once: a BYE to a dead line waits its whole timeout.
                        self.leave_room();
                        self.bye().await;
                        break;
                    }
                    Some(event) => self.on_media(event),
                    None => break,
                },
                () = sleep_until(timer_deadline) => self.fire_timers(),
                () = pin_deadline(self.conference.as_ref()) => self.pin_timed_out(),
                () = sleep_until(self.answer_at) => {
                    self.answer_at = None;
                    self.answer();
                }
                Some(done) = self.jobs.join_next(), if !self.jobs.is_empty() => match done {
                    Ok(job) => self.on_job(job),
                    Err(e) => warn!(call = %self.call_id(), error = %e, "a job of the call failed"),
                },
            }
        }
        self.services
            .handovers
            .remove(self.port.call().call_id.as_str());
        self.end_bridge().await;
        self.leave_room();
        if let Some(extension) = self.staff_caller.take() {
            self.services.desk.send(DeskEvent::StaffLeg {
                extension,
                call_id: self.call_id().to_owned(),
                state: CallState::Terminated,
            });
        }
        if self.waiting.take().is_some() {
            let call = self.call_id().to_owned();
            self.services
                .desk
                .send(DeskEvent::Queue(queue::Event::CallerHungUp { call }));
        }
        self.jobs.shutdown().await;
        if self.port.outcome().is_none() {
            // The flow never heard of the end (the caller left before the answer went out).
            info!(call = %self.call_id(), version = %self.program().version(), "call ended");
        }
        self.port.close(self.clock.now());
    }

    async fn bye(&mut self) {
        if let Err(e) = self.dialog.bye().await {
            debug!(call = %self.call_id(), error = %e, "BYE");
        }
    }

    /// The caller hung up (`None`), or the line went away: the flow hears which.
    fn line_gone(&mut self, loss: Option<LineLoss>) {
        let at = self.clock.now();
        self.feed(match loss {
            None => Event::Hangup { at },
            Some(loss) => Event::LineLost { loss, at },
        });
        self.port.gone();
    }

    async fn on_signal(&mut self, signal: CallSignal) {
        match signal {
            CallSignal::Offered => {
                let _ = self.dialog.ringing(None, None);
                match self.kind.as_mut() {
                    Some(CallKind::Direct {
                        target,
                        display,
                        rounds,
                        ring_time,
                    }) => {
                        let target = target.clone();
                        let display = std::mem::take(display);
                        let rounds = std::mem::take(rounds);
                        let ring_time = *ring_time;
                        self.ring_direct(&target, display, rounds, ring_time);
                    }
                    Some(CallKind::Flow | CallKind::Announcement(_)) | None => {
                        if self.answer_delay.is_zero() {
                            self.answer();
                        } else {
                            self.answer_at = Some(Instant::now() + self.answer_delay);
                        }
                    }
                }
            }
            CallSignal::Confirmed => {
                if self.port.phase() == Phase::Waiting {
                    info!(call = %self.call_id(), version = %self.program().version(), "call answered");
                    self.media.send(LegCommand::Start);
                    self.entry.answered();
                    match self.kind.take() {
                        Some(CallKind::Flow) | None => {
                            let actions = self.port.start(self.clock.now());
                            self.act(actions);
                        }
                        Some(CallKind::Announcement(text)) => {
                            // No flow: what the code did, then goodbye.
                            self.port.gone();
                            self.system_prompt(text);
                            self.hang_up_after_prompts = true;
                        }
                        Some(CallKind::Direct { .. }) => {
                            // No flow: the bridge made before the answer carries the call.
                            self.port.gone();
                            if let Some(extension) = self.staff_caller.clone() {
                                self.services.desk.send(DeskEvent::StaffLeg {
                                    extension,
                                    call_id: self.call_id().to_owned(),
                                    state: CallState::Confirmed,
                                });
                            }
                        }
                    }
                }
            }
            CallSignal::Info(request, handle) => {
                let content_type = request
                    .headers
                    .iter()
                    .find_map(|h| match h {
                        Header::ContentType(c) => Some(c.value().to_owned()),
                        _ => None,
                    })
                    .unwrap_or_default();
                match parse_info_body(&content_type, &request.body) {
                    Ok(digit) => {
                        let _ = handle.reply(StatusCode::OK).await;
                        self.key(digit.digit);
                    }
                    Err(e) => {
                        debug!(error = %e, "INFO without a DTMF digit");
                        let _ = handle.reply(StatusCode::UnsupportedMediaType).await;
                    }
                }
            }
            CallSignal::Reinvite(request, handle) => match sdp::negotiate(&request.body) {
                Ok(negotiated) => {
                    self.sdp.version += 1;
                    self.media
                        .send(LegCommand::Renegotiated(negotiated.clone()));
                    self.sdp.negotiated = negotiated;
                    let leg = self.sdp.describe();
                    self.entry.update(|call| call.legs = vec![leg]);
                    let headers = vec![Header::ContentType("application/sdp".into())];
                    let body = self.sdp.answer();
                    let _ = handle
                        .respond(StatusCode::OK, Some(headers), Some(body.into_bytes()))
                        .await;
                    info!(call = %self.call_id(), hold = self.sdp.negotiated.on_hold, "re-INVITE");
                }
                Err(e) => {
                    debug!(error = %e, "re-INVITE refused");
                    let _ = handle.reply(StatusCode::NotAcceptableHere).await;
                }
            },
            CallSignal::Options(handle) => {
                let _ = handle.reply(StatusCode::OK).await;
            }
            CallSignal::Terminated { by_caller, reason } => {
                if by_caller {
                    debug!(call = %self.call_id(), %reason, "dialog terminated by the caller");
                    self.line_gone(None);
                    self.end_bridge().await;
                } else {
                    // E.g. `Timeout`: no ACK for our 200 OK within 64·T1 (rsipstack sends BYE).
                    info!(call = %self.call_id(), %reason, "dialog terminated by the SIP stack");
                    self.line_gone(Some(LineLoss::Signalling));
                    self.end_bridge().await;
                }
            }
        }
    }

    /// 200 OK with our SDP answer.
    fn answer(&mut self) {
        let body = self.sdp.answer();
        let headers = vec![Header::ContentType("application/sdp".into())];
        if let Err(e) = self.dialog.accept(Some(headers), Some(body.into_bytes())) {
            debug!(error = %e, "the caller left before the answer");
            self.port.gone();
        }
    }

    fn on_media(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Finished(playback) if self.own_playbacks.contains(&playback) => {
                self.own_prompt_ended(playback);
            }
            MediaEvent::Finished(playback) => {
                let actions = self.port.playback_finished(playback, self.clock.now());
                self.act(actions);
            }
            // An in-band key reaches bridged staff in the audio itself.
            MediaEvent::Digit(_) if self.bridge.is_some() => {}
            MediaEvent::Digit(digit) => self.digit(digit),
            MediaEvent::Key(key) => self.key(key),
            MediaEvent::Audio(pcm) => {
                if let Some(recording) = self.recording.as_mut() {
                    if let Err(e) = recording.recorder.write_pcm(&pcm) {
                        warn!(call = %self.port.call().call_id, error = %e, "the recording could not be written");
                    }
                    if recording.recorder.is_full() {
                        self.finish_recording();
                    }
                }
            }
            // Handled by the run loop (it ends the call).
            MediaEvent::Silent => {}
        }
    }

    /// A key the caller sent as an event (RFC 4733, SIP INFO): for the flow, or passed on to
    /// the staff they talk to.
    fn key(&mut self, key: char) {
        match self.bridge.as_ref() {
            Some(bridge) => bridge.leg.send(LegCommand::SendKey(key)),
            None => self.digit(key),
        }
    }

    fn digit(&mut self, digit: char) {
        if self.port.phase() == Phase::Waiting {
            return;
        }
        if self.recording.is_some() {
            // A key ends the recording (callers press # when done).
            self.finish_recording();
            return;
        }
        if self.conference.is_some() {
            self.conference_key(digit);
            return;
        }
        let at = self.clock.now();
        self.feed(Event::Digit { digit, at });
    }

    fn fire_timers(&mut self) {
        let now = self.clock.now();
        while let Some(event) = self.port.pop_timer_due_by(now) {
            self.feed(event);
        }
    }

    fn on_job(&mut self, job: Job) {
        match job {
            Job::Loaded { playback, prompt } => match prompt {
                Ok(frames) => {
                    if self.port.is_playing(playback) || self.own_playbacks.contains(&playback) {
                        self.media.send(LegCommand::Loaded(playback, frames));
                    }
                }
                Err(e) => {
                    if self.services.prompts.first_report(&e) {
                        warn!(call = %self.call_id(), error = %e, "prompt skipped");
                    } else {
                        debug!(call = %self.call_id(), error = %e, "prompt skipped");
                    }
                    self.media.send(LegCommand::Drop(playback));
                    if self.own_playbacks.contains(&playback) {
                        self.own_prompt_ended(playback);
                    } else {
                        let actions = self.port.playback_finished(playback, self.clock.now());
                        self.act(actions);
                    }
                }
            },
            Job::Stored(done) => {
                self.port.store_done(done);
                self.act(Vec::new());
            }
            Job::Webhook { request, result } => {
                self.port.post(Event::WebhookResult {
                    request,
                    result,
                    at: self.clock.now(),
                });
                self.act(Vec::new());
            }
            Job::Recorded(finished) => {
                let job = self.port.recorded(finished);
                self.store(job);
            }
            Job::Dialled { request, dialled } => self.dialled(request, dialled),
            Job::StaffHungUp => {}
            Job::Music(Ok(music)) => {
                if let Some(waiting) = self.waiting.as_mut() {
                    waiting.music = Some(music.clone());
                    if waiting.announcing.is_none() && waiting.offer.is_none() {
                        self.media.send(LegCommand::Source(Source::Loop(music)));
                    }
                }
            }
            Job::Music(Err(e)) => {
                warn!(call = %self.call_id(), error = %e, "queue music skipped");
            }
            Job::Offered { agent, dialled } => self.offered(agent, dialled),
            Job::Referred { target, dialled } => self.referred(&target, dialled),
            Job::DirectDialled(dialled) => self.direct_dialled(dialled),
            Job::Notified => {}
            Job::MovedToRoom(answer) => self.moved_to_room(answer),
            Job::ThirdDialled { number, dialled } => self.third_dialled(&number, dialled),
        }
    }

    /// Feed one event; carry out what follows, and every event it queues.
    fn feed(&mut self, event: Event) {
        let actions = self.port.feed(event);
        self.act(actions);
    }

    /// Carry out actions, then feed the port's pending events until none is left.
    fn act(&mut self, mut actions: Vec<Action>) {
        loop {
            for action in actions {
                self.act_one(action);
            }
            match self.port.next_pending() {
                Some(event) => actions = self.port.feed(event),
                None => break,
            }
        }
        if let Some((flow, state)) = self.port.session().position() {
            self.entry.update(|call| {
                if call.flow != flow || call.state != state {
                    flow.clone_into(&mut call.flow);
                    state.clone_into(&mut call.state);
                }
            });
        }
    }

    fn act_one(&mut self, action: Action) {
        match action {
            Action::Channel(ChannelCommand::Play {
                playback, media, ..
            }) => self.play(playback, media),
            Action::Channel(ChannelCommand::StopPlayback { playback }) => {
                self.media.send(LegCommand::Drop(playback));
            }
            Action::Channel(ChannelCommand::Transfer {
                request,
                office,
                contacts,
                ring_ms,
                ring_all,
            }) => self.transfer(request, &office, &contacts, ring_ms, ring_all),
            Action::Channel(ChannelCommand::Enqueue {
                request,
                office,
                contacts: _,
                music,
                max_wait_ms,
                announce_position,
            }) => self.enqueue(request, office, music, max_wait_ms, announce_position),
            Action::Channel(ChannelCommand::Webhook {
                request,
                url,
                body,
                timeout_ms,
            }) => self.webhook(request, url, body, timeout_ms),
            Action::Channel(ChannelCommand::JoinConference { request, room, pin }) => {
                self.join_conference(request, room, pin);
            }
            Action::Channel(ChannelCommand::Record {
                request,
                variable,
                max_ms,
            }) => self.start_recording(request, variable, max_ms),
            Action::Store(job) => self.store(job),
            // The run loop says BYE once the port is ready to hang up.
            Action::HangUp(reason) => {
                debug!(call = %self.call_id(), %reason, "hanging up after the prompts");
            }
            Action::Ended(reason) => {
                info!(call = %self.call_id(), %reason, version = %self.program().version(), "call ended");
            }
        }
    }

    /// Call a webhook off the call's task: the answer comes back as `Job::Webhook`; media and
    /// keys go on meanwhile. The task is the call's (a job): it is aborted when the call ends.
    fn webhook(
        &mut self,
        request: Id,
        url: String,
        body: std::collections::BTreeMap<String, String>,
        timeout_ms: u64,
    ) {
        let client = self.services.webhooks.clone();
        let call_id = self.call_id().to_owned();
        self.jobs.spawn(async move {
            let result = client
                .call(&call_id, &url, &body, Duration::from_millis(timeout_ms))
                .await
                .map_err(|e| e.to_string());
            Job::Webhook { request, result }
        });
    }

    /// Ring the office's present staff (devices registered for them); the answer comes back as
    /// `Job::Dialled`. Nobody registered: busy at once.
    fn transfer(
        &mut self,
        request: Id,
        office: &str,
        contacts: &[String],
        ring_ms: u64,
        all_at_once: bool,
    ) {
        let now = self.clock.now();
        let rounds = dial::rounds(self.services.location.as_ref(), contacts, all_at_once, now);
        let media = self.services.media.local_addr(self.media.group());
        let (false, Some(media)) = (rounds.is_empty(), media) else {
            info!(call = %self.call_id(), %office, "transfer: no staff device registered");
            self.port.post(Event::TransferResult {
                request,
                outcome: TransferOutcome::Busy,
                at: now,
            });
            return;
        };
        let title = self
            .program()
            .graph
            .offices
            .get(office)
            .map_or(office, |o| o.title.as_str());
        let caller = &self.port.call().caller;
        let display = display_name(&format!("{caller} - {title}"));
        let devices: usize = rounds.iter().map(|r| r.devices.len()).sum();
        info!(call = %self.call_id(), %office, rounds = rounds.len(), devices, "transfer: ringing staff");
        let ring = dial::Ring {
            rounds,
            ring_time: Duration::from_millis(ring_ms),
            caller: caller.clone(),
            display,
            media,
            session_id: u64::from(media.port()) << 32 | u64::from(fastrand::u32(..)),
            desk: self.services.desk.clone(),
        };
        let outbound = self.outbound.clone();
        self.jobs.spawn(async move {
            Job::Dialled {
                request,
                dialled: dial::ring(&outbound, ring).await,
            }
        });
    }

    /// A transfer's ringing ended: bridge the one who answered, or tell the flow why not.
    fn dialled(&mut self, request: Id, dialled: Dialled) {
        let at = self.clock.now();
        let outcome = match dialled {
            Dialled::Answered(answered) => self.connect(*answered, false),
            Dialled::Busy => TransferOutcome::Busy,
            Dialled::NoAnswer => TransferOutcome::NoAnswer,
            Dialled::Failed => TransferOutcome::Failed,
        };
        info!(call = %self.call_id(), ?outcome, "transfer");
        self.port.post(Event::TransferResult {
            request,
            outcome,
            at,
        });
        self.act(Vec::new());
        if self.port.session().is_bridged() {
            self.port.bridged(self.clock.now());
        }
    }

    /// Staff answered: their leg joins the caller's media thread and the two are bridged.
    fn connect(&mut self, answered: dial::Answered, from_queue: bool) -> TransferOutcome {
        let (events, media_events) = mpsc::unbounded_channel();
        let leg = Leg::new(answered.negotiated.clone(), self.rtp_timeout, events)
            .with_inband(self.inband_dtmf);
        let placed = self.services.media.add_to(self.media.group(), leg);
        let handle = match placed {
            Ok(handle) => handle,
            Err(e) => {
                warn!(call = %self.call_id(), error = %e, "no media for the staff leg: hanging it up");
                self.hang_up_staff(answered);
                return TransferOutcome::Failed;
            }
        };
        handle.send(LegCommand::Start);
        if let Err(e) = self.media.bridge(&handle) {
            // Unreachable: the staff leg was added to the caller's group.
            warn!(call = %self.call_id(), error = %e, "bridge");
        }
        let sdp = SdpSession {
            local: handle.local_addr(),
            negotiated: answered.negotiated,
            session_id: u64::from(handle.local_addr().port()) << 32 | u64::from(fastrand::u32(..)),
            version: 1,
        };
        let staff_leg = format!("staff {}: {}", answered.extension, sdp.describe());
        self.entry.update(|call| call.legs.push(staff_leg));
        info!(call = %self.call_id(), extension = %answered.extension, "staff answered: bridged");
        let staff_call_id = answered.dialog.id().call_id.clone();
        self.services.desk.send(DeskEvent::StaffLeg {
            extension: answered.extension.clone(),
            call_id: staff_call_id.clone(),
            state: CallState::Confirmed,
        });
        self.bridge = Some(Bridge {
            staff_call_id,
            from_queue,
            dialog: answered.dialog,
            states: answered.states,
            leg: handle,
            events: media_events,
            sdp,
            extension: answered.extension,
        });
        TransferOutcome::Answered
    }

    /// Something from the staff side of the bridge; `true` when the call is over.
    async fn on_bridge_event(&mut self, event: BridgeEvent) -> bool {
        let event = match event {
            BridgeEvent::State(state) => Ok(*state),
            BridgeEvent::Media(media) => Err(Some(media)),
            BridgeEvent::Closed => Err(None),
        };
        match event {
            Ok(DialogState::Terminated(_, reason)) => {
                info!(call = %self.call_id(), ?reason, "staff hung up");
                self.forget_bridge();
                if self.third_takes_over() {
                    return false;
                }
                if self.referral.is_some() {
                    // A blind transfer: the caller waits for the next person.
                    return false;
                }
                self.bye().await;
                true
            }
            Err(None) => {
                self.forget_bridge();
                if self.third_takes_over() {
                    return false;
                }
                if self.referral.is_some() {
                    return false;
                }
                self.bye().await;
                true
            }
            Err(Some(MediaEvent::Silent)) => {
                warn!(call = %self.call_id(), "no RTP from staff: ending the call");
                self.end_bridge().await;
                self.bye().await;
                true
            }
            Ok(DialogState::Updated(_, request, handle)) => {
                self.staff_reinvite(&request, handle).await;
                false
            }
            Ok(DialogState::Info(_, _, handle) | DialogState::Options(_, _, handle)) => {
                let _ = handle.reply(StatusCode::OK).await;
                false
            }
            Ok(DialogState::Refer(_, request, handle)) => {
                self.on_refer(&request, handle).await;
                false
            }
            Ok(
                DialogState::Notify(_, _, handle)
                | DialogState::Message(_, _, handle)
                | DialogState::Publish(_, _, handle),
            ) => {
                let _ = handle.reply(StatusCode::NotImplemented).await;
                false
            }
            Ok(
                DialogState::Calling(_)
                | DialogState::Trying(_)
                | DialogState::Early(..)
                | DialogState::WaitAck(..)
                | DialogState::Confirmed(..),
            ) => false,
            // Staff keys and audio are theirs; prompts never play on the staff leg.
            // Staff keys sent as events pass on to the caller (in-band ones are in the audio).
            Err(Some(MediaEvent::Key(key))) => {
                self.staff_key(key);
                false
            }
            Err(Some(MediaEvent::Digit(_) | MediaEvent::Audio(_) | MediaEvent::Finished(_))) => {
                false
            }
        }
    }

    /// Staff put the call on hold, took it back, or moved their audio.
    async fn staff_reinvite(&mut self, request: &Request, handle: TransactionHandle) {
        if let Some(bridge) = self.bridge.as_mut() {
            answer_staff_reinvite(bridge, request, handle).await;
        }
    }

    /// The staff side ended by itself: forget its dialog.
    fn forget_bridge(&mut self) {
        if let Some(bridge) = self.bridge.take() {
            self.outbound.dialogs.remove_dialog(&bridge.dialog.id());
            debug!(call = %self.call_id(), extension = %bridge.extension, "bridge ended");
            self.bridge_ended(&bridge);
        }
    }

    /// Hang up on staff (the caller left, or the call ends), and on a party they added.
    async fn end_bridge(&mut self) {
        if let Some(ringing) = self.third_ringing.take() {
            ringing.abort();
        }
        if let Some(third) = self.third.take() {
            if let Err(e) = third.dialog.bye().await {
                debug!(call = %self.call_id(), error = %e, "BYE to the added party");
            }
            self.outbound.dialogs.remove_dialog(&third.dialog.id());
            self.bridge_ended(&third);
        }
        if let Some(bridge) = self.bridge.take() {
            if let Err(e) = bridge.dialog.bye().await {
                debug!(call = %self.call_id(), error = %e, "BYE to staff");
            }
            self.outbound.dialogs.remove_dialog(&bridge.dialog.id());
            self.bridge_ended(&bridge);
        }
    }

    /// Presence and the queues hear that staff are free again.
    fn bridge_ended(&self, bridge: &Bridge) {
        self.services.desk.send(DeskEvent::StaffLeg {
            extension: bridge.extension.clone(),
            call_id: bridge.staff_call_id.clone(),
            state: CallState::Terminated,
        });
        if bridge.from_queue {
            self.services
                .desk
                .send(DeskEvent::Queue(queue::Event::CallEnded {
                    call: self.call_id().to_owned(),
                    agent: bridge.extension.clone(),
                }));
        }
    }

    // ------------------------------------------------------------------ three-way calls

    /// A key from the bridged staff member: passed on to the caller, or part of `*3`.
    fn staff_key(&mut self, key: char) {
        match self.staff_keys.key(key) {
            StaffKey::Held | StaffKey::Dropped => {}
            StaffKey::Pass(keys) => {
                for key in keys {
                    self.media.send(LegCommand::SendKey(key));
                }
            }
            StaffKey::AddParty(number) => self.add_party(number),
        }
    }

    /// Staff dialled `*3` + `number` + `#`: ring that colleague or office (only the staff and
    /// offices of the flows: never an outside number); on answer the three share a room.
    fn add_party(&mut self, number: String) {
        let Some(staff) = self.bridge.as_ref().map(|b| b.extension.clone()) else {
            return;
        };
        if self.third.is_some() || self.third_ringing.is_some() {
            info!(call = %self.call_id(), %number, "three-way: a party is already added or ringing");
            return;
        }
        if number == staff {
            return;
        }
        let Some((rounds, ring_time)) = self.refer_target(&number) else {
            info!(call = %self.call_id(), %number, "three-way: no staff member or office");
            return;
        };
        let media = self.services.media.local_addr(self.media.group());
        let (false, Some(media)) = (rounds.is_empty(), media) else {
            info!(call = %self.call_id(), %number, "three-way: nobody to ring");
            return;
        };
        info!(call = %self.call_id(), %number, by = %staff, "three-way: ringing");
        let caller = &self.port.call().caller;
        let ring = dial::Ring {
            rounds,
            ring_time,
            caller: caller.clone(),
            display: display_name(&format!("{caller} - conferenza ({staff})")),
            media,
            session_id: u64::from(media.port()) << 32 | u64::from(fastrand::u32(..)),
            desk: self.services.desk.clone(),
        };
        let outbound = self.outbound.clone();
        self.third_ringing = Some(self.jobs.spawn(async move {
            Job::ThirdDialled {
                number,
                dialled: dial::ring(&outbound, ring).await,
            }
        }));
    }

    /// The added party answered: the caller, the staff member and they join one room of the
    /// caller's media thread (each hears the other two).
    fn third_dialled(&mut self, number: &str, dialled: Dialled) {
        self.third_ringing = None;
        let answered = match dialled {
            Dialled::Answered(answered) if self.bridge.is_some() => *answered,
            Dialled::Answered(answered) => {
                self.hang_up_staff(*answered);
                return;
            }
            Dialled::Busy | Dialled::NoAnswer | Dialled::Failed => {
                info!(call = %self.call_id(), %number, "three-way: not answered");
                return;
            }
        };
        let (events, media_events) = mpsc::unbounded_channel();
        let leg = Leg::new(answered.negotiated.clone(), self.rtp_timeout, events)
            .with_inband(self.inband_dtmf);
        let handle = match self.services.media.add_to(self.media.group(), leg) {
            Ok(handle) => handle,
            Err(e) => {
                warn!(call = %self.call_id(), error = %e, "three-way: no media for the added party");
                self.hang_up_staff(answered);
                return;
            }
        };
        handle.send(LegCommand::Start);
        let room = self.services.media.room(self.media.group());
        let joined = [
            Some(&self.media),
            self.bridge.as_ref().map(|b| &b.leg),
            Some(&handle),
        ]
        .into_iter()
        .flatten()
        .try_for_each(|leg| leg.join(room));
        if let Err(e) = joined {
            // Unreachable: every leg is on the caller's thread.
            warn!(call = %self.call_id(), error = %e, "three-way");
        }
        let sdp = SdpSession {
            local: handle.local_addr(),
            negotiated: answered.negotiated,
            session_id: u64::from(handle.local_addr().port()) << 32 | u64::from(fastrand::u32(..)),
            version: 1,
        };
        let leg = format!("added {}: {}", answered.extension, sdp.describe());
        self.entry.update(|call| call.legs.push(leg));
        info!(call = %self.call_id(), extension = %answered.extension, "three-way: joined");
        let staff_call_id = answered.dialog.id().call_id.clone();
        self.services.desk.send(DeskEvent::StaffLeg {
            extension: answered.extension.clone(),
            call_id: staff_call_id.clone(),
            state: CallState::Confirmed,
        });
        self.third = Some(Bridge {
            dialog: answered.dialog,
            states: answered.states,
            leg: handle,
            events: media_events,
            sdp,
            extension: answered.extension,
            staff_call_id,
            from_queue: false,
        });
    }

    /// The staff member left a three-way call: the added party takes their place (the room
    /// goes on with the caller and them). Whether there was one.
    fn third_takes_over(&mut self) -> bool {
        let Some(third) = self.third.take() else {
            return false;
        };
        info!(call = %self.call_id(), extension = %third.extension, "three-way: the staff member left, the call goes on");
        self.bridge = Some(third);
        true
    }

    /// Something from the added party's side.
    async fn on_third_event(&mut self, event: BridgeEvent) {
        let event = match event {
            BridgeEvent::State(state) => Ok(*state),
            BridgeEvent::Media(media) => Err(Some(media)),
            BridgeEvent::Closed => Err(None),
        };
        match event {
            Ok(DialogState::Terminated(..)) | Err(None) => {
                if let Some(third) = self.third.take() {
                    info!(call = %self.call_id(), extension = %third.extension, "three-way: the added party left");
                    self.outbound.dialogs.remove_dialog(&third.dialog.id());
                    self.bridge_ended(&third);
                }
            }
            Err(Some(MediaEvent::Silent)) => {
                if let Some(third) = self.third.take() {
                    warn!(call = %self.call_id(), "no RTP from the added party: hanging up on them");
                    let _ = third.dialog.bye().await;
                    self.outbound.dialogs.remove_dialog(&third.dialog.id());
                    self.bridge_ended(&third);
                }
            }
            Ok(DialogState::Updated(_, request, handle)) => {
                if let Some(third) = self.third.as_mut() {
                    answer_staff_reinvite(third, &request, handle).await;
                }
            }
            Ok(DialogState::Info(_, _, handle) | DialogState::Options(_, _, handle)) => {
                let _ = handle.reply(StatusCode::OK).await;
            }
            Ok(
                DialogState::Refer(_, _, handle)
                | DialogState::Notify(_, _, handle)
                | DialogState::Message(_, _, handle)
                | DialogState::Publish(_, _, handle),
            ) => {
                let _ = handle.reply(StatusCode::NotImplemented).await;
            }
            Ok(
                DialogState::Calling(_)
                | DialogState::Trying(_)
                | DialogState::Early(..)
                | DialogState::WaitAck(..)
                | DialogState::Confirmed(..),
            )
            | Err(Some(
                MediaEvent::Key(_)
                | MediaEvent::Digit(_)
                | MediaEvent::Audio(_)
                | MediaEvent::Finished(_),
            )) => {}
        }
    }

    // ------------------------------------------------------------------ staff calling

    /// A staff member calls a colleague or an office: ring them; the caller hears ringing (180).
    fn ring_direct(
        &mut self,
        target: &str,
        display: String,
        rounds: Vec<dial::Round>,
        ring_time: Duration,
    ) {
        let media = self.services.media.local_addr(self.media.group());
        let (false, Some(media)) = (rounds.is_empty(), media) else {
            info!(call = %self.call_id(), %target, "staff call: nobody to ring");
            self.direct_dialled(Dialled::Busy);
            return;
        };
        info!(call = %self.call_id(), %target, rounds = rounds.len(), "staff call: ringing");
        let ring = dial::Ring {
            rounds,
            ring_time,
            caller: self.port.call().caller.clone(),
            display,
            media,
            session_id: u64::from(media.port()) << 32 | u64::from(fastrand::u32(..)),
            desk: self.services.desk.clone(),
        };
        let outbound = self.outbound.clone();
        self.jobs
            .spawn(async move { Job::DirectDialled(dial::ring(&outbound, ring).await) });
    }

    /// The colleague answered (bridge, then answer the caller) or not (486, 480).
    fn direct_dialled(&mut self, dialled: Dialled) {
        let refusal = match dialled {
            Dialled::Answered(answered) => match self.connect(*answered, false) {
                TransferOutcome::Answered => {
                    self.answer();
                    return;
                }
                TransferOutcome::Busy
                | TransferOutcome::NoAnswer
                | TransferOutcome::Failed
                | TransferOutcome::Timeout
                | TransferOutcome::Closed => StatusCode::ServiceUnavailable,
            },
            Dialled::Busy => StatusCode::BusyHere,
            Dialled::NoAnswer | Dialled::Failed => StatusCode::TemporarilyUnavailable,
        };
        info!(call = %self.call_id(), status = %refusal, "staff call not answered");
        if let Err(e) = self.dialog.reject(Some(refusal), None) {
            debug!(error = %e, "reject");
        }
        self.port.gone();
    }

    // ------------------------------------------------------------------ passing a call on

    /// Play one of the channel's own prompts to the caller (from now on, instead of whatever
    /// the leg's source was); its id.
    fn own_prompt(&mut self, media: Media) -> Id {
        let playback = self.next_own_playback;
        self.next_own_playback -= 1;
        self.own_playbacks.push(playback);
        self.media.send(LegCommand::Source(Source::Prompts));
        self.play(playback, media);
        playback
    }

    fn system_prompt(&mut self, text: speech::SystemText) -> Id {
        let language = self
            .port
            .session()
            .var("language")
            .map_or_else(|| String::from("it"), ToString::to_string);
        let media = Media::Speech {
            text: text.words(&language).to_owned(),
            language,
        };
        self.own_prompt(media)
    }

    /// One of the channel's own prompts played to its end (or could not be played).
    fn own_prompt_ended(&mut self, playback: Id) {
        self.own_playbacks.retain(|p| *p != playback);
        if self.is_announcing(playback) {
            self.resume_music();
        }
        if let Some(Conference {
            stage: RoomStage::Welcome { room, prompt },
            ..
        }) = self.conference.as_ref()
            && *prompt == playback
        {
            let room = *room;
            self.join_room(room);
        }
    }

    // ------------------------------------------------------------------ conference rooms

    /// The flow's `conference`: ask for the PIN if the room has one, else enter.
    fn join_conference(&mut self, request: Id, name: String, pin: Option<String>) {
        self.leave_room();
        match pin {
            Some(pin) => {
                info!(call = %self.call_id(), room = %name, "conference: asking for the PIN");
                self.system_prompt(speech::SystemText::ConferencePin);
                self.conference = Some(Conference {
                    request,
                    name,
                    stage: RoomStage::Pin {
                        entry: PinEntry::new(&pin),
                        deadline: Instant::now() + PIN_TIME,
                    },
                });
            }
            None => self.enter_room(request, name),
        }
    }

    /// The caller may enter: counted in the room, whose media room is made on this call's
    /// media thread when nobody is in it. A caller whose audio is on another thread is moved
    /// there first (re-INVITE); then the welcome plays, then the leg joins.
    fn enter_room(&mut self, request: Id, name: String) {
        let media = self.services.media.clone();
        let group = self.media.group();
        let room = self.services.rooms.enter(&name, || media.room(group));
        let members = self.services.rooms.members(&name);
        info!(call = %self.call_id(), room = %name, members, "conference: entering");
        let stage = if room.thread() == self.media.thread() {
            self.welcome(room)
        } else {
            self.move_to_room(room);
            RoomStage::Moving(room)
        };
        self.conference = Some(Conference {
            request,
            name,
            stage,
        });
    }

    fn welcome(&mut self, room: RoomId) -> RoomStage {
        let prompt = self.system_prompt(speech::SystemText::ConferenceWelcome);
        RoomStage::Welcome { room, prompt }
    }

    /// Offer the caller the room's media thread's address (a re-INVITE, off the task).
    fn move_to_room(&mut self, room: RoomId) {
        let Some(local) = self.services.media.local_addr(room.group()) else {
            // Unreachable: rooms are made on the server's own threads.
            return;
        };
        let offer = sdp::offer(local, self.sdp.session_id, self.sdp.version + 1);
        let dialog = self.dialog.clone();
        info!(call = %self.call_id(), "conference: moving the caller's audio to the room's media thread");
        self.jobs.spawn(async move {
            let headers = vec![Header::ContentType("application/sdp".into())];
            let answered = tokio::time::timeout(
                HANDOVER_TIME,
                dialog.reinvite(Some(headers), Some(offer.into_bytes())),
            )
            .await;
            Job::MovedToRoom(match answered {
                Ok(Ok(Some(response)))
                    if response.status_code.kind() == StatusCodeKind::Successful =>
                {
                    Some(response.body)
                }
                _ => None,
            })
        });
    }

    /// The caller's answer to the move: a new leg on the room's thread (the old one goes),
    /// then the welcome. No answer: the caller does not get in (the flow goes on).
    fn moved_to_room(&mut self, answer: Option<Vec<u8>>) {
        let Some(Conference {
            stage: RoomStage::Moving(room),
            ..
        }) = self.conference.as_ref()
        else {
            return;
        };
        let room = *room;
        let negotiated = answer.and_then(|body| sdp::negotiate(&body).ok());
        let placed = negotiated.and_then(|negotiated| {
            let (events, media_events) = mpsc::unbounded_channel();
            let leg = Leg::new(negotiated.clone(), self.rtp_timeout, events)
                .with_inband(self.inband_dtmf);
            let handle = self.services.media.add_to(room.group(), leg).ok()?;
            Some((negotiated, handle, media_events))
        });
        let Some((negotiated, handle, media_events)) = placed else {
            warn!(call = %self.call_id(), "conference: the caller's audio could not be moved to the room");
            self.room_failed();
            return;
        };
        handle.send(LegCommand::Start);
        self.sdp.version += 1;
        self.sdp.local = handle.local_addr();
        self.sdp.negotiated = negotiated;
        // The old leg (and any prompt queued on it) goes with its handle.
        self.media = handle;
        self.media_events = media_events;
        self.own_playbacks.clear();
        let leg = self.sdp.describe();
        self.entry.update(|call| call.legs = vec![leg]);
        let stage = self.welcome(room);
        if let Some(conference) = self.conference.as_mut() {
            conference.stage = stage;
        }
    }

    /// The welcome played: the leg joins the room (the others hear the join cue).
    fn join_room(&mut self, room: RoomId) {
        if let Err(e) = self.media.join(room) {
            // Unreachable: the leg was placed on the room's thread.
            warn!(call = %self.call_id(), error = %e, "conference");
            self.room_failed();
            return;
        }
        let call = self.call_id().to_owned();
        if let Some(conference) = self.conference.as_mut() {
            conference.stage = RoomStage::In {
                keys: MuteKeys::default(),
                muted: false,
            };
            info!(%call, room = %conference.name, "conference: joined");
        }
    }

    /// A key while asking for the PIN or in the room (`*6` mutes and unmutes).
    fn conference_key(&mut self, key: char) {
        let call = self.call_id().to_owned();
        let Some(conference) = self.conference.as_mut() else {
            return;
        };
        match &mut conference.stage {
            RoomStage::Pin { entry, deadline } => {
                *deadline = Instant::now() + PIN_TIME;
                let step = entry.key(key);
                self.pin_step(step);
            }
            RoomStage::In { keys, muted } => {
                if keys.key(key) {
                    *muted = !*muted;
                    let muted = *muted;
                    info!(%call, room = %conference.name, muted, "conference: microphone");
                    self.media.send(LegCommand::Mute(muted));
                }
            }
            RoomStage::Moving(_) | RoomStage::Welcome { .. } => {}
        }
    }

    /// No key for [`PIN_TIME`] while asking for the PIN: a wrong try.
    fn pin_timed_out(&mut self) {
        let step = match self.conference.as_mut().map(|c| &mut c.stage) {
            Some(RoomStage::Pin { entry, deadline }) => {
                *deadline = Instant::now() + PIN_TIME;
                entry.timed_out()
            }
            _ => return,
        };
        self.pin_step(step);
    }

    fn pin_step(&mut self, step: PinStep) {
        let Some(conference) = self.conference.as_ref() else {
            return;
        };
        let (request, name) = (conference.request, conference.name.clone());
        match step {
            PinStep::Typing => {}
            PinStep::Accepted => {
                self.conference = None;
                self.enter_room(request, name);
            }
            PinStep::Wrong { tries_left } => {
                info!(call = %self.call_id(), room = %name, tries_left, "conference: wrong PIN");
                self.system_prompt(speech::SystemText::ConferenceWrongPin);
            }
            PinStep::Refused => {
                info!(call = %self.call_id(), room = %name, "conference: wrong PIN, refused");
                self.system_prompt(speech::SystemText::ConferenceRefused);
                self.conference = None;
                let at = self.clock.now();
                self.port.post(Event::ConferenceLeft { request, at });
                self.act(Vec::new());
            }
        }
    }

    /// The caller entered but could not be put in the room: the flow goes on.
    fn room_failed(&mut self) {
        let Some(request) = self.conference.as_ref().map(|c| c.request) else {
            return;
        };
        self.leave_room();
        let at = self.clock.now();
        self.port.post(Event::ConferenceLeft { request, at });
        self.act(Vec::new());
    }

    /// Out of the room (the call ends, or entering failed): no longer counted; the leg leaves
    /// the mix (the others hear the leave cue; a leg that is dropped leaves by itself).
    fn leave_room(&mut self) {
        let Some(conference) = self.conference.take() else {
            return;
        };
        if matches!(conference.stage, RoomStage::In { .. }) {
            self.media.send(LegCommand::Leave);
        }
        if conference.stage.entered() {
            let left = self.services.rooms.leave(&conference.name);
            info!(call = %self.call_id(), room = %conference.name, left, "conference: left");
        }
    }

    /// Staff pass the call on (REFER, a blind transfer) to an extension or an office. Only
    /// the staff and offices of the flows are reachable: anything else is refused (403), so
    /// a transfer never becomes a call to an outside number.
    async fn on_refer(&mut self, request: &Request, handle: TransactionHandle) {
        let refer_to = request.headers.iter().find_map(|h| match h {
            Header::ReferTo(value) => Some(value.value().to_owned()),
            _ => None,
        });
        let Some(refer_to) = refer_to else {
            let _ = handle.reply(StatusCode::BadRequest).await;
            return;
        };
        let target = rsipstack::sip::event_packages::parse_refer_to(&refer_to);
        if let Some(replaces) = target.replaces {
            self.attended(&replaces, handle).await;
            return;
        }
        let user = target
            .uri
            .strip_prefix("sips:")
            .or_else(|| target.uri.strip_prefix("sip:"))
            .and_then(|rest| rest.split(['@', ';']).next())
            .unwrap_or_default()
            .to_owned();
        let Some((rounds, ring_time)) = self.refer_target(&user) else {
            info!(call = %self.call_id(), %user, "REFER to no staff member or office: refused");
            let _ = handle.reply(StatusCode::Forbidden).await;
            return;
        };
        if self.referral.is_some() || self.bridge.is_none() {
            let _ = handle.reply(StatusCode::RequestPending).await;
            return;
        }
        let _ = handle.reply(StatusCode::Accepted).await;
        if let Some(bridge) = self.bridge.as_ref() {
            let _ = bridge
                .dialog
                .notify_refer(StatusCode::Trying, "active;expires=60")
                .await;
        }
        info!(call = %self.call_id(), %user, rounds = rounds.len(), "staff pass the call on");
        self.system_prompt(speech::SystemText::Transferring);
        let media = self.services.media.local_addr(self.media.group());
        let (false, Some(media)) = (rounds.is_empty(), media) else {
            self.referred(&user, Dialled::Busy);
            return;
        };
        let caller = &self.port.call().caller;
        let ring = dial::Ring {
            rounds,
            ring_time,
            caller: caller.clone(),
            display: display_name(&format!("{caller} - trasferita")),
            media,
            session_id: u64::from(media.port()) << 32 | u64::from(fastrand::u32(..)),
            desk: self.services.desk.clone(),
        };
        let outbound = self.outbound.clone();
        let ringing = self.jobs.spawn(async move {
            Job::Referred {
                target: user,
                dialled: dial::ring(&outbound, ring).await,
            }
        });
        self.referral = Some(Referral { ringing });
    }

    /// This call's staff leg is asked for by another call (attended transfer): given only to
    /// the staff member who placed this call, for this very dialog. Then this call ends (BYE
    /// to its caller, who transferred): `true`.
    async fn hand_over(&mut self, request: HandOver) -> bool {
        let id = self.dialog.id();
        let ours = request.by.is_some()
            && request.by == self.staff_caller
            && id.local_tag == request.local_tag
            && id.remote_tag == request.remote_tag
            && self.bridge.is_some();
        let Some(bridge) = self.bridge.take().filter(|_| ours) else {
            let _ = request.reply.send(None);
            return false;
        };
        let Bridge {
            dialog,
            states,
            leg,
            sdp,
            extension,
            staff_call_id,
            ..
        } = bridge;
        // Off this call's media thread: the other call moves the audio to its own.
        drop(leg);
        let handed = HandedOver {
            dialog,
            states,
            sdp,
            extension,
            staff_call_id,
        };
        if let Err(Some(unclaimed)) = request.reply.send(Some(handed)) {
            // The asking call is gone: nobody takes the staff member, hang up on them.
            let _ = unclaimed.dialog.bye().await;
            self.outbound.dialogs.remove_dialog(&unclaimed.dialog.id());
        }
        info!(call = %self.call_id(), "staff leg handed over (attended transfer)");
        self.bye().await;
        true
    }

    /// Staff pass the caller to someone they called through the server meanwhile (REFER with
    /// `Replaces` naming that call): that person's leg moves here (a re-INVITE points their
    /// audio at this call's media thread) and is bridged with the caller; the staff member's
    /// legs both end.
    async fn attended(&mut self, replaces: &str, handle: TransactionHandle) {
        let mut parts = replaces.split(';');
        let call_id = parts.next().unwrap_or_default().trim().to_owned();
        let (mut to_tag, mut from_tag) = (String::new(), String::new());
        for part in parts {
            if let Some((key, value)) = part.split_once('=') {
                match key.trim().to_ascii_lowercase().as_str() {
                    "to-tag" => value.trim().clone_into(&mut to_tag),
                    "from-tag" => value.trim().clone_into(&mut from_tag),
                    _ => {}
                }
            }
        }
        let asker = self
            .services
            .handovers
            .find(&call_id)
            .filter(|_| call_id != self.call_id());
        let (reply, answer) = tokio::sync::oneshot::channel();
        let asked = asker.is_some_and(|asker| {
            asker
                .send(HandOver {
                    local_tag: to_tag,
                    remote_tag: from_tag,
                    by: self.bridge.as_ref().map(|b| b.extension.clone()),
                    reply,
                })
                .is_ok()
        });
        let handed = if asked {
            tokio::time::timeout(HANDOVER_TIME, answer)
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        } else {
            None
        };
        let Some(handed) = handed else {
            info!(call = %self.call_id(), %call_id, "REFER with Replaces: no such call of this staff member");
            let _ = handle.reply(StatusCode::CallTransactionDoesNotExist).await;
            return;
        };
        let _ = handle.reply(StatusCode::Accepted).await;
        if let Some(bridge) = self.bridge.as_ref() {
            let _ = bridge
                .dialog
                .notify_refer(StatusCode::Trying, "active;expires=60")
                .await;
        }
        let moved = self.move_here(handed).await;
        let status = if moved {
            StatusCode::OK
        } else {
            StatusCode::ServiceUnavailable
        };
        info!(call = %self.call_id(), %status, "attended transfer");
        if let Some(old) = self.bridge_before_move.take() {
            if moved {
                self.bridge_ended(&old);
                let dialogs = self.outbound.dialogs.clone();
                self.jobs.spawn(async move {
                    let _ = old
                        .dialog
                        .notify_refer(StatusCode::OK, "terminated;reason=noresource")
                        .await;
                    let _ = old.dialog.bye().await;
                    dialogs.remove_dialog(&old.dialog.id());
                    Job::Notified
                });
            } else {
                let dialog = old.dialog.clone();
                self.bridge = Some(old);
                self.jobs.spawn(async move {
                    let _ = dialog
                        .notify_refer(status, "terminated;reason=noresource")
                        .await;
                    Job::Notified
                });
            }
        }
    }

    /// Point a handed-over staff leg's audio at this call's media thread (re-INVITE) and bridge
    /// it with the caller; the bridge it replaces waits in `bridge_before_move`.
    async fn move_here(&mut self, handed: HandedOver) -> bool {
        let Some(local) = self.services.media.local_addr(self.media.group()) else {
            return false;
        };
        let mut sdp = handed.sdp;
        sdp.version += 1;
        sdp.local = local;
        let offer = sdp::offer(local, sdp.session_id, sdp.version);
        let headers = vec![Header::ContentType("application/sdp".into())];
        let answered = tokio::time::timeout(
            HANDOVER_TIME,
            handed
                .dialog
                .reinvite(Some(headers), Some(offer.into_bytes())),
        )
        .await;
        let negotiated = match answered {
            Ok(Ok(Some(response))) if response.status_code.kind() == StatusCodeKind::Successful => {
                sdp::negotiate(&response.body).ok()
            }
            _ => None,
        };
        let placed = negotiated.and_then(|negotiated| {
            let (events, media_events) = mpsc::unbounded_channel();
            let leg = Leg::new(negotiated.clone(), self.rtp_timeout, events)
                .with_inband(self.inband_dtmf);
            let handle = self.services.media.add_to(self.media.group(), leg).ok()?;
            Some((negotiated, handle, media_events))
        });
        let Some((negotiated, handle, media_events)) = placed else {
            warn!(call = %self.call_id(), "the handed-over staff leg could not be moved: hanging it up");
            let _ = handed.dialog.bye().await;
            self.outbound.dialogs.remove_dialog(&handed.dialog.id());
            self.services.desk.send(DeskEvent::StaffLeg {
                extension: handed.extension,
                call_id: handed.staff_call_id,
                state: CallState::Terminated,
            });
            self.bridge_before_move = self.bridge.take();
            return false;
        };
        sdp.negotiated = negotiated;
        handle.send(LegCommand::Start);
        if let Err(e) = self.media.bridge(&handle) {
            warn!(call = %self.call_id(), error = %e, "bridge");
        }
        let staff_leg = format!("staff {}: {}", handed.extension, sdp.describe());
        self.entry.update(|call| call.legs.push(staff_leg));
        self.bridge_before_move = self.bridge.replace(Bridge {
            dialog: handed.dialog,
            states: handed.states,
            leg: handle,
            events: media_events,
            sdp,
            extension: handed.extension,
            staff_call_id: handed.staff_call_id,
            from_queue: false,
        });
        true
    }

    /// Who a REFER's user part names: a staff extension of the flows (their devices) or an
    /// office (its available staff in turn); with the ring time. `None`: neither.
    fn refer_target(&self, user: &str) -> Option<(Vec<dial::Round>, Duration)> {
        let now = self.clock.now();
        let graph = &self.program().graph;
        if let Some(office) = graph.offices.get(user) {
            let presence = self.services.desk.presence();
            let present: Vec<String> = office
                .staff
                .iter()
                .filter(|s| crate::engine::Presence::is_present(&*presence, &s.contact))
                .map(|s| s.contact.clone())
                .collect();
            let rounds = dial::rounds(self.services.location.as_ref(), &present, false, now);
            return Some((rounds, Duration::from_millis(office.ring_ms)));
        }
        let office = graph.offices.values().find(|office| {
            office
                .staff
                .iter()
                .any(|s| extension_of(&s.contact) == Some(user))
        })?;
        let devices = self.services.location.bindings(user, now);
        let rounds = if devices.is_empty() {
            Vec::new()
        } else {
            vec![dial::Round { devices }]
        };
        Some((rounds, Duration::from_millis(office.ring_ms)))
    }

    /// The call staff passed on was answered (bridge the new person, release the one who
    /// passed it) or not (they hear why in the NOTIFY; if they are gone, the caller is told
    /// and the call ends).
    fn referred(&mut self, target: &str, dialled: Dialled) {
        if let Some(referral) = self.referral.take() {
            referral.ringing.abort();
        }
        let old = self.bridge.take();
        let status = match dialled {
            Dialled::Answered(answered) => match self.connect(*answered, false) {
                TransferOutcome::Answered => StatusCode::OK,
                TransferOutcome::Busy
                | TransferOutcome::NoAnswer
                | TransferOutcome::Failed
                | TransferOutcome::Timeout
                | TransferOutcome::Closed => StatusCode::ServiceUnavailable,
            },
            Dialled::Busy => StatusCode::BusyHere,
            Dialled::NoAnswer => StatusCode::RequestTimeout,
            Dialled::Failed => StatusCode::TemporarilyUnavailable,
        };
        info!(call = %self.call_id(), %target, %status, "call passed on");
        let passed = status == StatusCode::OK;
        match old {
            Some(old) if passed => {
                // Done: tell who passed it on, and release them.
                self.bridge_ended(&old);
                let dialogs = self.outbound.dialogs.clone();
                self.jobs.spawn(async move {
                    let _ = old
                        .dialog
                        .notify_refer(StatusCode::OK, "terminated;reason=noresource")
                        .await;
                    let _ = old.dialog.bye().await;
                    dialogs.remove_dialog(&old.dialog.id());
                    Job::Notified
                });
            }
            Some(old) => {
                // Nobody took it: the one who passed it on still has the caller.
                if let Err(e) = self.media.bridge(&old.leg) {
                    warn!(call = %self.call_id(), error = %e, "bridge");
                }
                let dialog = old.dialog.clone();
                self.bridge = Some(old);
                self.jobs.spawn(async move {
                    let _ = dialog
                        .notify_refer(status, "terminated;reason=noresource")
                        .await;
                    Job::Notified
                });
            }
            None if passed => {}
            None => {
                self.system_prompt(speech::SystemText::NobodyAnswered);
                self.hang_up_after_prompts = true;
            }
        }
    }

    // ------------------------------------------------------------------ queues

    /// The flow's `queue`: the desk takes the caller into the office's queue and sends orders.
    fn enqueue(
        &mut self,
        request: Id,
        office: String,
        music: Option<Media>,
        max_wait_ms: u64,
        announce_position: bool,
    ) {
        let (agents, ring_ms) = self
            .program()
            .graph
            .offices
            .get(&office)
            .map(|o| {
                let agents = o
                    .staff
                    .iter()
                    .filter_map(|s| extension_of(&s.contact).map(str::to_owned))
                    .collect::<Vec<_>>();
                (agents, o.ring_ms)
            })
            .unwrap_or_default();
        let (orders, receiver) = mpsc::unbounded_channel();
        self.waiting = Some(Waiting {
            request,
            orders: receiver,
            music: None,
            announcing: None,
            offer: None,
            connect_failed: false,
        });
        info!(call = %self.call_id(), %office, "queue: waiting");
        let join = queue::Join {
            call: self.call_id().to_owned(),
            office,
            agents,
            ring_ms,
            max_wait_ms,
            announce_position,
            music,
        };
        self.services.desk.send(DeskEvent::Join { join, orders });
    }

    fn is_announcing(&self, playback: Id) -> bool {
        self.waiting
            .as_ref()
            .is_some_and(|w| w.announcing == Some(playback))
    }

    /// Back to the music after a position (silence when there is none).
    fn resume_music(&mut self) {
        let Some(waiting) = self.waiting.as_mut() else {
            return;
        };
        waiting.announcing = None;
        if let Some(music) = waiting.music.clone() {
            self.media.send(LegCommand::Source(Source::Loop(music)));
        }
    }

    fn on_order(&mut self, order: QueueOrder) {
        let call = self.call_id().to_owned();
        match order {
            QueueOrder::Music(media) => {
                let prompts = self.services.prompts.clone();
                self.jobs
                    .spawn_blocking(move || Job::Music(prompts.get_or_load(&media)));
            }
            QueueOrder::Position(position) => {
                let language = self
                    .port
                    .session()
                    .var("language")
                    .map_or_else(|| String::from("it"), ToString::to_string);
                let media = Media::Speech {
                    text: speech::queue_position(position, &language),
                    language,
                };
                let playback = self.own_prompt(media);
                if let Some(waiting) = self.waiting.as_mut()
                    && let Some(old) = waiting.announcing.replace(playback)
                {
                    self.media.send(LegCommand::Drop(old));
                    self.own_playbacks.retain(|p| *p != old);
                }
            }
            QueueOrder::Offer { agent } => self.offer(agent),
            QueueOrder::CancelOffer { agent } => {
                let Some(waiting) = self.waiting.as_mut() else {
                    return;
                };
                if waiting.offer.as_ref().is_some_and(|o| o.agent == agent)
                    && let Some(offer) = waiting.offer.take()
                {
                    offer.ringing.abort();
                    if let Some(answered) = offer.answered {
                        self.hang_up_staff(*answered);
                    }
                }
            }
            QueueOrder::Connect { agent } => {
                let answered = self
                    .waiting
                    .as_mut()
                    .and_then(|w| w.offer.take_if(|o| o.agent == agent))
                    .and_then(|o| o.answered);
                let connected = match answered {
                    Some(answered) => self.connect(*answered, true) == TransferOutcome::Answered,
                    None => false,
                };
                if !connected {
                    warn!(%call, %agent, "queue: the agent's leg could not be bridged");
                    if let Some(waiting) = self.waiting.as_mut() {
                        waiting.connect_failed = true;
                    }
                    self.services
                        .desk
                        .send(DeskEvent::Queue(queue::Event::CallEnded { call, agent }));
                }
            }
            QueueOrder::Leave(outcome) => {
                let Some(waiting) = self.waiting.take() else {
                    return;
                };
                if let Some(playback) = waiting.announcing {
                    self.media.send(LegCommand::Drop(playback));
                    self.own_playbacks.retain(|p| *p != playback);
                }
                if let Some(offer) = waiting.offer {
                    offer.ringing.abort();
                    if let Some(answered) = offer.answered {
                        self.hang_up_staff(*answered);
                    }
                }
                if self.bridge.is_none() {
                    self.media.send(LegCommand::Source(Source::Prompts));
                }
                let outcome = match outcome {
                    QueueOutcome::Answered if waiting.connect_failed => TransferOutcome::Failed,
                    other => TransferOutcome::from(other),
                };
                info!(%call, ?outcome, "queue: left");
                let at = self.clock.now();
                self.port.post(Event::TransferResult {
                    request: waiting.request,
                    outcome,
                    at,
                });
                self.act(Vec::new());
                if self.port.session().is_bridged() {
                    self.port.bridged(self.clock.now());
                }
            }
        }
    }

    /// Ring the agent's devices for this caller (the queue's timer bounds the ringing: its
    /// `CancelOffer` stops it).
    fn offer(&mut self, agent: String) {
        let now = self.clock.now();
        let devices = self.services.location.bindings(&agent, now);
        let media = self.services.media.local_addr(self.media.group());
        let call = self.call_id().to_owned();
        let (false, Some(media)) = (devices.is_empty(), media) else {
            self.services
                .desk
                .send(DeskEvent::Queue(queue::Event::OfferRejected {
                    call,
                    agent,
                }));
            return;
        };
        let caller = &self.port.call().caller;
        let display = display_name(&format!("{caller} - coda"));
        let ring = dial::Ring {
            rounds: vec![dial::Round { devices }],
            ring_time: QUEUE_RING_LIMIT,
            caller: caller.clone(),
            display,
            media,
            session_id: u64::from(media.port()) << 32 | u64::from(fastrand::u32(..)),
            desk: self.services.desk.clone(),
        };
        let outbound = self.outbound.clone();
        let ringing_agent = agent.clone();
        let ringing = self.jobs.spawn(async move {
            Job::Offered {
                agent: ringing_agent,
                dialled: dial::ring(&outbound, ring).await,
            }
        });
        if let Some(waiting) = self.waiting.as_mut()
            && let Some(old) = waiting.offer.replace(Offer {
                agent,
                ringing,
                answered: None,
            })
        {
            old.ringing.abort();
        }
        // The ringing replaces the music until the agent answers or the offer ends.
        self.media.send(LegCommand::Source(Source::Prompts));
    }

    /// An offer's ringing ended.
    fn offered(&mut self, agent: String, dialled: Dialled) {
        let call = self.call_id().to_owned();
        let current = self
            .waiting
            .as_mut()
            .and_then(|w| w.offer.as_mut())
            .filter(|o| o.agent == agent);
        match (current, dialled) {
            (Some(offer), Dialled::Answered(answered)) => {
                offer.answered = Some(answered);
                self.services
                    .desk
                    .send(DeskEvent::Queue(queue::Event::OfferAnswered {
                        call,
                        agent,
                    }));
            }
            (Some(_), Dialled::Busy | Dialled::NoAnswer | Dialled::Failed) => {
                if let Some(waiting) = self.waiting.as_mut() {
                    waiting.offer = None;
                }
                self.resume_music();
                self.services
                    .desk
                    .send(DeskEvent::Queue(queue::Event::OfferRejected {
                        call,
                        agent,
                    }));
            }
            // The offer was withdrawn meanwhile: an answer that crossed it is hung up.
            (None, Dialled::Answered(answered)) => self.hang_up_staff(*answered),
            (None, Dialled::Busy | Dialled::NoAnswer | Dialled::Failed) => {}
        }
    }

    /// End a staff leg that answered too late (off the call's task).
    fn hang_up_staff(&mut self, answered: dial::Answered) {
        let dialog = answered.dialog;
        let dialogs = self.outbound.dialogs.clone();
        self.jobs.spawn(async move {
            let _ = dialog.bye().await;
            dialogs.remove_dialog(&dialog.id());
            Job::StaffHungUp
        });
    }

    /// Run a store job off the task (a write is flushed to disk before it is answered).
    fn store(&mut self, job: StoreJob) {
        let store = self.services.store.clone();
        self.jobs
            .spawn_blocking(move || Job::Stored(job.run(store.as_ref())));
    }

    fn play(&mut self, playback: Id, media: Media) {
        self.media.send(LegCommand::Enqueue(playback));
        let prompts = self.services.prompts.clone();
        self.jobs.spawn_blocking(move || Job::Loaded {
            playback,
            prompt: prompts.get_or_load(&media),
        });
    }

    fn start_recording(&mut self, request: Id, variable: String, max_ms: u64) {
        let relative = format!(
            "recordings/{}-{variable}-{request}.wav",
            sanitize(self.call_id())
        );
        let path = self.services.data_dir.join(&relative);
        let created = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(|e| e.to_string())
            .and_then(|()| Recorder::create(&path).map_err(|e| e.to_string()));
        match created {
            Ok(recorder) => {
                self.media.send(LegCommand::ForwardAudio(true));
                self.recording = Some(ActiveRecording {
                    request,
                    variable,
                    recorder: recorder.with_max_ms(max_ms),
                    relative,
                });
            }
            Err(e) => {
                warn!(call = %self.call_id(), error = %e, "cannot record");
                let at = self.clock.now();
                self.port.post(Event::RecordingFinished {
                    request,
                    path: String::new(),
                    duration_ms: 0,
                    at,
                });
            }
        }
    }

    fn finish_recording(&mut self) {
        let Some(active) = self.recording.take() else {
            return;
        };
        self.media.send(LegCommand::ForwardAudio(false));
        let clock = self.clock;
        self.jobs.spawn_blocking(move || {
            let duration_ms = match active.recorder.finish() {
                Ok(done) => done.duration_ms,
                Err(_) => 0,
            };
            Job::Recorded(RecordingFinished {
                request: active.request,
                variable: active.variable,
                path: active.relative,
                duration_ms,
                at: clock.now(),
            })
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// How long an attended transfer waits for the other call to hand its staff leg over, and for
/// that person's phone to answer the re-INVITE that moves their audio.
const HANDOVER_TIME: Duration = Duration::from_secs(5);

/// A queue offer rings at most this long by itself; the queue's own ring timer (the office's
/// ring time) normally stops it first.
const QUEUE_RING_LIMIT: Duration = Duration::from_secs(120);

/// A SIP display name: printable text without quotes or backslashes, at most 64 characters.
fn display_name(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(64)
        .collect()
}

/// Call-IDs may hold any character; file names get letters, digits, `-` and `.` only.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

/// Staff (or a party they added) put the call on hold, took it back, or moved their audio.
async fn answer_staff_reinvite(bridge: &mut Bridge, request: &Request, handle: TransactionHandle) {
    match sdp::negotiate(&request.body) {
        Ok(negotiated) => {
            bridge.sdp.version += 1;
            bridge
                .leg
                .send(LegCommand::Renegotiated(negotiated.clone()));
            bridge.sdp.negotiated = negotiated;
            let headers = vec![Header::ContentType("application/sdp".into())];
            let body = bridge.sdp.answer();
            let _ = handle
                .respond(StatusCode::OK, Some(headers), Some(body.into_bytes()))
                .await;
        }
        Err(e) => {
            debug!(error = %e, "staff re-INVITE refused");
            let _ = handle.reply(StatusCode::NotAcceptableHere).await;
        }
    }
}
