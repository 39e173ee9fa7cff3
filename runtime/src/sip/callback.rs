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
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Response, StatusCode, StatusCodeKind, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Services;
use super::dial::{self, Dialled, Outbound, reachable_local};
use super::sdp;
use crate::desk::DeskEvent;
use crate::dialer::attempt::{Attempt, Command, Event, Finished};
use crate::dialer::task::{Job, Placer};
use crate::dialer::trunk::TrunkUri;
use crate::engine::Media;
use crate::media::legs::{Group, InbandDtmf, Leg, LegCommand, LegHandle, MediaEvent, Source};
use crate::media::prompt::{EncodedPrompt, PromptError};
use crate::people::presence::CallState;
use crate::store::dialing::AttemptOutcome;

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
    states: DialogStateReceiver,
    leg: LegHandle,
    events: mpsc::UnboundedReceiver<MediaEvent>,
}

/// What one of the two sides said.
enum SideEvent {
    HungUp,
    /// No RTP for the timeout: the line is gone, though its dialog may still be up.
    Silent,
    Key(char),
    PromptFinished,
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
            Some(MediaEvent::Finished(_)) => SideEvent::PromptFinished,
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
                    DialogStateReceiver,
                ),
            > + Send,
    >,
>;

async fn next_answer(
    calling: &mut Option<Calling>,
) -> (
    Result<(InviteDialog, Option<Response>), rsipstack::Error>,
    DialogStateReceiver,
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

/// A prompt being made (text to speech, off the task).
type Loading = tokio::task::JoinHandle<Result<Arc<EncodedPrompt>, PromptError>>;

async fn next_loaded(loading: &mut Option<Loading>) -> Option<Arc<EncodedPrompt>> {
    let Some(handle) = loading.as_mut() else {
        return std::future::pending().await;
    };
    let loaded = handle.await;
    *loading = None;
    match loaded {
        Ok(Ok(prompt)) => Some(prompt),
        Ok(Err(error)) => {
            warn!(%error, "callback briefing not spoken");
            None
        }
        Err(error) => {
            warn!(%error, "callback briefing not made");
            None
        }
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
    loading: Option<Loading>,
    /// The prompt id of the latest thing said to staff.
    prompt: u64,
    key_until: Option<Instant>,
    /// The citizen answered: whatever follows, the attempt reached them.
    reached: bool,
}

impl SipPlacer {
    async fn work(&self, job: Job, token: CancellationToken) -> Finished {
        let mut attempt = Attempt::new(job.briefing.clone());
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
            loading: None,
            prompt: 0,
            key_until: None,
            reached: false,
        };
        let first = tokio::select! {
            () = token.cancelled() => return Finished::Skipped,
            event = run.ring_staff() => event,
        };
        let mut events = vec![first];
        loop {
            for event in events.drain(..) {
                for command in attempt.step(event) {
                    if let Some(finished) = run.carry_out(command).await {
                        run.hang_up_all().await;
                        return finished;
                    }
                }
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
                    return if run.reached {
                        Finished::Ended { outcome: AttemptOutcome::Reached, closed: false, detail: None }
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
                    SideEvent::PromptFinished => {
                        run.key_until = Some(Instant::now() + run.placer.settings.key_wait);
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
                    SideEvent::Key(_) | SideEvent::PromptFinished | SideEvent::Nothing => None,
                },
                loaded = next_loaded(&mut run.loading) => {
                    run.loaded(loaded);
                    None
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

    /// Ring the staff member's devices; the machine's first event.
    async fn ring_staff(&mut self) -> Event {
        let services = &self.placer.services;
        let devices = services
            .location
            .bindings(&self.job.staff, jiff::Timestamp::now());
        if devices.is_empty() {
            info!(reference = %self.job.reference, staff = %self.job.staff, "no device registered for the staff member");
            return Event::StaffNotReached;
        }
        let ring = dial::Ring {
            rounds: vec![dial::Round { devices }],
            ring_time: self.settings().staff_ring,
            caller: self.job.number.clone(),
            display: format!("Richiamata {}", self.job.reference),
            media: self.local_media,
            session_id: session_id(self.local_media),
            desk: services.desk.clone(),
        };
        match dial::ring(&self.placer.outbound, ring).await {
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
            Command::CallCitizen => self.call_citizen(),
            Command::Bridge => {
                if let (Some(staff), Some(citizen)) = (&self.staff, &self.citizen) {
                    self.key_until = None;
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
        staff.leg.send(LegCommand::Source(Source::Prompts));
        staff.leg.send(LegCommand::Enqueue(self.prompt));
        let prompts = self.placer.services.prompts.clone();
        let media = Media::Speech {
            text,
            language: String::from("it"),
        };
        // Keys count from now; the wait for one starts when the prompt has been said.
        self.key_until = None;
        self.loading = Some(tokio::task::spawn_blocking(move || {
            prompts.get_or_load(&media)
        }));
    }

    fn loaded(&mut self, prompt: Option<Arc<EncodedPrompt>>) {
        let Some(staff) = &self.staff else {
            return;
        };
        match prompt {
            Some(frames) => staff.leg.send(LegCommand::Loaded(self.prompt, frames)),
            None => {
                staff.leg.send(LegCommand::Drop(self.prompt));
                self.key_until = Some(Instant::now() + self.settings().key_wait);
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
        self.calling_until = Some(Instant::now() + settings.citizen_ring);
        self.calling = Some(Box::pin(async move {
            let (sender, states) = dialogs.new_dialog_state_channel();
            let result = dialogs.do_invite(options, sender).await;
            (result, states)
        }));
    }

    /// The citizen cannot be called: the machine hears it as a failed call at once.
    fn cannot_call(&mut self, why: &'static str) {
        self.calling = Some(Box::pin(async move {
            let (_sender, states) = mpsc::unbounded_channel();
            (Err(rsipstack::Error::Error(why.to_owned())), states)
        }));
    }

    /// The citizen's final answer, as the machine's event.
    async fn citizen_answer(
        &mut self,
        (result, states): (
            Result<(InviteDialog, Option<Response>), rsipstack::Error>,
            DialogStateReceiver,
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
                self.reached = true;
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
        self.loading = None;
    }
}

/// A session id for our offers: the media port in the high half, a random low half.
fn session_id(local: SocketAddr) -> u64 {
    u64::from(local.port()) << 32 | u64::from(fastrand::u32(..))
}
