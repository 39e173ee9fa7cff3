//! A simulated call in words, for `simulate` and for failing `test` scenarios:
//! each state entered (with its source line), and under it what the caller
//! heard and pressed, and what was stored or dialled.

use centralino_runtime::engine::Trace;
use centralino_runtime::engine::TransferOutcome;
use centralino_runtime::port::{Step, TimedStep};
use jiff::Timestamp;

use super::clock;

const IN: &str = "    ";

/// Turns steps into lines, remembering the state it is in, the call's first
/// language and when the call started.
#[derive(Debug, Default)]
pub struct Transcript {
    here: Option<(String, String)>,
    language: Option<String>,
    started: Option<Timestamp>,
}

impl Transcript {
    /// `10:04:31  what happened`
    pub fn line(&mut self, step: &TimedStep) -> String {
        self.started.get_or_insert(step.at);
        format!(
            "{}  {}",
            clock::time(step.at),
            self.describe(&step.step, step.at)
        )
    }

    /// Every step of a call.
    pub fn lines(steps: &[TimedStep]) -> Vec<String> {
        let mut transcript = Transcript::default();
        steps.iter().map(|s| transcript.line(s)).collect()
    }

    fn describe(&mut self, step: &Step, at: Timestamp) -> String {
        match step {
            Step::Entered(Trace {
                flow,
                state,
                location,
                note,
            }) => {
                if flow.is_empty() {
                    return note.clone();
                }
                let here = (flow.clone(), state.clone());
                if self.here.as_ref() == Some(&here) {
                    format!("{IN}· {note}")
                } else {
                    self.here = Some(here);
                    format!("{flow}.{state}  {}  {note}", short_location(location))
                }
            }
            Step::Said { text, language, .. } => {
                let first = self.language.get_or_insert_with(|| language.clone());
                if first == language {
                    format!("{IN}«{text}»")
                } else {
                    format!("{IN}«{text}» ({language})")
                }
            }
            Step::Played { path, .. } => format!("{IN}♪ {path}"),
            Step::Pressed { key } => format!("{IN}caller presses {key}"),
            Step::Typed { text } => format!("{IN}caller types {text:?}"),
            Step::Silence => format!("{IN}caller waits"),
            Step::Ticket {
                reference,
                category,
            } => format!("{IN}ticket {reference} ({category}) stored"),
            Step::Callback { reference, office } => {
                format!("{IN}callback {reference} for {office} stored")
            }
            Step::Booking {
                reference,
                resource,
                start,
            } => format!(
                "{IN}booking {reference} for {resource} on {} stored",
                clock::minute(*start)
            ),
            Step::NoSlot { resource } => format!("{IN}no free slot for {resource}"),
            Step::Offered { resource, starts } => {
                if starts.is_empty() {
                    format!("{IN}no free time to offer for {resource}")
                } else {
                    let times: Vec<String> = starts.iter().map(|s| clock::minute(*s)).collect();
                    format!("{IN}free times for {resource}: {}", times.join(", "))
                }
            }
            Step::Found { reference, found } => {
                if *found {
                    format!("{IN}booking {reference} found")
                } else {
                    format!("{IN}no open booking {reference}")
                }
            }
            Step::Moved {
                reference,
                resource,
                start,
            } => format!(
                "{IN}booking {reference} for {resource} moved to {}",
                clock::minute(*start)
            ),
            Step::Cancelled { reference, found } => {
                if *found {
                    format!("{IN}booking {reference} cancelled")
                } else {
                    format!("{IN}no open booking {reference} to cancel")
                }
            }
            Step::Transfer {
                office,
                contacts,
                outcome,
            } => format!(
                "{IN}transfer to {office} ({}): {}",
                contacts.join(", "),
                outcome_words(*outcome)
            ),
            Step::Queue { office, outcome } => {
                format!("{IN}queue for {office}: {}", outcome_words(*outcome))
            }
            Step::Recording { variable, path } => {
                format!("{IN}caller speaks; {variable} recorded as {path}")
            }
            Step::Conference { room } => format!("{IN}joins conference {room}"),
            Step::Webhook { url, ok } => {
                let answer = if *ok { "answered" } else { "no answer" };
                format!("{IN}webhook {url}: {answer}")
            }
            Step::StoreFailed { message } => format!("{IN}store failed: {message}"),
            Step::CallerHungUp => format!("{IN}caller hangs up"),
            Step::HungUp { reason } => format!("{IN}the line hangs up ({reason})"),
            Step::Ended { reason } => match self.started {
                Some(started) => format!("call ended: {reason} ({})", length(started, at)),
                None => format!("call ended: {reason}"),
            },
            Step::Stuck => {
                String::from("stuck: the call waits for the caller, who has no more keys")
            }
        }
    }
}

/// `2m 25s`: how long the call took.
fn length(from: Timestamp, to: Timestamp) -> String {
    let seconds = to.duration_since(from).as_secs().max(0);
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, s) => format!("{m}m {s:02}s"),
    }
}

pub fn outcome_words(outcome: TransferOutcome) -> &'static str {
    match outcome {
        TransferOutcome::Answered => "answered",
        TransferOutcome::Busy => "busy",
        TransferOutcome::NoAnswer => "no answer",
        TransferOutcome::Failed => "failed",
        TransferOutcome::Timeout => "waited too long",
        TransferOutcome::Closed => "office closed",
    }
}

/// `flows/main.flow:38:3` → `flows/main.flow:38`: the line is what people look for.
pub fn short_location(location: &str) -> &str {
    match location.rsplit_once(':') {
        Some((rest, column))
            if !column.is_empty()
                && column.bytes().all(|b| b.is_ascii_digit())
                && rest.contains(':') =>
        {
            rest
        }
        _ => location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_lose_their_column() {
        assert_eq!(short_location("flows/main.flow:38:3"), "flows/main.flow:38");
        assert_eq!(short_location("flows/main.flow:38"), "flows/main.flow:38");
        assert_eq!(short_location(""), "");
    }
}
