//! Exits: which outcomes each action has, and where a state's `->`, `else ->`
//! and branch blocks send each outcome. The single source of truth for both
//! the structure checks and the graph lowering.

use crate::ast::{Action, Ident, State};
use crate::diagnostic::Problem;
use crate::graph::EdgeLabel;

/// The outcomes an action can end with, apart from `Ok`.
fn failure_labels(action: &Action) -> &'static [(&'static str, EdgeLabel)] {
    match action {
        Action::Collect { .. } => &[
            ("timeout", EdgeLabel::Timeout),
            ("invalid", EdgeLabel::Invalid),
        ],
        Action::Transfer { .. } => &[
            ("closed", EdgeLabel::Closed),
            ("busy", EdgeLabel::Busy),
            ("noanswer", EdgeLabel::NoAnswer),
            ("failed", EdgeLabel::Failed),
        ],
        Action::Queue { .. } => &[
            ("timeout", EdgeLabel::Timeout),
            ("closed", EdgeLabel::Closed),
            ("failed", EdgeLabel::Failed),
        ],
        Action::Callback { .. }
        | Action::Ticket { .. }
        | Action::Appointment { .. }
        | Action::Book { .. }
        | Action::CancelBooking { .. }
        | Action::MoveBooking { .. }
        | Action::Webhook { .. } => &[("failed", EdgeLabel::Failed)],
        _ => &[],
    }
}

/// Whether the action goes on with `Ok` (and so needs `-> next`).
fn has_ok(action: &Action) -> bool {
    !matches!(
        action,
        Action::Menu { .. }
            | Action::If { .. }
            | Action::Return
            | Action::Hangup
            | Action::Transfer { .. }
            | Action::Queue { .. }
    )
}

/// Whether a missing failure path is an error (rather than "hang up politely").
fn failure_required(action: &Action) -> bool {
    matches!(
        action,
        Action::Collect { .. }
            | Action::Transfer { .. }
            | Action::Queue { .. }
            | Action::Appointment { .. }
            | Action::Book { .. }
            | Action::CancelBooking { .. }
            | Action::MoveBooking { .. }
            | Action::Webhook { .. }
    )
}

/// The branch labels a block may use for this action, for E021's help.
pub fn allowed_labels(action: &Action) -> Vec<&'static str> {
    let mut labels = Vec::new();
    if matches!(action, Action::Menu { .. }) {
        labels.extend(["0-9", "*", "#", "timeout", "invalid"]);
        return labels;
    }
    if has_ok(action) {
        labels.push("ok");
    }
    labels.extend(failure_labels(action).iter().map(|(name, _)| *name));
    if !failure_labels(action).is_empty() {
        labels.push("else");
    }
    labels
}

/// The edges of a state, and the problems with its exits.
#[derive(Debug, Default)]
pub struct Resolved<'a> {
    /// (outcome, target as written), in a stable order.
    pub edges: Vec<(EdgeLabel, &'a Ident)>,
    pub problems: Vec<Problem>,
}

