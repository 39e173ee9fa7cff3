//! Flow structure: state names, exits and targets, reachability, loops that
//! never wait for the caller, and sub-flows that call each other in a loop.

use std::collections::{BTreeMap, BTreeSet};

use super::Symbols;
use super::exits;
use crate::ast::{Action, Flow, Ident, State};
use crate::diagnostic::{Diagnostics, NameKind, Problem};

/// The targets every flow knows without defining them.
pub const BUILTIN_TARGETS: [&str; 2] = ["hangup", "return"];

pub fn check(symbols: &Symbols<'_>, diagnostics: &mut Diagnostics) {
    for flow in &symbols.all_flows {
        check_flow(symbols, flow, diagnostics);
    }
    check_call_cycles(symbols, diagnostics);
}

/// Whether a state waits for the caller (or another party) before going on.
fn waits(symbols: &Symbols<'_>, action: &Action) -> bool {
    match action {
        // A sub-flow that can wait makes the call wait; one that cannot is just more steps.
        Action::Call(name) => symbols
            .flows
            .get(name.name.as_str())
            .is_some_and(|sub| sub.states.iter().any(|s| s.action.waits())),
        other => other.waits(),
    }
}

fn check_flow(symbols: &Symbols<'_>, flow: &Flow, diagnostics: &mut Diagnostics) {
    let answers = !flow.answers.is_empty();
    let lost = |name: &str| flow.lost_states.iter().any(|s| s == name);
    if flow.states.is_empty() {
        if !flow.lost_states.is_empty() {
            return;
        }
        diagnostics.report(Problem::EmptyFlow {
            flow: flow.name.name.clone(),
            span: flow.name.span,
        });
        return;
    }

    // State names: unique, not reserved. The first definition wins.
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, state) in flow.states.iter().enumerate() {
        let name = state.name.name.as_str();
        if BUILTIN_TARGETS.contains(&name) {
            diagnostics.report(Problem::ReservedName {
                name: name.to_owned(),
                span: state.name.span,
            });
            continue;
        }
        match index.get(name) {
            Some(&first) => diagnostics.report(Problem::DuplicateDefinition {
                kind: NameKind::State,
                name: name.to_owned(),
                span: state.name.span,
                previous: flow
                    .states
                    .get(first)
                    .map_or(state.name.span, |s| s.name.span),
            }),
            None => {
                index.insert(name, i);
            }
        }
    }

    // Exits and targets: the successors of each state, by index.
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); flow.states.len()];
    let mut unknown_target = false;
    for (i, state) in flow.states.iter().enumerate() {
        let resolved = exits::resolve(state);
        for mut problem in resolved.problems {
            // The help of a menu without fallbacks names a state this flow has.
            if let Problem::MenuWithoutFallback { example, .. } = &mut problem {
                *example = flow
                    .states
                    .iter()
                    .map(|s| &s.name.name)
                    .find(|name| **name != state.name.name)
                    .cloned();
            }
            diagnostics.report(problem);
        }
        if let Action::Return = state.action
            && answers
        {
            diagnostics.report(Problem::ReturnOutsideSubflow {
                flow: flow.name.name.clone(),
                span: state.name.span.to(state.span),
            });
        }
        for (_, target) in resolved.edges {
            if lost(&target.name) {
                continue;
            }
            let found = resolve_target(flow, &index, target, answers, diagnostics);
            unknown_target |= found.is_none() && !BUILTIN_TARGETS.contains(&target.name.as_str());
            if let Some(j) = found
                && let Some(list) = successors.get_mut(i)
                && !list.contains(&j)
            {
                list.push(j);
            }
        }
    }

    // A mistyped target usually pointed at the states that now look unreachable.
    // States that did not read may be the only way to others.
    if !unknown_target && flow.lost_states.is_empty() {
        check_reachability(flow, &index, &successors, diagnostics);
    }
    check_waiting_loops(symbols, flow, &successors, diagnostics);
}

/// The index of the state a target names; reports unknown names and misplaced `return`.
fn resolve_target(
    flow: &Flow,
    index: &BTreeMap<&str, usize>,
    target: &Ident,
    answers: bool,
    diagnostics: &mut Diagnostics,
) -> Option<usize> {
    let name = target.name.as_str();
    if let Some(&i) = index.get(name) {
        return Some(i);
    }
    match name {
        "hangup" => {}
        "return" if answers => diagnostics.report(Problem::ReturnOutsideSubflow {
            flow: flow.name.name.clone(),
            span: target.span,
        }),
        "return" => {}
        _ => diagnostics.report(Problem::UnknownName {
            kind: NameKind::State,
            name: name.to_owned(),
            span: target.span,
            candidates: super::suggest(name, index.keys().copied().chain(BUILTIN_TARGETS)),
        }),
    }
    None
}

