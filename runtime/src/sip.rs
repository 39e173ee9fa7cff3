//! The SIP adapter: answers calls with rsipstack and gives each one an owned call task.
//!
//! ```text
//!  UDP ──► screen::ScreenedSocket ──► malformed requests answered 400 (501, 505, 513) there
//!                 │ the rest
//!                 ▼
//!  UDP/TCP ──► rsipstack endpoint ──► incoming transactions ──► Server::on_transaction
//!                                         │ INVITE: number → flow (404), SDP (488), limit (503)
//!                                         │ in-dialog (BYE, INFO, re-INVITE, CANCEL) → dialog.handle
//!                                         │ REGISTER → register::answer (people::registrar)
//!                                         │ SUBSCRIBE, MESSAGE → auth::staff_caller → staff::StaffSide
//!                                         │   (presence/dialog NOTIFYs, messages kept and delivered)
//!  dialog states ──► Server::on_dialog_state ──► CallSignal ──► call task (engine)
//!                                                                   │ LegCommand ▲ MediaEvent
//!                                                                   ▼            │
//!                                          media::legs: one thread per core, RTP of its legs
//! ```
//!
//! Every task is owned: dialog handlers and call tasks live in `JoinSet`s of the
//! server, and each call has a child `CancellationToken`; the media threads belong to
//! `Services::media` and are joined when it is dropped. With a trunk configured, the
//! callback dialer (`dialer::task`, placing its attempts with `callback::SipPlacer`) runs in
//! a set of its own with a child token of `shutdown`, and ends before the stack stops.

