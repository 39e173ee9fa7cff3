//! The presence board and the queues (`GET /presence`), and setting one's own presence
//! (`POST /presence`, away or back).
//!
//! ```text
//!   flows' offices ──► every staff member (one row per extension) ◄── desk: status
//!                                                                 ◄── registrar: devices
//!   flows' offices ──► one queue per office                       ◄── desk: callers, agents
//!   POST /presence away=1|0 ──► the viewer's account ──extension──► desk: SetAway (as *21 / *20)
//! ```
//!
//! The board is built by a pure function ([`board`]) from what the server says now; the page
//! refreshes it every few seconds by fetching itself (`poll.html`, also used by the live
//! calls page). A console account answers on an extension when `centralino users extension`
//! says so; without one, the page says how to set it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{Console, Nav, Page, Viewer, everyone};
use crate::desk::DeskEvent;
use crate::engine::Program;
use crate::people::presence::Status;
use crate::people::queue::{AgentState, QueuesSnapshot};
use crate::people::{Binding, SignalTransport, extension_of};

pub const PAGE: Page = Page {
    routes,
    templates: &[
        ("presence.html", include_str!("presence.html")),
        ("poll.html", include_str!("poll.html")),
    ],
    words: WORDS,
    nav: Some(Nav {
        path: "/presence",
        label: "presence.title",
        allowed: everyone,
    }),
};

const WORDS: &[super::Word] = &[
    ("presence.title", "Presenze e code", "Presence and queues"),
    ("presence.staff", "Personale", "Staff"),
    ("presence.extension", "Interno", "Extension"),
    ("presence.name", "Nome", "Name"),
    ("presence.offices", "Uffici", "Offices"),
    ("presence.status", "Stato", "Status"),
    (
        "presence.devices",
        "Telefoni registrati",
        "Registered phones",
    ),
    ("presence.no_devices", "nessuno", "none"),
    ("presence.expires", "scade alle", "expires at"),
    ("presence.available", "Disponibile", "Available"),
    ("presence.ringing", "Squilla", "Ringing"),
    ("presence.on_call", "Al telefono", "On a call"),
    ("presence.away", "Assente", "Away"),
    ("presence.offline", "Non connesso", "Offline"),
    ("presence.busy", "Occupato", "Busy"),
    (
        "presence.no_staff",
        "I flussi non nominano personale.",
        "The flows name no staff.",
    ),
    ("presence.queues", "Code degli uffici", "Office queues"),
    ("presence.office", "Ufficio", "Office"),
    ("presence.waiting", "In attesa", "Waiting"),
    ("presence.longest", "Attesa più lunga", "Longest wait"),
    ("presence.agents", "Operatori", "Agents"),
    (
        "presence.callers",
        "Chiamanti in coda",
        "Callers in the queue",
    ),
    ("presence.position", "Posizione", "Position"),
    ("presence.since", "In attesa da", "Waiting since"),
    ("presence.offered_to", "Squilla a", "Ringing"),
    (
        "presence.no_offices",
        "I flussi non hanno uffici.",
        "The flows have no offices.",
    ),
    ("presence.mine", "La mia presenza", "My presence"),
    ("presence.me", "Interno", "Extension"),
    ("presence.set_away", "Mi assento", "Set me away"),
    ("presence.set_back", "Sono rientrato", "I am back"),
    (
        "presence.no_extension",
        "Il suo account non è legato a un interno: l'amministratore lo imposta con «centralino users extension NOME INTERNO».",
        "Your account has no extension: an administrator sets it with `centralino users extension NAME EXTENSION`.",
    ),
    (
        "presence.not_staff",
        "L'interno del suo account non è nel personale dei flussi.",
        "Your account's extension is not among the flows' staff.",
    ),
    (
        "presence.set_done_away",
        "Ora risulta assente: le chiamate non la cercano.",
        "You are now away: calls will not ring you.",
    ),
    (
        "presence.set_done_back",
        "Ora risulta di nuovo disponibile.",
        "You are available again.",
    ),
    ("presence.updated", "Aggiornato alle", "Updated at"),
];