/// Resolve where each outcome of `state` goes. `flow_answers`: the flow answers
/// a number (affects nothing here, kept for symmetry with `return` checks).
pub fn resolve(state: &State) -> Resolved<'_> {
    let mut out = Resolved::default();
    let exits = &state.exits;
    let action = &state.action;
    let keyword = action.keyword();

    match action {
        Action::If { arms } => {
            for (i, arm) in arms.iter().enumerate() {
                out.edges.push((
                    EdgeLabel::Case(u32::try_from(i).unwrap_or(u32::MAX)),
                    &arm.target,
                ));
            }
            match &exits.otherwise {
                Some(target) => out.edges.push((EdgeLabel::Else, target)),
                None => out.problems.push(Problem::DeadEnd {
                    state: state.name.name.clone(),
                    action: keyword,
                    span: state.name.span,
                    needs: "`else -> state` for when no condition holds",
                }),
            }
            return out;
        }
        Action::Goto(target) => {
            out.edges.push((EdgeLabel::Ok, target));
            return out;
        }
        Action::Menu { .. } => {
            resolve_menu(state, &mut out);
            return out;
        }
        Action::Return | Action::Hangup => {
            if let Some(extra) = exits.next.as_ref().or(exits.otherwise.as_ref()) {
                out.problems.push(Problem::UnknownBranch {
                    action: keyword,
                    label: String::from("->"),
                    span: extra.span,
                    expected: Vec::new(),
                });
            }
            return out;
        }
        _ => {}
    }

    let failures = failure_labels(action);
    if let Some(next) = &exits.next {
        if has_ok(action) {
            out.edges.push((EdgeLabel::Ok, next));
        } else {
            out.problems.push(Problem::UnknownBranch {
                action: keyword,
                label: String::from("->"),
                span: next.span,
                expected: allowed_labels(action),
            });
        }
    }
    for branch in &exits.branches {
        for label in &branch.labels {
            let name = label.name.as_str();
            if name == "ok" && has_ok(action) {
                out.edges.push((EdgeLabel::Ok, &branch.target));
            } else if name == "else" && !failures.is_empty() {
                for (_, edge) in failures {
                    if !out.edges.iter().any(|(l, _)| l == edge) {
                        out.edges.push((edge.clone(), &branch.target));
                    }
                }
            } else if let Some((_, edge)) = failures.iter().find(|(n, _)| *n == name) {
                out.edges.push((edge.clone(), &branch.target));
            } else {
                out.problems.push(Problem::UnknownBranch {
                    action: keyword,
                    label: label.name.clone(),
                    span: label.span,
                    expected: allowed_labels(action),
                });
            }
        }
    }
    if let Some(otherwise) = &exits.otherwise {
        if failures.is_empty() {
            out.problems.push(Problem::UnknownBranch {
                action: keyword,
                label: String::from("else"),
                span: otherwise.span,
                expected: allowed_labels(action),
            });
        } else {
            for (_, edge) in failures {
                if !out.edges.iter().any(|(l, _)| l == edge) {
                    out.edges.push((edge.clone(), otherwise));
                }
            }
        }
    }

    if has_ok(action) && !out.edges.iter().any(|(l, _)| *l == EdgeLabel::Ok) {
        out.problems.push(Problem::DeadEnd {
            state: state.name.name.clone(),
            action: keyword,
            span: state.name.span,
            needs: "`-> state` to say where the call goes next",
        });
    }
    let missing_failure = failures
        .iter()
        .any(|(_, edge)| !out.edges.iter().any(|(l, _)| l == edge));
    if failure_required(action) && missing_failure {
        match action {
            Action::Transfer { .. } | Action::Queue { .. } => {
                out.problems.push(Problem::NoOverflow {
                    action: keyword,
                    span: state.name.span.to(state.span),
                })
            }
            _ => out.problems.push(Problem::DeadEnd {
                state: state.name.name.clone(),
                action: keyword,
                span: state.name.span,
                needs: "`else -> state` for when it does not succeed",
            }),
        }
    }
    out
}

fn resolve_menu<'a>(state: &'a State, out: &mut Resolved<'a>) {
    let exits = &state.exits;
    if let Some(next) = exits.next.as_ref().or(exits.otherwise.as_ref()) {
        out.problems.push(Problem::UnknownBranch {
            action: "menu",
            label: String::from("->"),
            span: next.span,
            expected: allowed_labels(&state.action),
        });
    }
    let mut seen: Vec<(&str, crate::source::Span)> = Vec::new();
    for branch in &exits.branches {
        for label in &branch.labels {
            let name = label.name.as_str();
            let edge = match name {
                "timeout" => EdgeLabel::Timeout,
                "invalid" => EdgeLabel::Invalid,
                key if key.len() == 1
                    && key
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '*' || c == '#') =>
                {
                    EdgeLabel::Key(key.to_owned())
                }
                _ => {
                    out.problems.push(Problem::UnknownBranch {
                        action: "menu",
                        label: label.name.clone(),
                        span: label.span,
                        expected: allowed_labels(&state.action),
                    });
                    continue;
                }
            };
            if let Some((_, previous)) = seen.iter().find(|(n, _)| *n == name) {
                out.problems.push(Problem::DuplicateMenuKey {
                    key: name.to_owned(),
                    span: label.span,
                    previous: *previous,
                });
                continue;
            }
            seen.push((name, label.span));
            out.edges.push((edge, &branch.target));
        }
    }
    let has = |l: &EdgeLabel| out.edges.iter().any(|(e, _)| e == l);
    let has_key = out
        .edges
        .iter()
        .any(|(e, _)| matches!(e, EdgeLabel::Key(_)));
    if !has_key {
        out.problems.push(Problem::DeadEnd {
            state: state.name.name.clone(),
            action: "menu",
            span: state.name.span,
            needs: "branches for the keys, e.g. `{ 1 -> state  timeout, invalid -> state }` with states of this flow",
        });
    }
    let missing_timeout = !has(&EdgeLabel::Timeout);
    let missing_invalid = !has(&EdgeLabel::Invalid);
    if missing_timeout || missing_invalid {
        out.problems.push(Problem::MenuWithoutFallback {
            span: state.name.span,
            missing_timeout,
            missing_invalid,
            example: None,
        });
    }
}
