//! A simulated call in the flow editor: what `centralino simulate` does, in the page.
//!
//! ```text
//!   edited flows ──compile──► Program ──► Driver (virtual time, keys from the form)
//!                                            │  store: a temporary one, dropped after the call
//!                                            ▼
//!                                 steps ──► lines in the page's language (what the caller
//!                                           hears and presses, what would be stored)
//! ```
//!
//! Nothing reaches the real store: the call runs against [`SledStore::temporary`]. Transfers and
//! queues are answered as `simulate` answers them (staff answer).

use std::collections::VecDeque;
use std::sync::Arc;

use jiff::Timestamp;

use super::clock::Clock;
use super::words::Lang;
use crate::driver::{Driver, Input, Script};
use crate::engine::{CallInfo, Program, Trace, TransferOutcome};
use crate::port::{Step, TimedStep};
use crate::store::SledStore;

/// The caller when the form names none (as `centralino simulate`).
pub const DEFAULT_CALLER: &str = "+393331234567";
/// The most inputs one simulated call takes from the form.
pub const MAX_INPUTS: usize = 200;

/// Why a call could not be simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{0}")]
    Keys(String),
    #[error("too many keys (at most {MAX_INPUTS})")]
    TooManyKeys,
    #[error("no flow answers {0}")]
    NoFlow(String),
    #[error("the temporary store cannot be opened: {0}")]
    Store(String),
}

/// One line of a simulated call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// `10:04:31` in the deployment's zone.
    pub time: String,
    /// A state entered (not indented) or what happened in it.
    pub state: bool,
    pub text: String,
}

/// Run one call to `number` from `caller` with the caller's `keys` (`1 2 # wait hangup`).
pub fn simulate(
    program: Arc<Program>,
    number: &str,
    caller: &str,
    keys: &str,
    at: Timestamp,
    lang: Lang,
) -> Result<Vec<Line>, SimulateError> {
    let inputs = Input::parse_all(keys).map_err(SimulateError::Keys)?;
    if inputs.len() > MAX_INPUTS {
        return Err(SimulateError::TooManyKeys);
    }
    if program.graph.flow_for_number(number).is_none() {
        return Err(SimulateError::NoFlow(number.to_owned()));
    }
    let clock = Clock::of_graph(&program.graph, at);
    let store = SledStore::temporary().map_err(|e| SimulateError::Store(e.to_string()))?;
    let driver = Driver::new(program, &store, Script::default());
    let call = CallInfo {
        call_id: format!("console-sim-{}", at.as_millisecond()),
        caller: if caller.trim().is_empty() {
            DEFAULT_CALLER.to_owned()
        } else {
            caller.trim().to_owned()
        },
        number: number.to_owned(),
    };
    let mut inputs: VecDeque<Input> = inputs.into();
    let steps = driver.run(call, at, &mut inputs, &mut |_| {});
    Ok(lines(&steps, lang, &clock))
}

/// The steps of a call in words of `lang`.
pub fn lines(steps: &[TimedStep], lang: Lang, clock: &Clock) -> Vec<Line> {
    let mut here: Option<(String, String)> = None;
    steps
        .iter()
        .map(|timed| {
            let (state, text) = describe(&timed.step, lang, clock, &mut here);
            Line {
                time: clock.time(timed.at),
                state,
                text,
            }
        })
        .collect()
}

fn pick(lang: Lang, it: String, en: String) -> String {
    match lang {
        Lang::It => it,
        Lang::En => en,
    }
}

fn outcome_words(outcome: TransferOutcome, lang: Lang) -> &'static str {
    let (it, en) = match outcome {
        TransferOutcome::Answered => ("risponde", "answered"),
        TransferOutcome::Busy => ("occupato", "busy"),
        TransferOutcome::NoAnswer => ("nessuna risposta", "no answer"),
        TransferOutcome::Failed => ("non riuscito", "failed"),
        TransferOutcome::Timeout => ("attesa troppo lunga", "waited too long"),
        TransferOutcome::Closed => ("ufficio chiuso", "office closed"),
    };
    match lang {
        Lang::It => it,
        Lang::En => en,
    }
}