fn routes() -> Router<Arc<Console>> {
    Router::new().route("/presence", get(show).post(set_presence))
}

/// One staff member on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffRow {
    pub extension: String,
    pub name: String,
    /// The titles of their offices, in the flows' order.
    pub offices: Vec<String>,
    pub status: Status,
    /// The word key of the status (`presence.away`).
    pub status_word: &'static str,
    pub devices: Vec<Device>,
}

/// A registered phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub contact: String,
    pub user_agent: Option<String>,
    pub transport: &'static str,
    /// When its registration lapses (local time, `HH:MM:SS`).
    pub expires: String,
}

/// One office's queue on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRow {
    pub office: String,
    pub title: String,
    pub callers: Vec<Caller>,
    /// How long the first caller has waited (`1m 05s`); none when nobody waits.
    pub longest_wait: Option<String>,
    pub agents: Vec<Agent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub position: u32,
    pub since: String,
    pub waited: String,
    pub offered_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub agent: String,
    pub state_word: &'static str,
}

/// The whole board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Board {
    pub staff: Vec<StaffRow>,
    pub queues: Vec<QueueRow>,
}

/// The word key of a presence status.
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Available => "presence.available",
        Status::Ringing => "presence.ringing",
        Status::OnCall => "presence.on_call",
        Status::Away => "presence.away",
        Status::Offline => "presence.offline",
    }
}

fn agent_word(state: AgentState) -> &'static str {
    match state {
        AgentState::Available => "presence.available",
        AgentState::Ringing => "presence.ringing",
        AgentState::OnCall => "presence.on_call",
        AgentState::Busy => "presence.busy",
        AgentState::Away => "presence.away",
        AgentState::Offline => "presence.offline",
    }
}

use super::clock::{Clock, length};