fn check_reachability(
    flow: &Flow,
    index: &BTreeMap<&str, usize>,
    successors: &[Vec<usize>],
    diagnostics: &mut Diagnostics,
) {
    let mut seen = vec![false; flow.states.len()];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        match seen.get_mut(i) {
            Some(s) if !*s => *s = true,
            _ => continue,
        }
        if let Some(next) = successors.get(i) {
            stack.extend(next.iter().copied());
        }
    }
    for (i, (state, reached)) in flow.states.iter().zip(seen).enumerate() {
        // Duplicates and reserved names are reported already; only first definitions count.
        let first = index.get(state.name.name.as_str()) == Some(&i);
        if !reached && first {
            diagnostics.report(Problem::UnreachableState {
                state: state.name.name.clone(),
                span: state.name.span,
            });
        }
    }
}

/// Loops among states that never wait for the caller: strongly connected
/// components of the non-waiting states (Tarjan), with more than one state or a self-loop.
fn check_waiting_loops(
    symbols: &Symbols<'_>,
    flow: &Flow,
    successors: &[Vec<usize>],
    diagnostics: &mut Diagnostics,
) {
    let states: &[State] = &flow.states;
    let busy: Vec<bool> = states.iter().map(|s| !waits(symbols, &s.action)).collect();
    let edges: Vec<Vec<usize>> = successors
        .iter()
        .enumerate()
        .map(|(i, next)| {
            if busy.get(i).copied().unwrap_or(false) {
                next.iter()
                    .copied()
                    .filter(|j| busy.get(*j).copied().unwrap_or(false))
                    .collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    for component in strongly_connected(&edges) {
        let looping = component.len() > 1
            || component
                .first()
                .is_some_and(|&i| edges.get(i).is_some_and(|e| e.contains(&i)));
        if !looping {
            continue;
        }
        let mut members: Vec<usize> = component;
        members.sort_unstable();
        let named: Vec<&State> = members.iter().filter_map(|&i| states.get(i)).collect();
        let Some(first) = named.first() else {
            continue;
        };
        let mut names: Vec<String> = named.iter().map(|s| s.name.name.clone()).collect();
        names.push(first.name.name.clone());
        diagnostics.report(Problem::LoopWithoutWaiting {
            states: names,
            span: first.name.span,
            others: named.iter().skip(1).map(|s| s.name.span).collect(),
        });
    }
}

/// Tarjan's strongly connected components, iterative (flows can be large).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut counter = 0usize;
    for root in 0..n {
        if index.get(root).copied() != Some(usize::MAX) {
            continue;
        }
        // (node, next edge position)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos == 0 && index.get(v).copied() == Some(usize::MAX) {
                if let (Some(i), Some(l), Some(o)) =
                    (index.get_mut(v), low.get_mut(v), on_stack.get_mut(v))
                {
                    *i = counter;
                    *l = counter;
                    *o = true;
                }
                counter += 1;
                stack.push(v);
            }
            let next = edges.get(v).and_then(|e| e.get(*pos)).copied();
            if let Some(w) = next {
                *pos += 1;
                if index.get(w).copied() == Some(usize::MAX) {
                    work.push((w, 0));
                } else if on_stack.get(w).copied().unwrap_or(false) {
                    let wi = index.get(w).copied().unwrap_or(usize::MAX);
                    if let Some(l) = low.get_mut(v) {
                        *l = (*l).min(wi);
                    }
                }
                continue;
            }
            work.pop();
            let lv = low.get(v).copied().unwrap_or(0);
            if let Some(&(parent, _)) = work.last()
                && let Some(lp) = low.get_mut(parent)
            {
                *lp = (*lp).min(lv);
            }
            if Some(lv) == index.get(v).copied() {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    if let Some(o) = on_stack.get_mut(w) {
                        *o = false;
                    }
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// Sub-flows that call each other (or themselves) in a loop would recurse without end.
fn check_call_cycles(symbols: &Symbols<'_>, diagnostics: &mut Diagnostics) {
    let flows: Vec<&Flow> = symbols.flows.values().copied().collect();
    let position: BTreeMap<&str, usize> = flows
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.name.as_str(), i))
        .collect();
    let calls: Vec<Vec<(usize, &Ident)>> = flows
        .iter()
        .map(|flow| {
            flow.states
                .iter()
                .filter_map(|s| match &s.action {
                    Action::Call(name) => position.get(name.name.as_str()).map(|&j| (j, name)),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let edges: Vec<Vec<usize>> = calls
        .iter()
        .map(|c| c.iter().map(|(j, _)| *j).collect())
        .collect();
    for mut component in strongly_connected(&edges) {
        component.sort_unstable();
        let self_call = component.len() == 1
            && component
                .first()
                .is_some_and(|&i| edges.get(i).is_some_and(|e| e.contains(&i)));
        if component.len() < 2 && !self_call {
            continue;
        }
        let members: BTreeSet<usize> = component.iter().copied().collect();
        // Report at the first call (in flow order) that stays inside the loop.
        let closing = component.iter().find_map(|&i| {
            calls
                .get(i)
                .and_then(|c| c.iter().find(|(j, _)| members.contains(j)))
                .map(|(_, ident)| ident.span)
        });
        let mut names: Vec<String> = component
            .iter()
            .filter_map(|&i| flows.get(i).map(|f| f.name.name.clone()))
            .collect();
        if let Some(first) = names.first().cloned() {
            names.push(first);
        }
        if let Some(span) = closing {
            diagnostics.report(Problem::RecursiveCall { flows: names, span });
        }
    }
}
