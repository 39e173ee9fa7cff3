//! Engine transcripts: scripted events in, commands out, as insta snapshots.
//!
//! Each test compiles a small flow, starts a session at a fixed instant and
//! feeds it events; the transcript shows every event (`>`) and every command
//! (`<`), so a reviewer reads the call as it happened.

use std::sync::Arc;

use centralino_runtime::engine::{
    CallInfo, ChannelCommand, Command, EndReason, Event, Id, LineLoss, Media, Presence, Program,
    Session, StoreReply, Trace, TransferOutcome,
};
use jiff::Timestamp;

/// Drives a session and writes the transcript.
struct Call {
    session: Session,
    now: Timestamp,
    transcript: String,
    playing: Option<Id>,
    timers: Vec<Id>,
    request: Option<Id>,
}

fn program(source: &str) -> Arc<Program> {
    let mut sources = centralino_compiler::Sources::new();
    sources.add("test.flow", source);
    let compiled = centralino_compiler::compile(&sources);
    assert!(
        !compiled.diagnostics.has_errors(),
        "{}",
        centralino_compiler::render::human(&sources, &compiled.diagnostics, false)
    );
    Program::new(compiled.graph.expect("graph")).expect("program")
}

struct Absent(Vec<&'static str>);

impl Presence for Absent {
    fn is_present(&self, contact: &str) -> bool {
        !self.0.contains(&contact)
    }
}

impl Call {
    fn new(source: &str, number: &str, at: &str) -> Call {
        Self::with_presence(source, number, at, Vec::new())
    }

    fn with_presence(source: &str, number: &str, at: &str, absent: Vec<&'static str>) -> Call {
        let session = Session::new(
            program(source),
            CallInfo {
                call_id: String::from("call-1"),
                caller: String::from("+393331234567"),
                number: number.to_owned(),
            },
        )
        .with_presence(Arc::new(Absent(absent)));
        let now: Timestamp = at.parse().expect("instant");
        let mut call = Call {
            session,
            now,
            transcript: String::new(),
            playing: None,
            timers: Vec::new(),
            request: None,
        };
        call.send(Event::Started { at: now }, "started");
        call
    }

    fn send(&mut self, event: Event, label: &str) {
        self.transcript.push_str(&format!("> {label}\n"));
        for command in self.session.step(event) {
            self.note(&command);
            self.transcript
                .push_str(&format!("< {}\n", describe(&command)));
        }
    }

    fn note(&mut self, command: &Command) {
        match command {
            Command::Channel(ChannelCommand::Play { playback, .. }) => {
                self.playing = Some(*playback);
            }
            Command::Channel(ChannelCommand::StopPlayback { .. }) => self.playing = None,
            Command::StartTimer { timer, .. } => self.timers.push(*timer),
            Command::CancelTimer { timer } => self.timers.retain(|t| t != timer),
            Command::Channel(
                ChannelCommand::Transfer { request, .. }
                | ChannelCommand::Enqueue { request, .. }
                | ChannelCommand::Record { request, .. }
                | ChannelCommand::JoinConference { request, .. }
                | ChannelCommand::Webhook { request, .. },
            ) => self.request = Some(*request),
            Command::Store(request) => self.request = Some(request.id()),
            Command::Trace(_) | Command::Hangup { .. } | Command::Ended { .. } => {}
        }
    }

    fn advance(&mut self, seconds: i64) {
        self.now = self
            .now
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .expect("time");
    }

    /// The prompt that is playing ends.
    fn finish(&mut self) {
        let playback = self.playing.take().expect("something is playing");
        self.advance(2);
        self.send(
            Event::PlaybackFinished {
                playback,
                at: self.now,
            },
            &format!("playback #{playback} finished"),
        );
    }

    fn press(&mut self, digit: char) {
        self.advance(1);
        self.send(
            Event::Digit {
                digit,
                at: self.now,
            },
            &format!("key {digit}"),
        );
    }

    /// The most recent timer fires (the input timeout, usually).
    fn timeout(&mut self) {
        let timer = self.timers.pop().expect("a timer is running");
        self.advance(6);
        self.send(
            Event::TimerFired {
                timer,
                at: self.now,
            },
            &format!("timer #{timer} fired"),
        );
    }

    fn store(&mut self, reply: Result<StoreReply, String>) {
        let request = self.request.take().expect("a request is pending");
        self.send(
            Event::StoreResult {
                request,
                result: reply.clone(),
                at: self.now,
            },
            &format!("store answers #{request}: {reply:?}"),
        );
    }

    fn transfer(&mut self, outcome: TransferOutcome) {
        let request = self.request.take().expect("a request is pending");
        self.advance(10);
        self.send(
            Event::TransferResult {
                request,
                outcome,
                at: self.now,
            },
            &format!("transfer #{request}: {outcome:?}"),
        );
    }

    fn hangup(&mut self) {
        self.send(Event::Hangup { at: self.now }, "caller hangs up");
    }
}

fn describe(command: &Command) -> String {
    match command {
        Command::Channel(ChannelCommand::Play {
            playback,
            prompt,
            media,
        }) => match media {
            Media::Speech { text, language } => {
                format!("play #{playback} {prompt} [{language}] {text:?}")
            }
            Media::Audio { path } => format!("play #{playback} {prompt} audio {path}"),
        },
        Command::Trace(Trace {
            flow,
            state,
            location,
            note,
        }) => format!("trace {flow}.{state} @ {location}: {note}"),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

const OFFICES: &str = r#"
calendar uffici {
  timezone "Europe/Rome"
  mon-fri 08:30-13:30
  tue, thu 15:00-17:30
  closed holidays italy
  closed 01-29 "San Costanzo"
}
office anagrafe "Servizi demografici" {
  hours uffici
  staff "sip:1001@comune.perugia.it" as "Maria Rossi"
  staff "sip:1002@comune.perugia.it"
  ring 20s
  appointments 20m capacity 2
}
category buche "Strade e buche" { office anagrafe priority normal sla 5d }
"#;

fn with_offices(flow: &str) -> String {
    format!("{OFFICES}\n{flow}")
}

const MENU: &str = r##"
flow main answers "075075075" {
  language it fallback en
  max visits 3
  start: say "Benvenuto." -> menu
  menu:  menu "Per l'anagrafe premi 1, per segnalare premi 2." timeout 5s retries 1 {
           1 -> orari
           2 -> segnala
           timeout, invalid -> fine
         }
  orari:   if open(uffici) -> passa else -> chiuso
  passa:   transfer anagrafe else -> richiama
  chiuso:  say "L'anagrafe è chiusa." -> richiama
  richiama: callback anagrafe -> detto
  detto:   say "La richiameremo. Riferimento {{ callback.ref }}." -> hangup
  segnala: collect "Digiti il codice della via, poi cancelletto." into via digits 2..4 end "#" timeout 5s retries 1 -> ticket else -> fine
  ticket:  ticket buche with { via: via } -> letto
  letto:   say "Segnalazione {{ ticket.ref }} per la via {{ via }}." -> hangup
  fine:    say "Arrivederci." -> hangup
}
"##;

// Tuesday 24 November 2026, 10:00 in Rome (09:00 UTC): offices open.
const TUESDAY_MORNING: &str = "2026-11-24T09:00:00Z";
// The same Tuesday, 20:00 in Rome: closed.
const TUESDAY_EVENING: &str = "2026-11-24T19:00:00Z";

#[test]
fn menu_key_transfers_when_open() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
    call.finish();
    call.press('1');
    call.transfer(TransferOutcome::Answered);
    call.hangup();
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn transfer_overflows_to_callback_when_nobody_answers() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
    call.finish();
    call.press('1');
    call.transfer(TransferOutcome::NoAnswer);
    call.store(Ok(StoreReply::Callback {
        reference: String::from("RC-2026-000007"),
    }));
    call.finish();
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn a_citizen_first_callback_asks_the_store_with_the_calls_language() {
    let flow = r#"
flow main answers "075075075" {
  language it
  inglese: set language = "en" -> richiama
  richiama: callback anagrafe citizen first note "Rimborso" -> detto
  detto: say "We will call you back." -> hangup
}
"#;
    let mut call = Call::new(&with_offices(flow), "075075075", TUESDAY_MORNING);
    call.store(Ok(StoreReply::Callback {
        reference: String::from("RC-2026-000008"),
    }));
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn closed_office_goes_to_the_closed_path() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_EVENING);
    call.finish();
    call.press('1');
    call.finish();
    call.store(Err(String::from("disk full")));
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn nobody_present_is_busy() {
    let mut call = Call::with_presence(
        &with_offices(MENU),
        "075075075",
        TUESDAY_MORNING,
        vec!["sip:1001@comune.perugia.it", "sip:1002@comune.perugia.it"],
    );
    call.finish();
    call.press('1');
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn menu_retries_then_takes_the_timeout_branch() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
    call.finish();
    call.finish(); // the menu prompt ends: the input timer starts
    call.timeout(); // first silence: the menu is asked again
    call.finish();
    call.timeout(); // second silence: retries used up
    call.finish();
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn invalid_key_is_announced_and_the_menu_repeats() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
    call.finish();
    call.press('7');
    call.finish(); // "not a valid choice", then the menu again
    call.press('8');
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn collect_digits_with_terminator_and_ticket_read_back() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
    call.finish();
    call.press('2');
    call.press('4'); // barge-in: stops the collect prompt
    call.press('2');
    call.press('#');
    call.store(Ok(StoreReply::Ticket {
        reference: String::from("PG-2026-000123"),
    }));
    call.finish();
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn collect_rejects_too_few_digits() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
    call.finish();
    call.press('2');
    call.finish();
    call.press('4');
    call.press('#'); // one digit: fewer than `digits 2..4`
    call.finish(); // "not a valid choice", then the prompt again
    call.timeout(); // nothing: retries used up
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn caller_hangs_up_mid_prompt() {
    let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
    call.hangup();
    assert!(call.session.is_ended());
    call.press('1'); // nothing happens after the end
    insta::assert_snapshot!(call.transcript);
}

/// A line lost without the caller hanging up ends the flow with its own reason, and the engine
/// does not try to hang up a line that is gone.
#[test]
fn a_lost_line_ends_with_its_own_reason() {
    for (loss, reason) in [
        (LineLoss::Silence, EndReason::CallerSilent),
        (LineLoss::Signalling, EndReason::SignallingLost),
        (LineLoss::Shutdown, EndReason::ServerShutdown),
    ] {
        let mut call = Call::new(&with_offices(MENU), "075075075", TUESDAY_MORNING);
        let commands = call.session.step(Event::LineLost { loss, at: call.now });
        assert!(call.session.is_ended());
        assert!(
            commands.contains(&Command::Ended { reason }),
            "{commands:?}"
        );
        assert!(
            !commands.iter().any(|c| matches!(c, Command::Hangup { .. })),
            "{commands:?}"
        );
        assert!(!reason.is_normal());
    }
}

/// Every end reason reads back from its wording (how the call log and transcripts keep it).
#[test]
fn end_reasons_round_trip_through_their_wording() {
    for reason in EndReason::ALL {
        let text = serde_json::to_string(&reason).unwrap();
        assert_eq!(text, format!("{:?}", reason.describe()));
        assert_eq!(serde_json::from_str::<EndReason>(&text).unwrap(), reason);
    }
    let wordings: std::collections::BTreeSet<&str> =
        EndReason::ALL.iter().map(|r| r.describe()).collect();
    assert_eq!(wordings.len(), EndReason::ALL.len(), "each wording once");
    assert!(serde_json::from_str::<EndReason>("\"it just stopped\"").is_err());
}

#[test]
fn unknown_number_ends_at_once() {
    let call = Call::new(&with_offices(MENU), "0000", TUESDAY_MORNING);
    assert!(call.session.is_ended());
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn loop_bound_ends_the_call() {
    let flow = r#"
flow main answers "1" {
  max visits 2
  menu: menu "Premi 1 per riascoltare." timeout 5s retries 0 {
          1 -> menu
          timeout, invalid -> hangup
        }
}
"#;
    let mut call = Call::new(flow, "1", TUESDAY_MORNING);
    call.press('1');
    call.press('1');
    assert!(call.session.is_ended(), "a third visit is over the bound");
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn sub_flow_call_and_return_and_language_switch() {
    let flow = r#"
prompt saluto {
  it "Buongiorno."
  en "Good morning."
}
flow main answers "1" {
  language it
  start:  call lingua -> saluta
  saluta: say saluto -> hangup
}
flow lingua {
  scelta: set language = "en" -> return
}
"#;
    let mut call = Call::new(flow, "1", TUESDAY_MORNING);
    call.finish();
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn max_duration_hangs_up() {
    let flow = r#"
flow main answers "1" {
  max duration 1m
  menu: menu "Premi 1." timeout 30s retries 1 {
          1 -> menu
          timeout, invalid -> hangup
        }
}
"#;
    let mut call = Call::new(flow, "1", TUESDAY_MORNING);
    // The first timer is the call's bound.
    let bound = call.timers.first().copied().expect("call timer");
    call.advance(60);
    let now = call.now;
    call.send(
        Event::TimerFired {
            timer: bound,
            at: now,
        },
        "call bound fires",
    );
    assert!(call.session.is_ended());
    insta::assert_snapshot!(call.transcript);
}

#[test]
fn appointment_booked_and_read_back_in_local_time() {
    let flow = with_offices(
        r#"
flow main answers "1" {
  prenota: appointment anagrafe -> letto else -> nessuno
  letto:   say "Appuntamento {{ booking.ref }}: {{ booking.time }}." -> hangup
  nessuno: say "Nessun posto libero." -> hangup
}
"#,
    );
    let mut call = Call::new(&flow, "1", TUESDAY_MORNING);
    call.store(Ok(StoreReply::Booked {
        reference: String::from("10000017"),
        start: "2026-12-01T08:20:00Z".parse().expect("instant"),
    }));
    let mut full = Call::new(&flow, "1", TUESDAY_MORNING);
    full.store(Ok(StoreReply::NoSlot));
    insta::assert_snapshot!(format!("{}\n---\n{}", call.transcript, full.transcript));
}

#[test]
fn webhook_answer_fills_variables_and_a_late_answer_is_ignored() {
    let flow = r#"
flow main answers "1" {
  chiedi: webhook "https://example.invalid/avvisi" timeout 2s into avviso -> leggi else -> niente
  leggi:  say "Avviso: {{ avviso.testo }}" -> hangup
  niente: say "Nessun avviso." -> hangup
}
"#;
    let mut ok = Call::new(flow, "1", TUESDAY_MORNING);
    let request = ok.request.take().expect("webhook request");
    let now = ok.now;
    ok.send(
        Event::WebhookResult {
            request,
            result: Ok(serde_json::json!({"testo": "scuole chiuse per neve"})),
            at: now,
        },
        "webhook answers",
    );
    let mut late = Call::new(flow, "1", TUESDAY_MORNING);
    let request = late.request.take().expect("webhook request");
    late.timeout();
    let now = late.now;
    late.send(
        Event::WebhookResult {
            request,
            result: Ok(serde_json::json!({"testo": "troppo tardi"})),
            at: now,
        },
        "webhook answers too late",
    );
    insta::assert_snapshot!(format!("{}\n---\n{}", ok.transcript, late.transcript));
}

const EVERY_ACTION: &str = r##"
calendar uffici {
  timezone "Europe/Rome"
  mon-fri 08:30-13:30
}
office urp "URP" {
  hours uffici
  staff "sip:1001@comune.perugia.it"
}
service ingombranti "Ritiro ingombranti" { office urp hours uffici slot 60m capacity 2 }
prompt attesa "Musica di attesa."
flow main answers "1" {
  inizio:    set tentativi = 1 -> salta
  salta:     goto coda
  coda:      queue urp music attesa max wait 2m announce position else -> prenota
  prenota:   book ingombranti -> codice else -> codice
  codice:    collect "Digiti il codice della prenotazione." into codice digits 8..8 -> disdici else -> hangup
  disdici:   cancel booking codice -> registra else -> registra
  registra:  record "Lasci un messaggio." into messaggio max 1m -> sala
  sala:      conference "giunta" pin "1234" -> fine
  fine:      say "Messaggio di {{ recording.duration }} secondi, tentativi {{ tentativi }}." -> hangup
}
"##;

#[test]
fn queue_booking_cancel_record_conference() {
    let mut call = Call::new(EVERY_ACTION, "1", TUESDAY_MORNING);
    call.transfer(TransferOutcome::Timeout); // the queue's max wait passes
    call.store(Ok(StoreReply::Booked {
        reference: String::from("10000008"),
        start: "2026-11-25T08:30:00Z".parse().expect("instant"),
    }));
    call.finish();
    for digit in "10000008".chars() {
        call.press(digit);
    }
    call.store(Ok(StoreReply::Cancelled {
        reference: String::from("10000008"),
    }));
    call.finish(); // "Lasci un messaggio": then the recording starts
    let request = call.request.take().expect("record request");
    let now = call.now;
    call.send(
        Event::RecordingFinished {
            request,
            path: String::from("recordings/call-1-messaggio.wav"),
            duration_ms: 7_000,
            at: now,
        },
        "recording finished",
    );
    let request = call.request.take().expect("conference request");
    call.send(
        Event::ConferenceLeft { request, at: now },
        "left the conference",
    );
    insta::assert_snapshot!(call.transcript);
}

const CALENDAR_EDGES: &str = r##"
calendar centralino {
  timezone "Europe/Rome"
  mon-sun 00:00-24:00
  closed holidays italy
  closed 2026-12-24 "Chiusura straordinaria"
}
calendar notte {
  timezone "Europe/Rome"
  sun 02:00-03:00
}
flow main answers "1" {
  orario: if holiday(centralino) -> festa else if open(notte) -> notte else if open(centralino) -> aperto else -> chiuso
  festa:  say "Oggi è festa." -> hangup
  notte:  say "Servizio notturno." -> hangup
  aperto: say "Aperto." -> hangup
  chiuso: say "Chiuso." -> hangup
}
"##;

#[test]
fn calendar_edges_easter_monday_one_off_closure_and_dst_night() {
    let mut transcript = String::new();
    for (label, at) in [
        ("Easter Monday 2026, 10:00 in Rome", "2026-04-06T08:00:00Z"),
        (
            "one-off closure 2026-12-24, 10:00 in Rome",
            "2026-12-24T09:00:00Z",
        ),
        ("an ordinary Tuesday", "2026-11-24T09:00:00Z"),
        // 29 March 2026: clocks jump from 02:00 to 03:00 in Rome, so 02:00-03:00 never happens.
        ("DST night, 01:30 UTC = 03:30 CEST", "2026-03-29T01:30:00Z"),
        // 25 October 2026: 02:00-03:00 happens twice; 00:30 UTC is 02:30 CEST (first pass).
        ("DST end, 00:30 UTC = 02:30 CEST", "2026-10-25T00:30:00Z"),
        (
            "DST end, 01:30 UTC = 02:30 CET (second pass)",
            "2026-10-25T01:30:00Z",
        ),
    ] {
        let call = Call::new(CALENDAR_EDGES, "1", at);
        transcript.push_str(&format!("## {label}\n{}\n", call.transcript));
    }
    insta::assert_snapshot!(transcript);
}

const QUEUE_BRANCHES: &str = r##"
flow main answers "075075075" {
  coda: queue anagrafe max wait 2m announce position {
          timeout -> attesa
          closed -> chiuso
          else -> fine
        }
  attesa: say "Tutti gli operatori sono occupati." -> hangup
  chiuso: say "L'ufficio ha chiuso mentre attendeva." -> hangup
  fine:   say "Arrivederci." -> hangup
}
"##;

#[test]
fn the_office_closing_while_the_caller_queues_takes_the_closed_branch() {
    let mut call = Call::new(&with_offices(QUEUE_BRANCHES), "075075075", TUESDAY_MORNING);
    call.transfer(TransferOutcome::Closed);
    call.finish();
    insta::assert_snapshot!(call.transcript);
}

const OFFER: &str = r#"
calendar ritiri {
  timezone "Europe/Rome"
  mon-fri 09:00-12:00
}
office ambiente "Ambiente" { hours ritiri  staff "sip:1001@comune.perugia.it" }
service prova "Prova" { office ambiente hours ritiri slot 20m capacity 1 }
flow main answers "1" {
  language it fallback en
  prenota: book prova offer 3 -> letto else -> nessuno
  letto:   say "Prenotato {{ booking.time }}, codice {{ booking.ref }}." -> codice
  codice:  set codice = booking.ref -> sposta
  sposta:  move booking codice offer 2 -> spostato else -> nessuno
  spostato: say "Spostato a {{ booking.time }}." -> hangup
  nessuno: say "Nessun posto scelto." -> hangup
}
"#;

fn slot(start: &str) -> centralino_runtime::engine::Slot {
    centralino_runtime::engine::Slot {
        start: start.parse().expect("instant"),
        duration_ms: 20 * 60 * 1000,
    }
}

/// `book ... offer 3`: three times said with their keys and "other times" as key 4; key 4 asks
/// for the times after the last one; key 2 books exactly the second time; taken meanwhile, the
/// caller hears so and the free times again. Then `move booking ... offer 2` finds the booking,
/// offers two times, and moves it to the first.
#[test]
fn offered_times_are_chosen_by_key_and_a_taken_one_is_offered_again() {
    let mut call = Call::new(OFFER, "1", TUESDAY_MORNING);
    call.store(Ok(StoreReply::Slots {
        slots: vec![
            slot("2026-11-25T08:00:00Z"),
            slot("2026-11-25T08:20:00Z"),
            slot("2026-11-26T10:20:00Z"),
        ],
    }));
    call.press('4'); // other times
    call.store(Ok(StoreReply::Slots {
        slots: vec![
            slot("2026-11-26T10:40:00Z"),
            slot("2026-12-01T08:00:00Z"),
            slot("2026-12-01T11:00:00Z"),
        ],
    }));
    call.press('7'); // not offered: "Scelta non valida" and the times again
    call.finish();
    call.press('2');
    call.store(Ok(StoreReply::NoSlot)); // someone else took it meanwhile
    call.store(Ok(StoreReply::Slots {
        slots: vec![slot("2026-11-26T10:40:00Z"), slot("2026-12-01T08:20:00Z")],
    }));
    call.press('2');
    call.store(Ok(StoreReply::Booked {
        reference: String::from("10000008"),
        start: "2026-12-01T08:20:00Z".parse().expect("instant"),
    }));
    call.finish();
    call.store(Ok(StoreReply::Found {
        reference: String::from("10000008"),
        resource: centralino_runtime::engine::Resource::Service(String::from("prova")),
        start: "2026-12-01T08:20:00Z".parse().expect("instant"),
    }));
    call.store(Ok(StoreReply::Slots {
        slots: vec![slot("2026-11-25T08:00:00Z"), slot("2026-11-25T11:00:00Z")],
    }));
    call.press('1');
    call.store(Ok(StoreReply::Booked {
        reference: String::from("10000008"),
        start: "2026-11-25T08:00:00Z".parse().expect("instant"),
    }));
    insta::assert_snapshot!(call.transcript);
}

/// Nothing free: `else` at once; no key after the times are said three times: `else`; other
/// times asked for when there are none: said so, and the first times again.
#[test]
fn an_offer_with_nothing_free_or_nothing_chosen_takes_else() {
    let mut empty = Call::new(OFFER, "1", TUESDAY_MORNING);
    empty.store(Ok(StoreReply::Slots { slots: Vec::new() }));

    let mut silent = Call::new(OFFER, "1", TUESDAY_MORNING);
    silent.store(Ok(StoreReply::Slots {
        slots: vec![slot("2026-11-25T08:00:00Z")],
    }));
    silent.finish();
    silent.timeout();
    silent.finish();
    silent.timeout();
    silent.finish();
    silent.timeout();

    let mut no_more = Call::new(OFFER, "1", TUESDAY_MORNING);
    no_more.store(Ok(StoreReply::Slots {
        slots: vec![
            slot("2026-11-25T08:00:00Z"),
            slot("2026-11-25T08:20:00Z"),
            slot("2026-11-25T08:40:00Z"),
        ],
    }));
    no_more.press('4');
    no_more.store(Ok(StoreReply::Slots { slots: Vec::new() }));
    insta::assert_snapshot!(format!(
        "{}\n---\n{}\n---\n{}",
        empty.transcript, silent.transcript, no_more.transcript
    ));
}

/// A callback asked for after a ticket in the same call carries the ticket's reference and
/// category (the dialer tells staff about them); one without a ticket carries neither.
#[test]
fn a_callback_after_a_ticket_carries_its_reference_and_category() {
    let flow = with_offices(
        r#"
flow main answers "075075075" {
  language it
  start: ticket buche -> richiama else -> fine
  richiama: callback anagrafe note "dopo la segnalazione" -> fine else -> fine
  fine: say "Arrivederci." -> hangup
}
"#,
    );
    let mut call = Call::new(&flow, "075075075", TUESDAY_MORNING);
    call.store(Ok(StoreReply::Ticket {
        reference: String::from("PG-2026-000017"),
    }));
    let callback = call
        .transcript
        .lines()
        .find(|line| line.contains("create_callback"))
        .unwrap_or_else(|| panic!("no callback asked for:\n{}", call.transcript))
        .to_owned();
    assert!(
        callback.contains(r#""ticket":"PG-2026-000017","category":"buche""#),
        "{callback}"
    );

    let mut plain = Call::new(&with_offices(MENU), "075075075", TUESDAY_EVENING);
    plain.finish();
    plain.press('1');
    plain.finish();
    let callback = plain
        .transcript
        .lines()
        .find(|line| line.contains("create_callback"))
        .unwrap_or_else(|| panic!("no callback asked for:\n{}", plain.transcript))
        .to_owned();
    assert!(!callback.contains("ticket"), "{callback}");
}