/// One step in words: (whether it enters a new state, the text).
fn describe(
    step: &Step,
    lang: Lang,
    clock: &Clock,
    here: &mut Option<(String, String)>,
) -> (bool, String) {
    let say = |it: String, en: String| (false, pick(lang, it, en));
    match step {
        Step::Entered(Trace {
            flow,
            state,
            location,
            note,
        }) => {
            if flow.is_empty() {
                return (false, note.clone());
            }
            let now = (flow.clone(), state.clone());
            if here.as_ref() == Some(&now) {
                (false, format!("· {note}"))
            } else {
                *here = Some(now);
                (true, format!("{flow}.{state}  {location}  {note}"))
            }
        }
        Step::Said { text, language, .. } => (false, format!("«{text}» ({language})")),
        Step::Played { path, .. } => (false, format!("♪ {path}")),
        Step::Pressed { key } => say(
            format!("il chiamante preme {key}"),
            format!("caller presses {key}"),
        ),
        Step::Typed { text } => say(
            format!("il chiamante scrive {text:?}"),
            format!("caller types {text:?}"),
        ),
        Step::Silence => say("il chiamante attende".into(), "caller waits".into()),
        Step::Ticket {
            reference,
            category,
        } => say(
            format!("segnalazione {reference} ({category}) registrata"),
            format!("ticket {reference} ({category}) stored"),
        ),
        Step::Callback { reference, office } => say(
            format!("richiamata {reference} per {office} registrata"),
            format!("callback {reference} for {office} stored"),
        ),
        Step::Booking {
            reference,
            resource,
            start,
        } => say(
            format!(
                "prenotazione {reference} per {resource} il {} registrata",
                clock.minute(*start)
            ),
            format!(
                "booking {reference} for {resource} on {} stored",
                clock.minute(*start)
            ),
        ),
        Step::NoSlot { resource } => say(
            format!("nessun posto libero per {resource}"),
            format!("no free slot for {resource}"),
        ),
        Step::Offered { resource, starts } => {
            let times: Vec<String> = starts.iter().map(|s| clock.minute(*s)).collect();
            say(
                format!("orari liberi per {resource}: {}", times.join(", ")),
                format!("free times for {resource}: {}", times.join(", ")),
            )
        }
        Step::Found { reference, found } => say(
            format!(
                "prenotazione {reference} {}",
                if *found { "trovata" } else { "non trovata" }
            ),
            format!(
                "booking {reference} {}",
                if *found { "found" } else { "not found" }
            ),
        ),
        Step::Moved {
            reference,
            resource,
            start,
        } => say(
            format!(
                "prenotazione {reference} per {resource} spostata al {}",
                clock.minute(*start)
            ),
            format!(
                "booking {reference} for {resource} moved to {}",
                clock.minute(*start)
            ),
        ),
        Step::Cancelled { reference, found } => say(
            format!(
                "prenotazione {reference} {}",
                if *found { "annullata" } else { "non trovata" }
            ),
            format!(
                "booking {reference} {}",
                if *found { "cancelled" } else { "not found" }
            ),
        ),
        Step::Transfer {
            office,
            contacts,
            outcome,
        } => say(
            format!(
                "trasferimento a {office} ({}): {}",
                contacts.join(", "),
                outcome_words(*outcome, lang)
            ),
            format!(
                "transfer to {office} ({}): {}",
                contacts.join(", "),
                outcome_words(*outcome, lang)
            ),
        ),
        Step::Queue { office, outcome } => say(
            format!("coda di {office}: {}", outcome_words(*outcome, lang)),
            format!("queue for {office}: {}", outcome_words(*outcome, lang)),
        ),
        Step::Recording { variable, path } => say(
            format!("il chiamante parla; {variable} registrato in {path}"),
            format!("caller speaks; {variable} recorded as {path}"),
        ),
        Step::Conference { room } => say(
            format!("entra nella conferenza {room}"),
            format!("joins conference {room}"),
        ),
        Step::Webhook { url, ok } => say(
            format!(
                "webhook {url}: {}",
                if *ok { "risponde" } else { "nessuna risposta" }
            ),
            format!(
                "webhook {url}: {}",
                if *ok { "answered" } else { "no answer" }
            ),
        ),
        Step::StoreFailed { message } => say(
            format!("archivio non riuscito: {message}"),
            format!("store failed: {message}"),
        ),
        Step::CallerHungUp => say("il chiamante riaggancia".into(), "caller hangs up".into()),
        Step::HungUp { reason } => say(
            format!("la linea riaggancia ({reason})"),
            format!("the line hangs up ({reason})"),
        ),
        Step::Ended { reason } => (
            true,
            pick(
                lang,
                format!("chiamata conclusa: {reason}"),
                format!("call ended: {reason}"),
            ),
        ),
        Step::Stuck => (
            true,
            pick(
                lang,
                "bloccata: la chiamata attende il chiamante, che non ha altri tasti".into(),
                "stuck: the call waits for the caller, who has no more keys".into(),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn program(text: &str) -> Arc<Program> {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", text);
        let compiled = centralino_compiler::compile(&sources);
        Program::new(compiled.graph.unwrap()).unwrap()
    }

    const FLOW: &str = r#"
category buche "Buche" { priority normal }
flow main answers "100" {
  language it
  menu: menu "Prema 1 per una segnalazione." timeout 5s retries 0 {
    1 -> segnala
    timeout, invalid -> saluti
  }
  segnala: ticket buche -> saluti
  saluti: say "Arrivederci." -> hangup
}
"#;

    #[test]
    fn the_caller_hears_the_prompts_and_what_is_stored_is_said() {
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let lines = simulate(program(FLOW), "100", "", "1", at, Lang::It).unwrap();
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert!(
            text.iter()
                .any(|l| l.contains("«Prema 1 per una segnalazione.»")),
            "{text:#?}"
        );
        assert!(text.contains(&"il chiamante preme 1"), "{text:#?}");
        assert!(
            text.iter()
                .any(|l| l.starts_with("segnalazione ") && l.ends_with("(buche) registrata")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|l| l.contains("«Arrivederci.»")),
            "{text:#?}"
        );
        assert_eq!(lines[0].time, "10:00:00");
        let english = simulate(program(FLOW), "100", "", "1", at, Lang::En).unwrap();
        assert!(english.iter().any(|l| l.text == "caller presses 1"));
    }

    #[test]
    fn bad_keys_and_unknown_numbers_are_errors() {
        let at = Timestamp::now();
        assert!(matches!(
            simulate(program(FLOW), "100", "", "1 x", at, Lang::It),
            Err(SimulateError::Keys(_))
        ));
        assert!(matches!(
            simulate(program(FLOW), "999", "", "1", at, Lang::It),
            Err(SimulateError::NoFlow(_))
        ));
        let many = "1 ".repeat(MAX_INPUTS + 1);
        assert!(matches!(
            simulate(program(FLOW), "100", "", &many, at, Lang::It),
            Err(SimulateError::TooManyKeys)
        ));
    }
}
