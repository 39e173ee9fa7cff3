//! The callback dialer's SIP side: a [`Placer`] that works one attempt with real legs, driven
//! by the sans-IO attempt machine (`dialer::attempt`).
//!
//! ```text
//!   Job ──► ring the staff member's devices (dial::ring) ──answered──► staff leg (media thread g)
//!            Attempt::step(event) ──► SayToStaff: TTS prompt on the staff leg, then wait for a key
//!                                     CallCitizen: INVITE sip:{number}@trunk (digest when asked),
//!                                                  offer on thread g, ring time, CANCEL on timeout
//!                                     Bridge: staff leg ⇄ citizen leg (both on thread g)
//!                                     HangUpStaff / HangUpCitizen: BYE (or CANCEL while ringing)
//!                                     Close / Finish: the outcome goes back to the dialer task
//!   staff keys (RFC 4733, in-band), BYEs, silence, the citizen's final answer ──► Attempt events
//!
//!   citizen first: CallCitizen at once ──► SayToCitizen (TTS in the request's language) ──►
//!     the citizen's keys ──► HoldCitizen (a spoken loop) + RingStaff (dial::ring, alongside:
//!     the citizen's hang-up is heard while staff ring) ──► SayToStaff ──► Bridge
//! ```
//!
//! Only the number the numbering rule wrote is dialled, and only at the configured trunk; the
//! staff member rung is the one the scheduler chose (their registered devices). Every leg and
//! dialog is the attempt's own: when it ends, or its token is cancelled (shutdown), whatever is
//! still up is hung up before the future returns.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Response, StatusCode, StatusCodeKind, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Services;
use super::dial::{self, Dialled, LegStates, Outbound, reachable_local};
use super::sdp;
use crate::desk::DeskEvent;
use crate::dialer::attempt::{Attempt, Command, Event, Finished, Language};
use crate::dialer::task::{Job, Placer};
use crate::dialer::trunk::TrunkUri;
use crate::engine::Media;
use crate::media::legs::{Group, InbandDtmf, Leg, LegCommand, LegHandle, MediaEvent, Source};
use crate::media::prompt::EncodedPrompt;
use crate::people::presence::CallState;
use crate::store::dialing::AttemptOutcome;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// How the dialer reaches citizens, and how long it waits.
#[derive(Clone)]
pub struct CallbackSettings {
    /// Where citizens are called (`sip:{number}@gateway`).
    pub trunk: TrunkUri,
    /// Digest credentials for the trunk, when it challenges.
    pub credential: Option<TrunkCredential>,
    /// What the citizen's phone shows as the caller (the city's number).
    pub caller_id: String,
    /// How long the staff member's devices ring.
    pub staff_ring: Duration,
    /// How long the citizen's phone rings before the attempt counts as no answer.
    pub citizen_ring: Duration,
    /// How long staff have to press a key after a prompt ended.
    pub key_wait: Duration,
    pub rtp_timeout: Duration,
    pub inband_dtmf: InbandDtmf,
}

/// The dialer's digest account at the trunk (`[trunk] username`, `password`).
#[derive(Clone)]
pub struct TrunkCredential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for TrunkCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, not even in a debug log.
        f.debug_struct("TrunkCredential")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Places attempts over SIP with the server's dialogs and media threads.
#[derive(Clone)]
pub struct SipPlacer {
    services: Services,
    outbound: Arc<Outbound>,
    settings: Arc<CallbackSettings>,
}

impl SipPlacer {
    pub fn new(services: Services, outbound: Arc<Outbound>, settings: CallbackSettings) -> Self {
        SipPlacer {
            services,
            outbound,
            settings: Arc::new(settings),
        }
    }
}