pub mod auth;
pub mod call;
pub mod callback;
pub mod dial;
pub mod register;
pub mod screen;
pub mod sdp;
pub mod staff;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::EndpointBuilder;
use rsipstack::dialog::DialogId;
use rsipstack::dialog::dialog::{Dialog, DialogState, DialogStateSender, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::TransportLayer;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::desk::{Desk, DeskEvent};
use crate::engine::Program;
use crate::engine::speech::SystemText;
use crate::media::legs::InbandDtmf;
use crate::media::prompt::PromptCache;
use crate::people;
use crate::people::Location;
use crate::server::{Count, Registry};
use crate::store::Store;

pub use call::CallSignal;

/// The methods the server handles, as sent in `Allow`.
const ALLOWED: [Method; 10] = [
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Info,
    Method::Register,
    Method::Subscribe,
    Method::Notify,
    Method::Message,
];

fn allow_header_value() -> String {
    ALLOWED.map(|m| m.to_string()).join(", ")
}

/// Where and how the server listens.
#[derive(Debug, Clone)]
pub struct SipConfig {
    pub listen: SocketAddr,
    pub tcp: bool,
    pub max_calls: usize,
    /// A call whose caller sends no RTP for this long is ended.
    pub rtp_timeout: Duration,
    /// On shutdown, live calls may finish for this long.
    pub grace: Duration,
    /// Ring this long before answering (0: at once).
    pub answer_delay: Duration,
    pub user_agent: String,
    /// When callers' keys are listened for as tones in their audio.
    pub inband_dtmf: InbandDtmf,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            tcp: true,
            max_calls: 2_000,
            rtp_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(30),
            answer_delay: Duration::ZERO,
            inband_dtmf: InbandDtmf::Auto,
            user_agent: format!("centralino/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// What every call shares.
#[derive(Clone)]
pub struct Services {
    /// The version new calls start with (a reload replaces it).
    pub program: Arc<std::sync::RwLock<Arc<Program>>>,
    pub store: Arc<dyn Store>,
    pub prompts: Arc<PromptCache>,
    /// The media threads that pace every call's RTP.
    pub media: Arc<crate::media::legs::MediaLoops>,
    /// Recordings are written under `data_dir/recordings`.
    pub data_dir: PathBuf,
    /// The server's live calls and counters: each call keeps its line up to date.
    pub registry: Arc<Registry>,
    /// Where staff devices are registered: transfers ring them.
    pub location: Arc<dyn Location>,
    /// Presence and the queues; calls tell it about staff legs and waiting callers.
    pub desk: Desk,
    /// Live calls that another call may take staff from (attended transfer, `Replaces`).
    pub handovers: Arc<call::Handovers>,
    /// Staff phones' bindings (REGISTER): where staff can be reached (`people::Location`).
    pub registrar: Arc<crate::people::registrar::Registrar>,
    /// The flows' webhooks: HTTP(S) to the allow-listed hosts, bounded server-wide.
    pub webhooks: crate::webhook::WebhookClient,
    /// The conference rooms callers are in, by name.
    pub rooms: Arc<crate::conference::Rooms>,
}

impl Services {
    pub fn current_program(&self) -> Option<Arc<Program>> {
        self.program.read().ok().map(|p| p.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SipError {
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: SocketAddr, message: String },
    #[error("SIP stack: {0}")]
    Stack(String),
}

/// The callback dialer, when a trunk is configured: `serve` starts it with its dialogs and
/// media (it needs the SIP stack to place calls) and stops it on shutdown.
pub struct DialerSetup {
    pub callback: callback::CallbackSettings,
    pub settings: crate::dialer::schedule::DialerSettings,
    pub task: crate::dialer::task::TaskSettings,
    /// Notified when a request should be worked now (`callbacks call REF`).
    pub wake: Arc<tokio::sync::Notify>,
}

impl DialerSetup {
    /// The owned dialer task over this server's SIP side (not started).
    fn task(
        self,
        services: &Services,
        outbound: Arc<dial::Outbound>,
        token: CancellationToken,
    ) -> crate::dialer::task::DialerTask {
        use crate::dialer::schedule::Scheduler;
        use crate::dialer::task::{DialerTask, offices_of};
        let offices = services
            .current_program()
            .map(|program| offices_of(&program))
            .unwrap_or_default();
        let placer = Arc::new(callback::SipPlacer::new(
            services.clone(),
            outbound,
            self.callback,
        ));
        let desk = services.desk.clone();
        DialerTask::new(
            services.store.clone(),
            Scheduler::new(self.settings, offices),
            placer,
            Box::new(move || desk.statuses()),
            self.task,
            token,
        )
        .with_wake(self.wake)
        .with_program(services.program.clone())
    }
}

struct LiveCall {
    dialog: DialogId,
    signals: mpsc::UnboundedSender<CallSignal>,
    token: CancellationToken,
}

/// Run the server until `shutdown` is cancelled and live calls have finished
/// (or the grace period passed); with `dialer`, the callback dialer works meanwhile (it stops
/// at `shutdown`, hanging up the attempts it was making).
pub async fn serve(
    config: SipConfig,
    services: Services,
    shutdown: CancellationToken,
    dialer: Option<DialerSetup>,
) -> Result<(), SipError> {
    // Not a child of `shutdown`: while live calls drain, the stack still carries their BYEs
    // and answers new calls with 503; it stops once they have ended. Calls, likewise, have
    // tokens of their own (`Server::token`), cancelled at the end of the grace period.
    let stack = CancellationToken::new();
    let transport = TransportLayer::new(stack.clone());
    let listen_error = |e: &dyn std::fmt::Display| SipError::Listen {
        addr: config.listen,
        message: e.to_string(),
    };
    // rsipstack reads UDP through our socket, which answers malformed requests itself.
    let socket = tokio::net::UdpSocket::bind(config.listen)
        .await
        .map_err(|e| listen_error(&e))?;
    let bound = socket.local_addr().map_err(|e| listen_error(&e))?;
    let screened = Arc::new(screen::ScreenedSocket::new(
        socket,
        screen::Screen {
            server: config.user_agent.clone(),
            allow: allow_header_value(),
        },
    ));
    let udp = UdpConnection::from_socket(screened.clone(), None, Some(stack.child_token()))
        .await
        .map_err(|e| listen_error(&e))?;
    let listen = udp.get_addr().addr.clone();
    transport.add_transport(udp.into());
    if config.tcp {
        let tcp = TcpListenerConnection::new(config.listen, None)
            .await
            .map_err(|e| listen_error(&e))?;
        transport.add_transport(tcp.into());
    }
    let endpoint = EndpointBuilder::new()
        .with_cancel_token(stack.clone())
        .with_transport_layer(transport)
        .with_user_agent(&config.user_agent)
        .with_allows(ALLOWED.to_vec())
        .build();
    let mut incoming = endpoint
        .incoming_transactions()
        .map_err(|e| SipError::Stack(e.to_string()))?;
    let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let (state_sender, mut states) = dialogs.new_dialog_state_channel();
    let (client_states, placed_states) = dial::ClientStates::new();
    let outbound = Arc::new(dial::Outbound {
        dialogs: dialogs.clone(),
        listen: bound,
        states: client_states.clone(),
    });
    let (staff, staff_requests) = mpsc::unbounded_channel();
    let (staff_invites, mut authenticated_invites) = mpsc::unbounded_channel();
    let desk_outbox = services.desk.take_outbox().unwrap_or_else(|| {
        warn!("the desk's outbox was taken already: no NOTIFYs, no message deliveries");
        mpsc::unbounded_channel().1
    });
    let staff_side = staff::StaffSide {
        endpoint: endpoint.inner.clone(),
        listen: bound,
        desk: services.desk.clone(),
        outbox: desk_outbox,
        requests: staff_requests,
        store: services.store.clone(),
        location: services.location.clone(),
        program: services.program.clone(),
        token: stack.child_token(),
    };
    info!(%listen, tcp = config.tcp, "SIP listening");

    let mut server = Server {
        config,
        services,
        dialogs,
        outbound,
        state_sender,
        live: HashMap::new(),
        handlers: JoinSet::new(),
        calls: JoinSet::new(),
        draining: false,
        token: CancellationToken::new(),
        staff,
        staff_invites,
    };
    server.handlers.spawn(staff_side.run());
    server
        .handlers
        .spawn(dial::ClientStates::route(client_states, placed_states));
    // The dialer: its own set, so the stack outlives it (its attempts say BYE at shutdown).
    let mut dialers = JoinSet::new();
    if let Some(setup) = dialer {
        let task = setup.task(
            &server.services,
            server.outbound.clone(),
            shutdown.child_token(),
        );
        info!("callback dialer started");
        dialers.spawn(task.run());
    }

    let endpoint_loop = endpoint.serve();
    tokio::pin!(endpoint_loop);
    let mut grace_deadline: Option<tokio::time::Instant> = None;
    // Calls ended at the grace deadline get this long to say BYE before the stack stops.
    let mut hang_up_deadline: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            () = &mut endpoint_loop => break,
            () = shutdown.cancelled(), if !server.draining => {
                info!(live = server.live.len(), "shutting down: new calls get 503");
                server.draining = true;
                grace_deadline = Some(tokio::time::Instant::now() + server.config.grace);
            }
            () = sleep_until(grace_deadline) => {
                warn!(live = server.live.len(), "grace period over: ending live calls");
                for call in server.live.values() {
                    call.token.cancel();
                }
                grace_deadline = None;
                hang_up_deadline = Some(tokio::time::Instant::now() + HANG_UP_TIME);
            }
            () = sleep_until(hang_up_deadline) => {
                warn!(live = server.live.len(), "calls still not ended: stopping anyway");
                break;
            }
            Some(tx) = incoming.recv() => server.on_transaction(tx).await,
            Some((tx, caller)) = authenticated_invites.recv() => server.on_staff_invite(tx, caller).await,
            Some(state) = states.recv() => server.on_dialog_state(state),
            Some(_) = server.handlers.join_next(), if !server.handlers.is_empty() => {}
            Some(_) = dialers.join_next(), if !dialers.is_empty() => {}
            Some(done) = server.calls.join_next(), if !server.calls.is_empty() => {
                if let Ok(id) = done
                    && let Some(call) = server.live.remove(&id)
                {
                    server.dialogs.remove_dialog(&call.dialog);
                }
            }
        }
        if server.draining && server.live.is_empty() && dialers.is_empty() {
            break;
        }
    }
    dialers.shutdown().await;
    stack.cancel();
    server.handlers.shutdown().await;
    server.calls.shutdown().await;
    let (answered, dropped) = screened.counts();
    info!(
        answered,
        dropped, "malformed SIP requests answered and dropped"
    );
    Ok(())
}

/// How long calls ended by the server may take to hang up (BYE and its answer) at shutdown.
const HANG_UP_TIME: Duration = Duration::from_secs(5);

/// 503 Service Unavailable, with when to try again.
async fn unavailable(tx: &mut Transaction, retry_after_s: u32) {
    let _ = tx
        .reply_with(
            StatusCode::ServiceUnavailable,
            vec![Header::RetryAfter(retry_after_s.to_string().into())],
            None,
        )
        .await;
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

struct Server {
    config: SipConfig,
    services: Services,
    dialogs: Arc<DialogLayer>,
    /// How calls place their own calls (transfers to staff).
    outbound: Arc<dial::Outbound>,
    state_sender: DialogStateSender,
    live: HashMap<String, LiveCall>,
    handlers: JoinSet<()>,
    /// Call tasks; each returns its dialog id when it ends.
    calls: JoinSet<String>,
    draining: bool,
    token: CancellationToken,
    /// SUBSCRIBE and MESSAGE from staff go to the staff task (`staff::StaffSide`).
    staff: mpsc::UnboundedSender<staff::StaffRequest>,
    /// INVITEs from staff, authenticated off the loop, come back here (with the extension).
    staff_invites: mpsc::UnboundedSender<(Transaction, String)>,
}

impl Server {
    async fn on_transaction(&mut self, mut tx: Transaction) {
        // Requests inside a dialog go to the dialog (BYE, INFO, re-INVITE, CANCEL, ACK).
        if let Some(Dialog::Invite(mut dialog)) = self.dialogs.match_dialog(&tx) {
            self.handlers.spawn(async move {
                if let Err(e) = dialog.handle(&mut tx).await {
                    debug!(error = %e, "in-dialog request");
                }
            });
            return;
        }
        match tx.original.method {
            Method::Invite => self.on_invite(tx).await,
            Method::Options => {
                let headers = vec![
                    Header::Allow(allow_header_value().into()),
                    Header::Other(
                        String::from("Allow-Events"),
                        String::from(staff::ALLOW_EVENTS),
                    ),
                    Header::Accept("application/sdp".into()),
                ];
                let _ = tx.reply_with(StatusCode::OK, headers, None).await;
            }
            Method::Register => {
                let registrar = self.services.registrar.clone();
                let store = self.services.store.clone();
                let desk = self.services.desk.clone();
                self.handlers
                    .spawn(register::answer(tx, registrar, store, desk));
            }
            Method::Subscribe | Method::Message => self.on_staff_request(tx),
            Method::Notify => {
                // We subscribe to nothing.
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
            Method::Ack => {}
            Method::Bye | Method::Info | Method::Cancel => {
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
            _ => {
                let _ = tx.reply(StatusCode::MethodNotAllowed).await;
            }
        }
    }

    /// SUBSCRIBE and MESSAGE: a refresh inside a subscription goes to the staff task as it is;
    /// a request out of dialog first proves it comes from staff (`auth::staff_caller`), else it
    /// is answered as a number that does not exist.
    fn on_staff_request(&mut self, mut tx: Transaction) {
        let in_dialog = tx
            .original
            .to_header()
            .ok()
            .and_then(|to| to.tag().ok().flatten())
            .is_some();
        let method = tx.original.method;
        let staff = self.staff.clone();
        if in_dialog {
            if method == Method::Subscribe {
                if staff.send(staff::StaffRequest::Resubscribe { tx }).is_err() {
                    debug!("the staff task has stopped");
                }
            } else {
                // MESSAGE inside a dialog we do not have.
                self.handlers.spawn(async move {
                    let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                });
            }
            return;
        }
        let registrar = self.services.registrar.clone();
        self.handlers.spawn(async move {
            match auth::staff_caller(&mut tx, &registrar).await {
                auth::Authenticated::Staff(extension) => {
                    let request = if method == Method::Subscribe {
                        staff::StaffRequest::Subscribe {
                            tx,
                            subscriber: extension,
                        }
                    } else {
                        staff::StaffRequest::Message {
                            tx,
                            from: extension,
                        }
                    };
                    if staff.send(request).is_err() {
                        debug!("the staff task has stopped");
                    }
                }
                auth::Authenticated::Challenged => {}
                auth::Authenticated::Stranger => auth::unknown_number(&mut tx).await,
            }
        });
    }

    async fn on_invite(&mut self, mut tx: Transaction) {
        if self.draining {
            self.services.registry.count(Count::RefusedBusy);
            unavailable(&mut tx, 30).await;
            return;
        }
        if self.live.len() >= self.config.max_calls {
            self.services.registry.count(Count::RefusedBusy);
            unavailable(&mut tx, 5).await;
            return;
        }
        let Some(program) = self.services.current_program() else {
            let _ = tx.reply(StatusCode::ServerInternalError).await;
            return;
        };
        let number = tx
            .original
            .uri
            .auth
            .as_ref()
            .map(|a| a.user.clone())
            .unwrap_or_default();
        if program.graph.flow_for_number(&number).is_none() {
            // Not a citizen number: staff extensions, offices and star codes, for staff only.
            // Authenticating may sleep (a throttled source): off the server's loop.
            let registrar = self.services.registrar.clone();
            let registry = self.services.registry.clone();
            let staff_invites = self.staff_invites.clone();
            self.handlers.spawn(async move {
                match auth::staff_caller(&mut tx, &registrar).await {
                    auth::Authenticated::Staff(extension) => {
                        let _ = staff_invites.send((tx, extension));
                    }
                    auth::Authenticated::Challenged => {}
                    auth::Authenticated::Stranger => {
                        info!(%number, "no flow answers this number: 404");
                        registry.count(Count::RefusedUnknownNumber);
                        auth::unknown_number(&mut tx).await;
                    }
                }
            });
            return;
        }
        self.accept(tx, program, number, call::CallKind::Flow).await;
    }

    /// An INVITE from an authenticated staff member to something other than a flow's number:
    /// a star code, a colleague's extension, an office.
    async fn on_staff_invite(&mut self, mut tx: Transaction, caller: String) {
        let Some(program) = self.services.current_program() else {
            let _ = tx.reply(StatusCode::ServerInternalError).await;
            return;
        };
        let number = tx
            .original
            .uri
            .auth
            .as_ref()
            .map(|a| a.user.clone())
            .unwrap_or_default();
        let kind = match people::presence::dialled(&number) {
            people::presence::Dialled::StarCode(code) => {
                let away = matches!(code, people::presence::StarCode::Away);
                info!(extension = %caller, %number, away, "star code");
                self.services.desk.send(DeskEvent::SetAway {
                    extension: caller.clone(),
                    away,
                });
                call::CallKind::Announcement(if away {
                    SystemText::NowAway
                } else {
                    SystemText::NowBack
                })
            }
            people::presence::Dialled::IncompleteStarCode => {
                let _ = tx.reply(StatusCode::AddressIncomplete).await;
                return;
            }
            people::presence::Dialled::UnknownStarCode => {
                auth::unknown_number(&mut tx).await;
                return;
            }
            people::presence::Dialled::Number => {
                match call::direct_target(&program, &self.services, &number, &caller) {
                    Some(target) => target,
                    None => {
                        info!(extension = %caller, %number, "staff dialled no colleague or office: 404");
                        auth::unknown_number(&mut tx).await;
                        return;
                    }
                }
            }
        };
        if self.draining {
            unavailable(&mut tx, 30).await;
            return;
        }
        self.accept(tx, program, number, kind).await;
    }

    /// Give an INVITE a call task (SDP read, dialog made; 488 or 503 when it cannot be).
    async fn accept(
        &mut self,
        mut tx: Transaction,
        program: Arc<Program>,
        number: String,
        kind: call::CallKind,
    ) {
        let negotiated = match sdp::negotiate(&tx.original.body) {
            Ok(n) => n,
            Err(e) => {
                info!(%number, error = %e, "488");
                let _ = tx
                    .reply_with(
                        StatusCode::NotAcceptableHere,
                        vec![Header::Warning(format!("399 centralino \"{e}\"").into())],
                        None,
                    )
                    .await;
                return;
            }
        };
        let caller = tx
            .original
            .from_header()
            .ok()
            .and_then(|f| f.uri().ok())
            .and_then(|u| u.auth.map(|a| a.user))
            .unwrap_or_default();
        let local = tx.connection.as_ref().map(|c| c.get_addr().clone());
        let contact = local.as_ref().and_then(|addr| {
            rsipstack::sip::Uri::try_from(format!("sip:{number}@{}", addr.addr).as_str()).ok()
        });
        let dialog = match self.dialogs.get_or_create_server_invite(
            &tx,
            self.state_sender.clone(),
            None,
            contact,
        ) {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "cannot create dialog");
                let _ = tx.reply(StatusCode::ServerInternalError).await;
                return;
            }
        };
        let dialog_id = dialog.id();
        let id = dialog_id.to_string();
        let (signals, receiver) = mpsc::unbounded_channel();
        let token = self.token.child_token();
        let call = call::Call::new(call::CallSetup {
            dialog: dialog.clone(),
            program,
            services: self.services.clone(),
            outbound: self.outbound.clone(),
            negotiated,
            number,
            caller,
            rtp_timeout: self.config.rtp_timeout,
            answer_delay: self.config.answer_delay,
            inband_dtmf: self.config.inband_dtmf,
            token: token.clone(),
            kind,
        });
        match call {
            Ok(call) => {
                let call_id = id.clone();
                self.calls.spawn(async move {
                    call.run(receiver).await;
                    call_id
                });
                info!(call = %dialog_id.call_id, live = self.live.len() + 1, "call accepted");
                self.live.insert(
                    id,
                    LiveCall {
                        dialog: dialog_id,
                        signals,
                        token,
                    },
                );
            }
            Err(e) => {
                // Another call from the same RTP address on every media thread, and no port
                // free for a socket of this call's own.
                warn!(error = %e, "no RTP socket for the call: 503");
                self.services.registry.count(Count::RefusedBusy);
                unavailable(&mut tx, 5).await;
                return;
            }
        }
        // The dialog drives the INVITE transaction (100 Trying, final response, ACK).
        let mut dialog = dialog;
        self.handlers.spawn(async move {
            if let Err(e) = dialog.handle(&mut tx).await {
                debug!(error = %e, "INVITE transaction");
            }
        });
    }

    fn on_dialog_state(&mut self, state: DialogState) {
        let (id, signal) = match state {
            DialogState::Calling(id) => (id, CallSignal::Offered),
            DialogState::Confirmed(id, _) => (id, CallSignal::Confirmed),
            DialogState::Info(id, request, handle) => (id, CallSignal::Info(request, handle)),
            DialogState::Updated(id, request, handle) => {
                (id, CallSignal::Reinvite(request, handle))
            }
            DialogState::Options(id, _, handle) => (id, CallSignal::Options(handle)),
            DialogState::Terminated(id, reason) => {
                let by_caller = matches!(
                    reason,
                    TerminatedReason::UacBye | TerminatedReason::UacCancel
                );
                (
                    id,
                    CallSignal::Terminated {
                        by_caller,
                        reason: format!("{reason:?}"),
                    },
                )
            }
            other => {
                debug!(state = %other, "dialog state");
                return;
            }
        };
        let key: String = DialogId::to_string(&id);
        if let Some(call) = self.live.get(&key) {
            let _ = call.signals.send(signal);
        }
    }
}
