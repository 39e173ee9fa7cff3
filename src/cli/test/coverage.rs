//! `centralino test --coverage`: the coverage report in words, and GitHub
//! annotations on the branches no scenario visits.
//!
//! ```text
//!  coverage::Report ──► text: per flow, states and branches visited, then what is not
//!                   └─► (github) ::warning on the line of each branch or state not visited
//!  --min-coverage N ──► below N % of branches: a line saying so, and the command fails
//! ```

use std::fmt::Write as _;

use centralino_compiler::Sources;
use centralino_compiler::coverage::{Checked, FlowCoverage, Report, Status, Tally};

use super::super::format;

/// The report as text: a block per flow, then the total.
pub fn text(report: &Report, sources: &Sources) -> String {
    let mut out = String::from("coverage: what the scenarios visited\n");
    for flow in &report.flows {
        let _ = writeln!(
            out,
            "  {}: states {}, branches {}",
            flow.flow,
            fraction(flow.state_tally(), false),
            fraction(flow.branch_tally(), true),
        );
        for checked in in_file_order(flow) {
            if let Some(line) = item(checked, sources) {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    let branches = report.branch_tally();
    let _ = write!(
        out,
        "total: states {}, branches {}",
        fraction(report.state_tally(), true),
        fraction(branches, true),
    );
    match branches.justified {
        0 => out.push('\n'),
        1 => out.push_str(", 1 of them justified\n"),
        n => {
            let _ = writeln!(out, ", {n} of them justified");
        }
    }
    out
}

/// A flow's states and branches in the order they are written.
fn in_file_order(flow: &FlowCoverage) -> Vec<&Checked> {
    let mut all: Vec<&Checked> = flow.states.iter().chain(&flow.branches).collect();
    all.sort_by_key(|c| (c.point.span.source, c.point.span.start));
    all
}

/// `22/24 (91.6 %)`: visited or justified, of all.
fn fraction(tally: Tally, percent: bool) -> String {
    let covered = tally.visited + tally.justified;
    if percent {
        format!("{covered}/{} ({})", tally.total(), tally.percent())
    } else {
        format!("{covered}/{}", tally.total())
    }
}

/// `not visited: flows/main.flow:60  menu, branch `9 -> lingua``; nothing for what was visited.
fn item(checked: &Checked, sources: &Sources) -> Option<String> {
    let at = sources.location(checked.point.span);
    let what = what(checked);
    match &checked.status {
        Status::Visited => None,
        Status::Missed => Some(format!("not visited: {}:{}  {what}", at.file, at.line)),
        Status::Justified(reason) => Some(format!(
            "justified:   {}:{}  {what} ({reason})",
            at.file, at.line
        )),
    }
}

fn what(checked: &Checked) -> String {
    match &checked.point.branch {
        Some(branch) => format!("{}, branch `{branch}`", checked.point.state),
        None => format!("state `{}`", checked.point.state),
    }
}

/// A `::warning` for each state and branch no scenario visits (justified ones have none).
pub fn github(report: &Report, sources: &Sources) -> String {
    let mut out = String::new();
    for flow in &report.flows {
        for checked in in_file_order(flow) {
            if checked.status != Status::Missed {
                continue;
            }
            let at = sources.location(checked.point.span);
            let message = match &checked.point.branch {
                Some(branch) => format!(
                    "no scenario takes the branch `{branch}` of {}.{}",
                    flow.flow, checked.point.state
                ),
                None => format!(
                    "no scenario reaches the state {}.{}",
                    flow.flow, checked.point.state
                ),
            };
            let _ = writeln!(
                out,
                "::warning file={},line={},title=not covered by the flow tests::{}",
                format::github_property(&at.file),
                at.line,
                format::github_data(&message)
            );
        }
    }
    out
}

/// `None` when the branches covered reach `min` percent; else the line that says they do not.
pub fn below(report: &Report, min: u8) -> Option<String> {
    let branches = report.branch_tally();
    if branches.permille() >= usize::from(min) * 10 {
        return None;
    }
    Some(format!(
        "branch coverage {} is below --min-coverage {min} %: add scenarios for the branches \
         not visited, or say in the flow why one cannot be reached (`// coverage: skip <reason>`)\n",
        branches.percent()
    ))
}