impl Placer for SipPlacer {
    fn place(
        &self,
        job: Job,
        token: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Finished> + Send>> {
        let placer = self.clone();
        Box::pin(async move {
            let reference = job.reference.clone();
            let finished = placer.work(job, token).await;
            info!(%reference, ?finished, "callback attempt over");
            finished
        })
    }
}

/// One side of the attempt once it answered: its dialog, states and media leg.
struct Side {
    dialog: InviteDialog,
    states: LegStates,
    leg: LegHandle,
    events: mpsc::UnboundedReceiver<MediaEvent>,
}

/// What one of the two sides said.
enum SideEvent {
    HungUp,
    /// No RTP for the timeout: the line is gone, though its dialog may still be up.
    Silent,
    Key(char),
    /// The prompt with this id has been said.
    PromptFinished(u64),
    Nothing,
}

async fn next_side_event(side: &mut Option<Side>) -> SideEvent {
    let Some(side) = side.as_mut() else {
        return std::future::pending().await;
    };
    tokio::select! {
        state = side.states.recv() => match state {
            None | Some(DialogState::Terminated(..)) => SideEvent::HungUp,
            Some(DialogState::Info(_, _, handle) | DialogState::Options(_, _, handle)) => {
                let _ = handle.reply(StatusCode::OK).await;
                SideEvent::Nothing
            }
            Some(DialogState::Updated(_, _, handle)) => {
                // A re-INVITE (hold) is not followed here: the stream goes on as it was.
                let _ = handle.reply(StatusCode::NotAcceptableHere).await;
                SideEvent::Nothing
            }
            Some(
                DialogState::Refer(_, _, handle)
                | DialogState::Notify(_, _, handle)
                | DialogState::Message(_, _, handle)
                | DialogState::Publish(_, _, handle),
            ) => {
                let _ = handle.reply(StatusCode::NotImplemented).await;
                SideEvent::Nothing
            }
            Some(
                DialogState::Calling(_)
                | DialogState::Trying(_)
                | DialogState::Early(..)
                | DialogState::WaitAck(..)
                | DialogState::Confirmed(..),
            ) => SideEvent::Nothing,
        },
        event = side.events.recv() => match event {
            None => SideEvent::HungUp,
            Some(MediaEvent::Silent) => SideEvent::Silent,
            Some(MediaEvent::Key(key) | MediaEvent::Digit(key)) => SideEvent::Key(key),
            Some(MediaEvent::Finished(id)) => SideEvent::PromptFinished(id),
            Some(MediaEvent::Audio(_)) => SideEvent::Nothing,
        },
    }
}

/// The citizen's INVITE in progress: its final answer, or nothing (dropped: CANCEL).
type Calling = Pin<
    Box<
        dyn Future<
                Output = (
                    Result<(InviteDialog, Option<Response>), rsipstack::Error>,
                    LegStates,
                ),
            > + Send,
    >,
>;

async fn next_answer(
    calling: &mut Option<Calling>,
) -> (
    Result<(InviteDialog, Option<Response>), rsipstack::Error>,
    LegStates,
) {
    match calling.as_mut() {
        Some(calling) => calling.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Who a prompt being made is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hearer {
    Staff,
    Citizen,
    /// The loop the citizen hears while staff are rung (citizen first).
    CitizenHold,
}

/// A prompt being made (text to speech, off the task): for whom, its id, the frames.
type Loading = Pin<Box<dyn Future<Output = (Hearer, u64, Option<Arc<EncodedPrompt>>)> + Send>>;

async fn next_loaded(
    loading: &mut FuturesUnordered<Loading>,
) -> (Hearer, u64, Option<Arc<EncodedPrompt>>) {
    if loading.is_empty() {
        return std::future::pending().await;
    }
    match loading.next().await {
        Some(loaded) => loaded,
        None => std::future::pending().await,
    }
}

/// Staff being rung while the citizen holds (citizen first); dropped: the INVITEs are cancelled.
type Ringing = Pin<Box<dyn Future<Output = Dialled> + Send>>;

async fn next_rung(ringing: &mut Option<Ringing>) -> Dialled {
    match ringing.as_mut() {
        Some(ringing) => ringing.await,
        None => std::future::pending().await,
    }
}

/// One attempt's state while it runs.
struct Run {
    placer: SipPlacer,
    job: Job,
    group: Group,
    local_media: SocketAddr,
    staff: Option<Side>,
    staff_call_id: Option<String>,
    citizen: Option<Side>,
    calling: Option<Calling>,
    calling_until: Option<Instant>,
    loading: FuturesUnordered<Loading>,
    /// The latest prompt id given (to either side).
    prompt: u64,
    /// The prompt id of the latest thing said to staff, and to the citizen.
    staff_prompt: u64,
    citizen_prompt: u64,
    /// The citizen hears the hold loop (citizen first, while staff are rung).
    holding: Option<u64>,
    key_until: Option<Instant>,
    /// Staff being rung (citizen first).
    ringing: Option<Ringing>,
    /// Events the adapter found while carrying out a command (fed to the machine next).
    found: Vec<Event>,
    /// The citizen is called first.
    citizen_first: bool,
    /// The citizen answered (staff first: the attempt reached them, whatever follows).
    answered: bool,
    /// Staff and citizen were put through.
    reached: bool,
}

impl SipPlacer {
    async fn work(&self, job: Job, token: CancellationToken) -> Finished {
        let mut attempt = match job.citizen_first {
            Some(language) => Attempt::citizen_first(job.briefing.clone(), language),
            None => Attempt::new(job.briefing.clone()),
        };
        let group = self.services.media.group();
        let Some(local_media) = self.services.media.local_addr(group) else {
            return Finished::Skipped;
        };
        let mut run = Run {
            placer: self.clone(),
            job,
            group,
            local_media,
            staff: None,
            staff_call_id: None,
            citizen: None,
            calling: None,
            calling_until: None,
            loading: FuturesUnordered::new(),
            prompt: 0,
            staff_prompt: 0,
            citizen_prompt: 0,
            holding: None,
            key_until: None,
            ringing: None,
            found: Vec::new(),
            citizen_first: attempt.is_citizen_first(),
            answered: false,
            reached: false,
        };
        let mut events = Vec::new();
        if run.citizen_first {
            // The citizen's INVITE goes out now; its answer comes back in the loop.
            for command in attempt.start() {
                if let Some(finished) = run.carry_out(command).await {
                    run.hang_up_all().await;
                    return finished;
                }
            }
        } else {
            let first = tokio::select! {
                () = token.cancelled() => return Finished::Skipped,
                event = run.ring_staff() => event,
            };
            events.push(first);
        }
        loop {
            for event in events.drain(..) {
                for command in attempt.step(event) {
                    if let Some(finished) = run.carry_out(command).await {
                        run.hang_up_all().await;
                        return finished;
                    }
                }
            }
            if !run.found.is_empty() {
                events.append(&mut run.found);
                continue;
            }
            if attempt.is_done() {
                // Unreachable: the machine ends with `Finish`, returned above.
                run.hang_up_all().await;
                return Finished::Skipped;
            }
            let event = tokio::select! {
                () = token.cancelled() => {
                    info!(reference = %run.job.reference, "callback attempt cancelled (shutdown)");
                    run.hang_up_all().await;
                    return if run.reached || (run.answered && !run.citizen_first) {
                        Finished::Ended { outcome: AttemptOutcome::Reached, closed: false, detail: None }
                    } else if run.answered {
                        // Citizen first: called, not yet put through.
                        Finished::Ended {
                            outcome: AttemptOutcome::Failed,
                            closed: false,
                            detail: Some(String::from("cancelled (shutdown)")),
                        }
                    } else {
                        Finished::Skipped
                    };
                }
                side = next_side_event(&mut run.staff) => match side {
                    SideEvent::HungUp => {
                        info!(reference = %run.job.reference, "callback: staff hung up");
                        run.forget_staff();
                        Some(Event::StaffHungUp)
                    }
                    SideEvent::Silent => {
                        warn!(reference = %run.job.reference, "callback: no RTP from staff: hanging up");
                        run.hang_up_staff().await;
                        Some(Event::StaffHungUp)
                    }
                    SideEvent::Key(key) => Some(Event::StaffKey(key)),
                    SideEvent::PromptFinished(id) => {
                        if id == run.staff_prompt {
                            run.key_until = Some(Instant::now() + run.placer.settings.key_wait);
                        }
                        None
                    }
                    SideEvent::Nothing => None,
                },
                side = next_side_event(&mut run.citizen) => match side {
                    SideEvent::HungUp => {
                        info!(reference = %run.job.reference, "callback: the citizen hung up");
                        run.forget_citizen();
                        Some(Event::CitizenHungUp)
                    }
                    SideEvent::Silent => {
                        warn!(reference = %run.job.reference, "callback: no RTP from the citizen: hanging up");
                        run.hang_up_citizen().await;
                        run.forget_citizen();
                        Some(Event::CitizenHungUp)
                    }
                    SideEvent::Key(key) => {
                        info!(reference = %run.job.reference, %key, "callback: the citizen pressed a key");
                        Some(Event::CitizenKey(key))
                    }
                    SideEvent::PromptFinished(id) => {
                        (id == run.citizen_prompt).then_some(Event::CitizenHeard)
                    }
                    SideEvent::Nothing => None,
                },
                (hearer, id, prompt) = next_loaded(&mut run.loading) => {
                    run.loaded(hearer, id, prompt)
                }
                dialled = next_rung(&mut run.ringing) => {
                    run.ringing = None;
                    Some(run.staff_dialled(dialled).await)
                }
                answer = next_answer(&mut run.calling) => {
                    run.calling = None;
                    run.calling_until = None;
                    Some(run.citizen_answer(answer).await)
                }
                () = sleep_until(run.calling_until) => {
                    // Dropping the INVITE in progress sends CANCEL.
                    info!(reference = %run.job.reference, "the citizen did not answer in time");
                    run.calling = None;
                    run.calling_until = None;
                    Some(Event::CitizenRingTimeout)
                }
                () = sleep_until(run.key_until) => {
                    run.key_until = None;
                    Some(Event::KeyTimeout)
                }
            };
            events.extend(event);
        }
    }
}

impl Run {
    fn settings(&self) -> &CallbackSettings {
        &self.placer.settings
    }

    /// Ring the staff member's devices; the machine's first event (staff first).
    async fn ring_staff(&mut self) -> Event {
        let Some(ring) = self.staff_ring() else {
            return Event::StaffNotReached;
        };
        let dialled = dial::ring(&self.placer.outbound, ring).await;
        self.staff_dialled(dialled).await
    }

    /// Ring staff alongside the citizen's hold (citizen first); the answer comes in the loop.
    fn start_ringing_staff(&mut self) {
        match self.staff_ring() {
            Some(ring) => {
                let outbound = self.placer.outbound.clone();
                self.ringing = Some(Box::pin(async move { dial::ring(&outbound, ring).await }));
            }
            None => self.found.push(Event::StaffNotReached),
        }
    }

    /// What ringing the staff member means: their devices; `None` when none is registered.
    fn staff_ring(&self) -> Option<dial::Ring> {
        let services = &self.placer.services;
        let devices = services
            .location
            .bindings(&self.job.staff, jiff::Timestamp::now());
        if devices.is_empty() {
            info!(reference = %self.job.reference, staff = %self.job.staff, "no device registered for the staff member");
            return None;
        }
        Some(dial::Ring {
            rounds: vec![dial::Round { devices }],
            ring_time: self.settings().staff_ring,
            caller: self.job.number.clone(),
            display: format!("Richiamata {}", self.job.reference),
            media: self.local_media,
            session_id: session_id(self.local_media),
            desk: services.desk.clone(),
        })
    }

    /// How ringing staff ended, as the machine's event (an answer becomes the staff side).
    async fn staff_dialled(&mut self, dialled: Dialled) -> Event {
        let services = &self.placer.services;
        match dialled {
            Dialled::Answered(answered) => {
                let answered = *answered;
                match self.leg(answered.negotiated.clone()) {
                    Some((leg, events)) => {
                        let call_id = answered.dialog.id().call_id.clone();
                        services.desk.send(DeskEvent::StaffLeg {
                            extension: answered.extension.clone(),
                            call_id: call_id.clone(),
                            state: CallState::Confirmed,
                        });
                        info!(reference = %self.job.reference, staff = %answered.extension, "callback: staff answered");
                        self.staff_call_id = Some(call_id);
                        self.staff = Some(Side {
                            dialog: answered.dialog,
                            states: answered.states,
                            leg,
                            events,
                        });
                        Event::StaffAnswered
                    }
                    None => {
                        let _ = answered.dialog.bye().await;
                        self.placer
                            .outbound
                            .dialogs
                            .remove_dialog(&answered.dialog.id());
                        Event::StaffNotReached
                    }
                }
            }
            Dialled::Busy | Dialled::NoAnswer | Dialled::Failed => {
                info!(reference = %self.job.reference, staff = %self.job.staff, "callback: staff not reached");
                Event::StaffNotReached
            }
        }
    }

    /// A leg on the attempt's media thread for a side that answered.
    fn leg(
        &self,
        negotiated: crate::media::legs::Negotiated,
    ) -> Option<(LegHandle, mpsc::UnboundedReceiver<MediaEvent>)> {
        let (sender, events) = mpsc::unbounded_channel();
        let leg = Leg::new(negotiated, self.settings().rtp_timeout, sender)
            .with_inband(self.settings().inband_dtmf);
        match self.placer.services.media.add_to(self.group, leg) {
            Ok(handle) => {
                handle.send(LegCommand::Start);
                Some((handle, events))
            }
            Err(error) => {
                warn!(reference = %self.job.reference, %error, "no media for a callback leg");
                None
            }
        }
    }

    /// Do what the machine asks; `Some` when the attempt is over.
    async fn carry_out(&mut self, command: Command) -> Option<Finished> {
        match command {
            Command::SayToStaff(text) => self.say_to_staff(text),
            Command::SayToCitizen { text, language } => self.say_to_citizen(text, language),
            Command::HoldCitizen { text, language } => {
                // The rest of the message is not said after the hold (the queue would resume).
                self.drop_citizen_prompt();
                self.prompt += 1;
                self.holding = Some(self.prompt);
                self.key_until = None;
                info!(reference = %self.job.reference, "callback: the citizen pressed 1, holds while staff are rung");
                self.load(Hearer::CitizenHold, self.prompt, text, language.code());
            }
            Command::WaitForCitizenKey => {
                self.key_until = Some(Instant::now() + self.settings().key_wait);
            }
            Command::RingStaff => self.start_ringing_staff(),
            Command::CallCitizen => self.call_citizen(),
            Command::Bridge => {
                if let (Some(staff), Some(citizen)) = (&self.staff, &self.citizen) {
                    self.key_until = None;
                    self.holding = None;
                    self.reached = true;
                    if let Err(error) = staff.leg.bridge(&citizen.leg) {
                        warn!(%error, "callback bridge");
                    }
                    info!(reference = %self.job.reference, "callback: staff and citizen bridged");
                }
            }
            Command::HangUpStaff => self.hang_up_staff().await,
            Command::HangUpCitizen => self.hang_up_citizen().await,
            // The machine's `Finish` that follows says so (`closed`); the task writes it.
            Command::Close => {}
            Command::Finish(finished) => return Some(finished),
        }
        None
    }

    fn say_to_staff(&mut self, text: String) {
        let Some(staff) = &self.staff else {
            return;
        };
        self.prompt += 1;
        self.staff_prompt = self.prompt;
        staff.leg.send(LegCommand::Source(Source::Prompts));
        staff.leg.send(LegCommand::Enqueue(self.prompt));
        // Keys count from now; the wait for one starts when the prompt has been said.
        self.key_until = None;
        self.load(Hearer::Staff, self.prompt, text, "it");
    }

    fn say_to_citizen(&mut self, text: String, language: Language) {
        let Some(citizen) = &self.citizen else {
            return;
        };
        let previous = self.citizen_prompt;
        if previous != 0 {
            // Whatever was still queued for the citizen is not said first.
            citizen.leg.send(LegCommand::Drop(previous));
        }
        self.prompt += 1;
        self.citizen_prompt = self.prompt;
        self.holding = None;
        citizen.leg.send(LegCommand::Source(Source::Prompts));
        citizen.leg.send(LegCommand::Enqueue(self.prompt));
        self.key_until = None;
        self.load(Hearer::Citizen, self.prompt, text, language.code());
    }

    /// Forget what is queued for the citizen (no `Finished` follows for it).
    fn drop_citizen_prompt(&mut self) {
        if let Some(citizen) = &self.citizen
            && self.citizen_prompt != 0
        {
            citizen.leg.send(LegCommand::Drop(self.citizen_prompt));
            self.citizen_prompt = 0;
        }
    }

    /// Make a prompt by text to speech off the task; it comes back in the run loop.
    fn load(&mut self, hearer: Hearer, id: u64, text: String, language: &str) {
        let prompts = self.placer.services.prompts.clone();
        let media = Media::Speech {
            text,
            language: language.to_owned(),
        };
        let reference = self.job.reference.clone();
        let making = tokio::task::spawn_blocking(move || prompts.get_or_load(&media));
        self.loading.push(Box::pin(async move {
            let prompt = match making.await {
                Ok(Ok(prompt)) => Some(prompt),
                Ok(Err(error)) => {
                    warn!(%reference, %error, ?hearer, "callback prompt not spoken");
                    None
                }
                Err(error) => {
                    warn!(%reference, %error, ?hearer, "callback prompt not made");
                    None
                }
            };
            (hearer, id, prompt)
        }));
    }

    /// A prompt is ready (or could not be made): it goes to its side if still wanted there.
    fn loaded(
        &mut self,
        hearer: Hearer,
        id: u64,
        prompt: Option<Arc<EncodedPrompt>>,
    ) -> Option<Event> {
        match hearer {
            Hearer::Staff => {
                let staff = self.staff.as_ref()?;
                if id != self.staff_prompt {
                    return None;
                }
                match prompt {
                    Some(frames) => staff.leg.send(LegCommand::Loaded(id, frames)),
                    None => {
                        staff.leg.send(LegCommand::Drop(id));
                        self.key_until = Some(Instant::now() + self.settings().key_wait);
                    }
                }
                None
            }
            Hearer::Citizen => {
                let citizen = self.citizen.as_ref()?;
                if id != self.citizen_prompt {
                    return None;
                }
                match prompt {
                    Some(frames) => {
                        citizen.leg.send(LegCommand::Loaded(id, frames));
                        None
                    }
                    None => {
                        // Nothing to say: as if it had been said.
                        citizen.leg.send(LegCommand::Drop(id));
                        Some(Event::CitizenHeard)
                    }
                }
            }
            Hearer::CitizenHold => {
                let citizen = self.citizen.as_ref()?;
                if self.holding == Some(id)
                    && let Some(frames) = prompt
                {
                    citizen.leg.send(LegCommand::Source(Source::Loop(frames)));
                }
                None
            }
        }
    }

    /// INVITE the citizen through the trunk; the answer comes back in the run loop.
    fn call_citizen(&mut self) {
        self.key_until = None;
        let settings = self.settings();
        let target = settings.trunk.uri_for(&self.job.number);
        let Ok(callee) = Uri::try_from(target.as_str()) else {
            warn!(%target, "the trunk URI does not parse for this number");
            self.cannot_call("the trunk URI does not parse");
            return;
        };
        let destination = SipAddr::try_from(&callee).ok();
        let listen = self.placer.outbound.listen;
        let local = destination
            .as_ref()
            .and_then(|d| SocketAddr::try_from(d.addr.clone()).ok())
            .map_or(listen, |to| reachable_local(listen, to));
        let media = if self.local_media.ip().is_unspecified() {
            SocketAddr::new(local.ip(), self.local_media.port())
        } else {
            self.local_media
        };
        let caller = Uri::try_from(format!("sip:{}@{local}", settings.caller_id).as_str());
        let contact = Uri::try_from(format!("sip:centralino@{local}").as_str());
        let (Ok(caller), Ok(contact)) = (caller, contact) else {
            warn!("the dialer's caller id makes no SIP URI");
            self.cannot_call("the caller id makes no SIP URI");
            return;
        };
        let options = InviteOption {
            caller_display_name: Some(String::from("Comune")),
            caller,
            callee,
            destination,
            content_type: Some(String::from("application/sdp")),
            offer: Some(sdp::offer(media, session_id(media), 1).into_bytes()),
            contact,
            credential: settings.credential.as_ref().map(|c| Credential {
                username: c.username.clone(),
                password: c.password.clone(),
                ..Credential::default()
            }),
            call_id: Some(format!(
                "{:016x}{:016x}@centralino",
                fastrand::u64(..),
                fastrand::u64(..)
            )),
            ..InviteOption::default()
        };
        info!(reference = %self.job.reference, %target, "callback: calling the citizen");
        let dialogs = self.placer.outbound.dialogs.clone();
        let (sender, states) = self
            .placer
            .outbound
            .states
            .open(options.call_id.as_deref().unwrap_or_default());
        self.calling_until = Some(Instant::now() + settings.citizen_ring);
        self.calling = Some(Box::pin(async move {
            let result = dialogs.do_invite(options, sender).await;
            (result, states)
        }));
    }

    /// The citizen cannot be called: the machine hears it as a failed call at once.
    fn cannot_call(&mut self, why: &'static str) {
        self.calling = Some(Box::pin(async move {
            (
                Err(rsipstack::Error::Error(why.to_owned())),
                LegStates::none(),
            )
        }));
    }

    /// The citizen's final answer, as the machine's event.
    async fn citizen_answer(
        &mut self,
        (result, states): (
            Result<(InviteDialog, Option<Response>), rsipstack::Error>,
            LegStates,
        ),
    ) -> Event {
        let (dialog, response) = match result {
            Ok(done) => done,
            Err(error) => {
                warn!(reference = %self.job.reference, %error, "callback: the trunk could not be called");
                return Event::CitizenRejected { status: 500 };
            }
        };
        let Some(response) = response else {
            return Event::CitizenRejected { status: 500 };
        };
        let status = u16::from(response.status_code.clone());
        if response.status_code.kind() != StatusCodeKind::Successful {
            info!(reference = %self.job.reference, status, "callback: the citizen's call was not answered");
            return Event::CitizenRejected { status };
        }
        let leg = sdp::negotiate(&response.body)
            .ok()
            .and_then(|negotiated| self.leg(negotiated));
        match leg {
            Some((leg, events)) => {
                info!(reference = %self.job.reference, "callback: the citizen answered");
                self.answered = true;
                self.citizen = Some(Side {
                    dialog,
                    states,
                    leg,
                    events,
                });
                Event::CitizenAnswered
            }
            None => {
                info!(reference = %self.job.reference, "callback: the citizen's answer has no usable audio: hanging up");
                let _ = dialog.bye().await;
                self.placer.outbound.dialogs.remove_dialog(&dialog.id());
                Event::CitizenRejected { status: 488 }
            }
        }
    }

    /// The staff side ended by itself.
    fn forget_staff(&mut self) {
        if let Some(staff) = self.staff.take() {
            self.placer
                .outbound
                .dialogs
                .remove_dialog(&staff.dialog.id());
            self.staff_gone();
        }
        self.key_until = None;
    }

    fn staff_gone(&mut self) {
        if let Some(call_id) = self.staff_call_id.take() {
            self.placer.services.desk.send(DeskEvent::StaffLeg {
                extension: self.job.staff.clone(),
                call_id,
                state: CallState::Terminated,
            });
        }
    }

    /// The citizen hung up: staff hear prompts again (not the silence of a gone leg).
    fn forget_citizen(&mut self) {
        if let Some(citizen) = self.citizen.take() {
            self.placer
                .outbound
                .dialogs
                .remove_dialog(&citizen.dialog.id());
        }
        if let Some(staff) = &self.staff {
            staff.leg.send(LegCommand::Source(Source::Prompts));
        }
    }

    async fn hang_up_staff(&mut self) {
        self.key_until = None;
        // Still ringing (citizen first): dropped, which cancels the INVITEs.
        self.ringing = None;
        if let Some(staff) = self.staff.take() {
            if let Err(error) = staff.dialog.bye().await {
                debug!(%error, "BYE to staff");
            }
            self.placer
                .outbound
                .dialogs
                .remove_dialog(&staff.dialog.id());
            self.staff_gone();
        }
    }

    async fn hang_up_citizen(&mut self) {
        // Still ringing: dropped, which cancels the INVITE.
        self.calling = None;
        self.calling_until = None;
        if let Some(citizen) = self.citizen.take() {
            if let Err(error) = citizen.dialog.bye().await {
                debug!(%error, "BYE to the citizen");
            }
            self.placer
                .outbound
                .dialogs
                .remove_dialog(&citizen.dialog.id());
        }
    }

    async fn hang_up_all(&mut self) {
        self.hang_up_citizen().await;
        self.hang_up_staff().await;
        self.loading = FuturesUnordered::new();
    }
}

/// A session id for our offers: the media port in the high half, a random low half.
fn session_id(local: SocketAddr) -> u64 {
    u64::from(local.port()) << 32 | u64::from(fastrand::u32(..))
}