/// The board from what the server says at `now`: the staff of the flows' offices (one row per
/// extension, in the order the offices name them), each with their status (offline when the
/// desk does not know them) and their phones; every office's queue.
pub fn board(
    program: &Program,
    statuses: &BTreeMap<String, Status>,
    bindings: &[Binding],
    queues: &QueuesSnapshot,
    clock: &Clock,
) -> Board {
    let now = clock.now();
    let mut staff: Vec<StaffRow> = Vec::new();
    for office in program.graph.offices.values() {
        for member in &office.staff {
            let extension = extension_of(&member.contact)
                .unwrap_or(&member.contact)
                .to_owned();
            if let Some(row) = staff.iter_mut().find(|row| row.extension == extension) {
                if !row.offices.contains(&office.title) {
                    row.offices.push(office.title.clone());
                }
                continue;
            }
            let status = statuses.get(&extension).copied().unwrap_or(Status::Offline);
            let devices = bindings
                .iter()
                .filter(|binding| binding.extension == extension)
                .map(|binding| Device {
                    contact: binding.contact.clone(),
                    user_agent: binding.user_agent.clone(),
                    transport: match binding.transport {
                        SignalTransport::Udp => "UDP",
                        SignalTransport::Tcp => "TCP",
                    },
                    expires: clock.time(binding.expires_at),
                })
                .collect();
            staff.push(StaffRow {
                name: member
                    .name
                    .clone()
                    .filter(|name| !name.trim().is_empty())
                    .unwrap_or_else(|| extension.clone()),
                extension,
                offices: vec![office.title.clone()],
                status,
                status_word: status_word(status),
                devices,
            });
        }
    }
    let queues = program
        .graph
        .offices
        .iter()
        .map(|(key, office)| {
            let snapshot = queues.offices.iter().find(|q| &q.office == key);
            let callers: Vec<Caller> = snapshot
                .map(|q| {
                    q.waiting
                        .iter()
                        .map(|caller| Caller {
                            position: caller.position,
                            since: clock.time(caller.since),
                            waited: length(now.duration_since(caller.since).as_secs()),
                            offered_to: caller.offered_to.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let longest_wait = snapshot
                .and_then(|q| q.waiting.iter().map(|caller| caller.since).min())
                .map(|since| length(now.duration_since(since).as_secs()));
            let agents = snapshot
                .map(|q| {
                    q.agents
                        .iter()
                        .map(|agent| Agent {
                            agent: agent.agent.clone(),
                            state_word: agent_word(agent.state),
                        })
                        .collect()
                })
                .unwrap_or_default();
            QueueRow {
                office: key.clone(),
                title: office.title.clone(),
                callers,
                longest_wait,
                agents,
            }
        })
        .collect();
    Board { staff, queues }
}

async fn show(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    // After a change: `?done=away` or `?done=back`.
    let done = query.and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "done")
            .map(|(_, value)| value.into_owned())
    });
    let notice = match done.as_deref() {
        Some("away") => Some("presence.set_done_away"),
        Some("back") => Some("presence.set_done_back"),
        _ => None,
    };
    render(&console, &viewer, StatusCode::OK, notice, None)
}

fn render(
    console: &Console,
    viewer: &Viewer,
    status: StatusCode,
    notice: Option<&str>,
    problem: Option<&str>,
) -> Response {
    let server = console.server();
    let clock = console.clock();
    let now = clock.now();
    let program = server
        .deployment
        .current()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let statuses = server.desk.statuses();
    let board = board(
        &program,
        &statuses,
        &server.registrar.registrations(now),
        &server.desk.queues(),
        &clock,
    );
    let extension = console
        .account(&viewer.staff.name)
        .and_then(|account| account.extension);
    let my_status = extension
        .as_ref()
        .map(|extension| statuses.get(extension).copied().unwrap_or(Status::Offline));
    let mut page = console.page(
        viewer,
        "presence.html",
        context! {
            path => "/presence",
            board => minijinja::Value::from(minijinja::value::Serde(&board)),
            extension => extension,
            my_status => my_status.map(status_word),
            my_away => my_status == Some(Status::Away),
            notice => notice,
            problem => problem,
            updated => clock.time(now),
        },
    );
    if page.status() == StatusCode::OK {
        *page.status_mut() = status;
    }
    page
}

#[derive(Debug, Deserialize)]
struct SetPresence {
    /// `1`: away (as `*21`); `0`: back (as `*20`).
    away: String,
}

async fn set_presence(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Form(form): Form<SetPresence>,
) -> Response {
    let away = match form.away.as_str() {
        "1" => true,
        "0" => false,
        _ => return (StatusCode::BAD_REQUEST, "away: 1 or 0").into_response(),
    };
    let Some(extension) = console
        .account(&viewer.staff.name)
        .and_then(|account| account.extension)
    else {
        return render(
            &console,
            &viewer,
            StatusCode::CONFLICT,
            None,
            Some("presence.no_extension"),
        );
    };
    let is_staff = console
        .server()
        .desk
        .presence()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_staff(&extension);
    if !is_staff {
        return render(
            &console,
            &viewer,
            StatusCode::CONFLICT,
            None,
            Some("presence.not_staff"),
        );
    }
    tracing::info!(name = %viewer.staff.name, %extension, away, "presence set from the console");
    console
        .server()
        .desk
        .send(DeskEvent::SetAway { extension, away });
    Redirect::to(if away {
        "/presence?done=away"
    } else {
        "/presence?done=back"
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::people::queue::{AgentSnapshot, OfficeSnapshot, WaitingCaller};

    const FLOWS: &str = r#"
office anagrafe "Anagrafe" {
  staff "sip:201@comune.example" as "Anna Rossi"
  staff "sip:202@comune.example"
}
office tributi "Tributi" {
  staff "sip:202@comune.example" as "Bruno"
  staff "sip:203@comune.example" as "Carla"
}
flow main answers "100" {
  language it
  inizio: say "Buongiorno." -> hangup
}
"#;

    fn program() -> Arc<Program> {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", FLOWS);
        let compiled = centralino_compiler::compile(&sources);
        Program::new(compiled.graph.unwrap()).unwrap()
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn lengths_read_as_people_say_them() {
        assert_eq!(length(-3), "0s");
        assert_eq!(length(45), "45s");
        assert_eq!(length(65), "1m 05s");
        assert_eq!(length(3720), "1h 02m");
    }

    #[test]
    fn the_board_has_every_staff_member_once_with_status_phones_and_every_queue() {
        let now = at("2026-12-04T10:00:00Z");
        let statuses = BTreeMap::from([
            (String::from("201"), Status::Available),
            (String::from("202"), Status::Away),
        ]);
        let bindings = vec![Binding {
            extension: String::from("201"),
            contact: String::from("sip:201@192.0.2.7:5062"),
            source: "192.0.2.7:5062".parse().unwrap(),
            transport: SignalTransport::Udp,
            expires_at: at("2026-12-04T10:05:00Z"),
            user_agent: Some(String::from("baresip")),
        }];
        let queues = QueuesSnapshot {
            offices: vec![OfficeSnapshot {
                office: String::from("tributi"),
                waiting: vec![
                    WaitingCaller {
                        call: String::from("a"),
                        since: at("2026-12-04T09:58:55Z"),
                        position: 1,
                        offered_to: Some(String::from("203")),
                    },
                    WaitingCaller {
                        call: String::from("b"),
                        since: at("2026-12-04T09:59:30Z"),
                        position: 2,
                        offered_to: None,
                    },
                ],
                agents: vec![AgentSnapshot {
                    agent: String::from("203"),
                    state: AgentState::Ringing,
                    idle_since: None,
                    missed_in_a_row: 0,
                }],
            }],
        };
        let board = board(
            &program(),
            &statuses,
            &bindings,
            &queues,
            &Clock::new(centralino_compiler::calendar::default_timezone(), now),
        );
        let rows: Vec<(&str, &str, Vec<&str>, Status, usize)> = board
            .staff
            .iter()
            .map(|row| {
                (
                    row.extension.as_str(),
                    row.name.as_str(),
                    row.offices.iter().map(String::as_str).collect(),
                    row.status,
                    row.devices.len(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("201", "Anna Rossi", vec!["Anagrafe"], Status::Available, 1),
                ("202", "202", vec!["Anagrafe", "Tributi"], Status::Away, 0),
                ("203", "Carla", vec!["Tributi"], Status::Offline, 0),
            ]
        );
        assert_eq!(board.staff[0].devices[0].transport, "UDP");
        assert_eq!(board.staff[0].devices[0].expires, "11:05:00");
        assert_eq!(board.staff[1].status_word, "presence.away");

        assert_eq!(board.queues.len(), 2);
        assert_eq!(board.queues[0].office, "anagrafe");
        assert!(board.queues[0].callers.is_empty());
        assert_eq!(board.queues[0].longest_wait, None);
        let tributi = &board.queues[1];
        assert_eq!(tributi.longest_wait.as_deref(), Some("1m 05s"));
        assert_eq!(tributi.callers[1].waited, "30s");
        assert_eq!(tributi.callers[0].offered_to.as_deref(), Some("203"));
        assert_eq!(tributi.agents[0].state_word, "presence.ringing");
    }

    #[test]
    fn the_board_page_renders_in_both_languages() {
        let console = super::super::tests::test_console();
        for lang in [super::super::Lang::It, super::super::Lang::En] {
            let viewer = Viewer {
                staff: crate::http::session::Staff {
                    name: String::from("anna"),
                    role: crate::http::accounts::Role::Operator,
                    csrf: String::from("t"),
                },
                lang,
            };
            let page = render(&console, &viewer, StatusCode::OK, None, None);
            assert_eq!(page.status(), StatusCode::OK);
        }
    }
}
