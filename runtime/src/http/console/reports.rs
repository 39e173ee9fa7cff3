//! The reports pages (supervisors): how the service did over a period, from [`crate::reports`].
//!
//! ```text
//!   GET /reports?from=YYYY-MM-DD&to=YYYY-MM-DD&preset=today|7d|30d&target_h=N
//!        └─► at a glance (calls, served by the flows, offices that did not answer, late
//!            callbacks), then every report: bars drawn here as SVG (no script) with the
//!            numbers in a table beside them; each table's cells have ids `TABLE-ROW-COLUMN`
//!   GET /reports/NAME.csv?(same) ─► the same table as CSV (crate::reports::csv: quoted,
//!            formula cells prefixed)
//! ```
//!
//! Days are local days in the deployment's zone ([`super::clock`]); without dates the last 7 days. A period that cannot
//! be read is said on the page (the last 7 days shown instead) and refused for CSV (400).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use minijinja::context;

use super::{Console, Nav, Page, Viewer, supervisors};
use crate::promise::CallbackPromise;
use crate::reports::{self, Bar, Facts, Period, Report, Settings, TABLES};

pub const PAGE: Page = Page {
    routes,
    templates: &[("reports.html", include_str!("reports.html"))],
    words: WORDS,
    nav: Some(Nav {
        path: "/reports",
        label: "reports.title",
        allowed: supervisors,
    }),
};

/// The longest callback target the form takes (hours): a month.
const MAX_TARGET_HOURS: i64 = 24 * 31;

const WORDS: &[super::Word] = &[
    ("reports.title", "Rapporti", "Reports"),
    ("reports.from", "Dal", "From"),
    ("reports.to", "Al", "To"),
    ("reports.show", "Mostra", "Show"),
    ("reports.today", "Oggi", "Today"),
    ("reports.7d", "Ultimi 7 giorni", "Last 7 days"),
    ("reports.30d", "Ultimi 30 giorni", "Last 30 days"),
    (
        "reports.target",
        "Richiamata in ritardo dopo (ore; vuoto: la promessa di ogni ufficio)",
        "Callback late after (hours; empty: each office's promise)",
    ),
    (
        "reports.period",
        "Periodo (giorni, ora di {zone})",
        "Period (days, {zone} time)",
    ),
    ("reports.glance", "In sintesi", "At a glance"),
    ("reports.calls", "Chiamate arrivate", "Calls that came"),
    (
        "reports.contained",
        "Servite dai flussi, senza una persona",
        "Served by the flows, without a person",
    ),
    (
        "reports.put_through",
        "Passate al personale",
        "Put through to staff",
    ),
    (
        "reports.abandoned",
        "Abbandonate dal chiamante",
        "Abandoned by the caller",
    ),
    (
        "reports.unanswered_offices",
        "Uffici che non hanno risposto",
        "Offices that did not answer",
    ),
    (
        "reports.unanswered_of",
        "trasferimenti senza risposta su",
        "transfers unanswered of",
    ),
    (
        "reports.unanswered_of_one",
        "trasferimento senza risposta su",
        "transfer unanswered of",
    ),
    ("reports.asked_on", "chiesta il", "asked on"),
    ("reports.waiting", "in attesa da", "waiting for"),
    (
        "reports.all_answered",
        "Tutti gli uffici hanno risposto.",
        "Every office answered.",
    ),
    (
        "reports.late_callbacks",
        "Richiamate in ritardo",
        "Late callbacks",
    ),
    (
        "reports.no_late",
        "Nessuna richiamata in ritardo.",
        "No late callbacks.",
    ),
    (
        "reports.empty",
        "Nessun dato nel periodo.",
        "No data in the period.",
    ),
    (
        "reports.bad_period",
        "Periodo non valido, mostrati gli ultimi 7 giorni:",
        "Period not valid, the last 7 days are shown:",
    ),
    (
        "reports.chart",
        "Grafico (i numeri sono nella tabella)",
        "Chart (the numbers are in the table)",
    ),
    (
        "reports.meaning",
        "Servite dai flussi: il flusso è arrivato alla fine senza trasferimento, coda o conferenza. Abbandonate: il chiamante ha riagganciato prima della fine del flusso. Una richiamata è in ritardo se non è ancora stata raggiunta oltre l'obiettivo.",
        "Served by the flows: the flow reached its end without a transfer, queue or conference. Abandoned: the caller hung up before the flow ended. A callback is late when it is not reached past the target.",
    ),
    ("reports.table.overview", "Riepilogo", "Overview"),
    (
        "reports.table.hours",
        "Chiamate per ora del giorno",
        "Calls per hour of day",
    ),
    ("reports.table.days", "Chiamate per giorno", "Calls per day"),
    (
        "reports.table.weeks",
        "Chiamate per settimana",
        "Calls per week",
    ),
    (
        "reports.table.endings",
        "Come sono finite le chiamate",
        "How calls ended",
    ),
    (
        "reports.table.offices",
        "Trasferimenti per ufficio",
        "Transfers per office",
    ),
    ("reports.table.queues", "Attese in coda", "Queue waits"),
    ("reports.table.callbacks", "Richiamate", "Callbacks"),
    (
        "reports.table.late_callbacks",
        "Richiamate in ritardo (di qualunque data)",
        "Late callbacks (of any date)",
    ),
    (
        "reports.table.tickets",
        "Segnalazioni per categoria",
        "Tickets per category",
    ),
    (
        "reports.table.bookings",
        "Prenotazioni per servizio",
        "Bookings per service",
    ),
    (
        "reports.table.paths",
        "Percorsi nei menu",
        "Paths through the menus",
    ),
    (
        "reports.table.hangups",
        "Dove i chiamanti riagganciano",
        "Where callers hang up",
    ),
    ("reports.col.measure", "Misura", "Measure"),
    ("reports.col.value", "Valore", "Value"),
    ("reports.col.hour", "Ora", "Hour"),
    ("reports.col.day", "Giorno", "Day"),
    ("reports.col.week", "Settimana", "Week"),
    ("reports.col.calls", "Chiamate", "Calls"),
    ("reports.col.ending", "Fine", "Ending"),
    ("reports.col.office", "Ufficio", "Office"),
    ("reports.col.asked", "Richiesti", "Asked"),
    ("reports.col.answered", "Risposti", "Answered"),
    ("reports.col.unanswered", "Senza risposta", "Unanswered"),
    ("reports.col.answer_percent", "% risposta", "Answer %"),
    (
        "reports.col.no_answer",
        "Squillo senza risposta",
        "Rang, no answer",
    ),
    ("reports.col.busy", "Occupato", "Busy"),
    (
        "reports.col.nobody_present",
        "Nessuno presente",
        "Nobody present",
    ),
    ("reports.col.closed", "Chiuso", "Closed"),
    ("reports.col.failed", "Non riuscito", "Failed"),
    ("reports.col.hung_up", "Riagganciato", "Hung up"),
    ("reports.col.joined", "Entrati", "Joined"),
    (
        "reports.col.timed_out",
        "Attesa massima",
        "Waited the maximum",
    ),
    ("reports.col.other", "Altro", "Other"),
    (
        "reports.col.answered_wait_avg_s",
        "Attesa media dei risposti (s)",
        "Average wait answered (s)",
    ),
    (
        "reports.col.answered_wait_max_s",
        "Attesa massima dei risposti (s)",
        "Longest wait answered (s)",
    ),
    (
        "reports.col.wait_avg_s",
        "Attesa media (s)",
        "Average wait (s)",
    ),
    ("reports.col.reference", "Riferimento", "Reference"),
    ("reports.col.requested", "Chiesta il", "Requested"),
    (
        "reports.col.waiting_min",
        "In attesa da (min)",
        "Waiting (min)",
    ),
    ("reports.col.attempts", "Tentativi", "Attempts"),
    ("reports.col.state", "Stato", "State"),
    (
        "reports.col.promise_min",
        "Promessa (min)",
        "Promised within (min)",
    ),
    ("reports.col.category", "Categoria", "Category"),
    ("reports.col.opened", "Aperte", "Opened"),
    ("reports.col.open", "Ancora aperte", "Still open"),
    ("reports.col.cancelled", "Annullate", "Cancelled"),
    ("reports.col.overdue", "Scadute", "Overdue"),
    (
        "reports.col.close_median_h",
        "Chiusura, mediana (ore)",
        "Time to close, median (h)",
    ),
    (
        "reports.col.close_max_h",
        "Chiusura, massimo (ore)",
        "Time to close, longest (h)",
    ),
    (
        "reports.col.resource",
        "Servizio o ufficio",
        "Service or office",
    ),
    ("reports.col.booked", "Prenotate", "Booked"),
    ("reports.col.flow", "Flusso", "Flow"),
    ("reports.col.path", "Percorso", "Path"),
    ("reports.m.calls", "Chiamate", "Calls"),
    (
        "reports.m.contained",
        "Servite dai flussi",
        "Served by the flows",
    ),
    (
        "reports.m.contained_percent",
        "Servite dai flussi (%)",
        "Served by the flows (%)",
    ),
    (
        "reports.m.put_through",
        "Passate al personale",
        "Put through to staff",
    ),
    (
        "reports.m.person_not_reached",
        "Chiedevano una persona, non raggiunta",
        "Asked for a person, not reached",
    ),
    ("reports.m.abandoned", "Abbandonate", "Abandoned"),
    (
        "reports.m.abandoned_waiting",
        "Abbandonate in attesa del personale",
        "Abandoned waiting for staff",
    ),
    ("reports.m.lost", "Linea persa", "Line lost"),
    ("reports.m.failed", "Finite per errore", "Ended by an error"),
    (
        "reports.m.transfers_unanswered",
        "Trasferimenti senza risposta",
        "Transfers unanswered",
    ),
    (
        "reports.m.callbacks_late",
        "Richiamate in ritardo",
        "Late callbacks",
    ),
    ("reports.m.requested", "Chieste", "Requested"),
    (
        "reports.m.reached",
        "Cittadino raggiunto",
        "Citizen reached",
    ),
    (
        "reports.m.reached_late",
        "Raggiunto oltre l'obiettivo",
        "Reached past the target",
    ),
    ("reports.m.pending", "Da fare", "Pending"),
    ("reports.m.given_up", "Non riuscite", "Given up"),
    ("reports.m.closed", "Chiuse", "Closed"),
    ("reports.m.attempts", "Tentativi", "Attempts"),
    (
        "reports.m.attempts_avg",
        "Tentativi per richiesta",
        "Attempts per request",
    ),
    (
        "reports.m.reach_median_min",
        "Dalla richiesta al contatto, mediana (min)",
        "Request to reached, median (min)",
    ),
    (
        "reports.m.reach_max_min",
        "Dalla richiesta al contatto, massimo (min)",
        "Request to reached, longest (min)",
    ),
    ("reports.m.target_min", "Obiettivo (min)", "Target (min)"),
];

fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/reports", get(reports_page))
        .route("/reports/{file}", get(report_csv))
}

/// The period and targets a request asks for.
#[derive(Debug, Clone, PartialEq)]
struct Asked {
    period: Period,
    settings: Settings,
    /// The query as the page's links repeat it (`from=..&to=..[&target_h=..]`).
    query: String,
    /// `target_h`: one promise for every office, for this report only (what if it were N
    /// hours); without it, each office's promise.
    target_hours: Option<i64>,
}

/// Why a query was not understood (said on the page, a 400 for CSV).
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadQuery(String);

/// Reads `from`, `to`, `preset` and `target_h` of a query string, at `now`, days in `tz`;
/// callbacks judged by `promise` unless `target_h` is given.
fn asked(
    query: Option<&str>,
    now: Timestamp,
    tz: &TimeZone,
    promise: CallbackPromise,
) -> Result<Asked, BadQuery> {
    let tz = tz.clone();
    let mut from = None;
    let mut to = None;
    let mut preset = None;
    let mut target = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let value = value.trim().to_owned();
        if value.is_empty() {
            continue;
        }
        match key.as_ref() {
            "from" => from = Some(value),
            "to" => to = Some(value),
            "preset" => preset = Some(value),
            "target_h" => target = Some(value),
            _ => {}
        }
    }
    let target_hours = match target {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(hours) if (0..=MAX_TARGET_HOURS).contains(&hours) => Some(hours),
            _ => {
                return Err(BadQuery(format!(
                    "target_h: not a number of hours from 0 to {MAX_TARGET_HOURS}"
                )));
            }
        },
    };
    let date = |name: &str, text: &str| {
        text.parse::<Date>()
            .map_err(|_| BadQuery(format!("{name}: not a date YYYY-MM-DD")))
    };
    let period = match (preset.as_deref(), from, to) {
        (Some("today"), _, _) => Period::last_days(now, 1, tz),
        (Some("30d"), _, _) => Period::last_days(now, 30, tz),
        (Some("7d"), _, _) | (None, None, None) => Period::last_days(now, 7, tz),
        (Some(other), _, _) => return Err(BadQuery(format!("preset: unknown {other:?}"))),
        (None, Some(from), Some(to)) => Period::days(date("from", &from)?, date("to", &to)?, tz),
        (None, Some(from), None) => {
            let today = now.to_zoned_datetime(tz.clone()).date();
            Period::days(date("from", &from)?, today, tz)
        }
        (None, None, Some(to)) => {
            let last = date("to", &to)?;
            let first = last
                .checked_sub(jiff::Span::new().days(6))
                .map_err(|e| BadQuery(e.to_string()))?;
            Period::days(first, last, tz)
        }
    }
    .map_err(|e| BadQuery(e.to_string()))?;
    let mut query = format!("from={}&to={}", period.first, period.last);
    if let Some(hours) = target_hours {
        query.push_str(&format!("&target_h={hours}"));
    }
    Ok(Asked {
        query,
        settings: Settings {
            promise: match target_hours {
                Some(hours) => CallbackPromise::uniform(SignedDuration::from_hours(hours)),
                None => promise,
            },
        },
        period,
        target_hours,
    })
}

async fn compute(console: &Console, asked: &Asked, now: Timestamp) -> Result<Report, Response> {
    let store = console.server().store.clone();
    let period = asked.period.clone();
    let settings = asked.settings.clone();
    let done = tokio::task::spawn_blocking(move || {
        Facts::read(&*store, &period).map(|facts| reports::report(&facts, &period, now, &settings))
    })
    .await;
    match done {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the report could not read the store");
            Err((StatusCode::INTERNAL_SERVER_ERROR, "archivio non leggibile").into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "the report's task failed");
            Err((StatusCode::INTERNAL_SERVER_ERROR, "errore interno").into_response())
        }
    }
}

async fn reports_page(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refused) = console.require(&viewer, supervisors) {
        return refused;
    }
    let clock = console.clock();
    let now = clock.now();
    let promise = console.callback_promise();
    let (asked, problem) = match asked(query.as_deref(), now, clock.zone(), promise.clone()) {
        Ok(asked) => (asked, None),
        Err(BadQuery(problem)) => match self::asked(None, now, clock.zone(), promise) {
            Ok(asked) => (asked, Some(problem)),
            Err(BadQuery(e)) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        },
    };
    let report = match compute(&console, &asked, now).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    show(&console, &viewer, &asked, problem, &report)
}

/// The page of `report` for `viewer`.
fn show(
    console: &Console,
    viewer: &Viewer,
    asked: &Asked,
    problem: Option<String>,
    report: &Report,
) -> Response {
    let tables: Vec<minijinja::Value> = TABLES
        .iter()
        .filter_map(|name| report.table(name))
        .map(|table| {
            let rows: Vec<minijinja::Value> = table
                .rows
                .iter()
                .map(|row| {
                    let key = cell_id_part(&row.key);
                    let cells: Vec<minijinja::Value> = table
                        .columns
                        .iter()
                        .zip(&row.cells)
                        .map(|(column, text)| {
                            context! { id => format!("{}-{key}-{column}", table.name), text => text }
                        })
                        .collect();
                    context! { key => &row.key, cells => cells }
                })
                .collect();
            let chart = match table.name {
                "hours" => Some(bars_svg(&report.hours, 2)),
                "days" => Some(bars_svg(&report.days, 7)),
                "weeks" => Some(bars_svg(&report.weeks, 1)),
                _ => None,
            };
            context! {
                name => table.name,
                columns => table.columns,
                rows => rows,
                chart => chart.map(minijinja::Value::from_safe_string),
            }
        })
        .collect();
    // The offices' names as the flows give them (`Ufficio anagrafe`), for the glance; an office
    // no longer in the flows is shown by its key alone.
    let office_titles: std::collections::BTreeMap<String, String> = console
        .server()
        .deployment
        .current()
        .read()
        .map(|program| {
            program
                .graph
                .offices
                .iter()
                .map(|(name, office)| (name.clone(), office.title.clone()))
                .collect()
        })
        .unwrap_or_default();
    console.page(
        viewer,
        "reports.html",
        context! {
            path => "/reports",
            problem => problem,
            first => asked.period.first.to_string(),
            last => asked.period.last.to_string(),
            target_h => asked.target_hours,
            query => &asked.query,
            report => minijinja::Value::from(minijinja::value::Serde(report)),
            // Written as the tables and CSV write numbers (`25`, `33.3`).
            contained_percent => report.overview.contained_percent.map(|p| p.to_string()),
            tables => tables,
            office_titles => office_titles,
        },
    )
}

async fn report_csv(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refused) = console.require(&viewer, supervisors) {
        return refused;
    }
    let Some(name) = file
        .strip_suffix(".csv")
        .and_then(|name| TABLES.iter().find(|known| **known == name))
    else {
        return (StatusCode::NOT_FOUND, "nessun rapporto con questo nome").into_response();
    };
    let clock = console.clock();
    let now = clock.now();
    let asked = match asked(
        query.as_deref(),
        now,
        clock.zone(),
        console.callback_promise(),
    ) {
        Ok(asked) => asked,
        Err(BadQuery(problem)) => return (StatusCode::BAD_REQUEST, problem).into_response(),
    };
    let report = match compute(&console, &asked, now).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let Some(table) = report.table(name) else {
        return (StatusCode::NOT_FOUND, "nessun rapporto con questo nome").into_response();
    };
    match reports::csv(&table) {
        Ok(text) => (
            [
                (
                    header::CONTENT_TYPE,
                    String::from("text/csv; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"centralino-{name}-{}-{}.csv\"",
                        asked.period.first, asked.period.last
                    ),
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a report's CSV could not be written");
            (StatusCode::INTERNAL_SERVER_ERROR, "errore interno").into_response()
        }
    }
}

/// A row key as part of an element id: letters, digits, `_`, `-` and `.` kept, others `_`.
fn cell_id_part(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Bars of `bars` as an SVG picture (drawn here, no script), a label under every `label_every`
/// bar; each bar says its label and number when pointed at. Decorative for screen readers: the
/// same numbers are in the table beside it.
fn bars_svg(bars: &[Bar], label_every: usize) -> String {
    const HEIGHT: u64 = 120;
    const BAR: usize = 22;
    let most = bars.iter().map(|b| b.calls).max().unwrap_or(0).max(1);
    let width = (bars.len() * BAR).max(BAR);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-hidden=\"true\" viewBox=\"0 0 {width} {}\" \
         width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" style=\"max-width:{}px\">",
        HEIGHT + 30,
        width * 2
    );
    for (i, bar) in bars.iter().enumerate() {
        let height = bar.calls * HEIGHT / most;
        let x = i * BAR;
        let label = escape(&bar.label);
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\" fill=\"#7a1f2b\"><title>{label}: {}</title></rect>",
            x + 2,
            HEIGHT + 10 - height,
            BAR - 4,
            bar.calls
        ));
        if bar.calls > 0 {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"8\" text-anchor=\"middle\">{}</text>",
                x + BAR / 2,
                HEIGHT + 8 - height,
                bar.calls
            ));
        }
        if label_every > 0 && i % label_every == 0 {
            let short = label
                .rsplit_once('-')
                .map_or(label.as_str(), |(_, tail)| tail);
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"8\" text-anchor=\"middle\">{short}</text>",
                x + BAR / 2,
                HEIGHT + 22
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rome() -> TimeZone {
        TimeZone::get("Europe/Rome").unwrap()
    }

    fn eight() -> CallbackPromise {
        CallbackPromise::uniform(SignedDuration::from_hours(8))
    }

    fn now() -> Timestamp {
        "2026-12-03T17:00:00Z".parse().unwrap()
    }

    #[test]
    fn periods_from_queries() {
        let seven = asked(None, now(), &rome(), eight()).unwrap();
        assert_eq!(
            (
                seven.period.first.to_string(),
                seven.period.last.to_string()
            ),
            ("2026-11-27".into(), "2026-12-03".into())
        );
        assert_eq!(seven.target_hours, None);
        assert_eq!(seven.settings.promise, eight());
        let today = asked(Some("preset=today&target_h=0"), now(), &rome(), eight()).unwrap();
        assert_eq!(today.period.first, today.period.last);
        assert_eq!(
            today.settings.promise,
            CallbackPromise::uniform(SignedDuration::ZERO)
        );
        let chosen = asked(
            Some("from=2026-12-01&to=2026-12-02"),
            now(),
            &rome(),
            eight(),
        )
        .unwrap();
        assert_eq!(chosen.query, "from=2026-12-01&to=2026-12-02");
        for bad in [
            "from=yesterday&to=2026-12-01",
            "from=2026-12-02&to=2026-12-01",
            "from=2020-01-01&to=2026-12-01",
            "preset=forever",
            "target_h=-1",
            "target_h=lots",
        ] {
            assert!(asked(Some(bad), now(), &rome(), eight()).is_err(), "{bad}");
        }
    }

    #[test]
    fn charts_escape_labels_and_scale_bars() {
        let svg = bars_svg(
            &[
                Bar {
                    label: "<a>".into(),
                    calls: 2,
                },
                Bar {
                    label: "b".into(),
                    calls: 1,
                },
            ],
            1,
        );
        assert!(svg.contains("&lt;a&gt;: 2") && !svg.contains("<a>"));
        assert!(svg.contains("height=\"120\"") && svg.contains("height=\"60\""));
    }

    /// Every table and column the page shows has its words.
    #[test]
    fn every_table_and_column_has_words() {
        let words: std::collections::BTreeSet<&str> = WORDS.iter().map(|w| w.0).collect();
        let report = crate::reports::report(
            &Facts::default(),
            &asked(None, now(), &rome(), eight()).unwrap().period,
            now(),
            &Settings::default(),
        );
        for name in TABLES {
            let key = format!("reports.table.{name}");
            assert!(words.contains(key.as_str()), "{key}");
            let table = report.table(name).unwrap();
            for column in &table.columns {
                let key = format!("reports.col.{column}");
                assert!(words.contains(key.as_str()), "{key}");
            }
            if table.columns.first() == Some(&"measure") {
                for row in &table.rows {
                    let key = format!("reports.m.{}", row.key);
                    assert!(words.contains(key.as_str()), "{key}");
                }
            }
        }
    }

    /// The page of a period with one unanswered transfer and one late callback says both at
    /// a glance, in tables with their ids, in Italian and English, and escapes what it shows.
    #[test]
    fn the_page_shows_what_failed_at_a_glance() {
        use crate::engine::{EndReason, TransferOutcome};
        use crate::store::{CallRecord, Callback, Handoff, HandoffKind, NewCallback, Status};
        let console = super::super::tests::test_console();
        let asked = asked(Some("preset=today&target_h=1"), now(), &rome(), eight()).unwrap();
        let start: Timestamp = "2026-12-03T09:00:00Z".parse().unwrap();
        let call = crate::reports::LoggedCall {
            record: CallRecord {
                schema: 1,
                call_id: "c1".into(),
                caller: "x".into(),
                number: "100".into(),
                flow: "ufficio".into(),
                graph_version: "v".into(),
                started_at: start,
                ended_at: Some(start),
                outcome: Some(String::from(EndReason::FlowHungUp)),
                channel: "sip".into(),
                handoffs: vec![
                    Handoff {
                        kind: HandoffKind::Transfer,
                        office: "<prova>".into(),
                        asked_at: start,
                        outcome: Some(TransferOutcome::NoAnswer),
                        ended_at: Some(start),
                    },
                    // An office of the flows: shown by its name, then its key.
                    Handoff {
                        kind: HandoffKind::Transfer,
                        office: "anagrafe".into(),
                        asked_at: start,
                        outcome: Some(TransferOutcome::NoAnswer),
                        ended_at: Some(start),
                    },
                ],
            },
            steps: Vec::new(),
        };
        let callback = Callback {
            schema: 2,
            reference: "RC-2026-000001".into(),
            status: Status::Open,
            request: NewCallback {
                office: "anagrafe".into(),
                number: "333".into(),
                note: None,
                call_id: "c1".into(),
                created_at: start,
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            },
            dialing: Default::default(),
        };
        let facts = Facts {
            calls: vec![call],
            callbacks: vec![callback],
            ..Facts::default()
        };
        let report = crate::reports::report(&facts, &asked.period, now(), &asked.settings);
        for (lang, words) in [
            (
                super::super::words::Lang::It,
                [
                    "Uffici che non hanno risposto",
                    "Trasferimenti per ufficio",
                    "<strong>Anagrafe</strong> (anagrafe): 1 trasferimento senza risposta su 1",
                    "<strong>RC-2026-000001</strong> (Anagrafe): chiesta il 2026-12-03 10:00, in attesa da",
                ],
            ),
            (
                super::super::words::Lang::En,
                [
                    "Offices that did not answer",
                    "Transfers per office",
                    "<strong>Anagrafe</strong> (anagrafe): 1 transfer unanswered of 1",
                    "<strong>RC-2026-000001</strong> (Anagrafe): asked on 2026-12-03 10:00, waiting for",
                ],
            ),
        ] {
            let viewer = Viewer {
                staff: crate::http::session::Staff {
                    name: "anna".into(),
                    role: crate::http::accounts::Role::Supervisor,
                    csrf: "t".into(),
                },
                lang,
            };
            let page = show(&console, &viewer, &asked, None, &report);
            assert_eq!(page.status(), StatusCode::OK);
            let body = body_text(page);
            for word in words {
                assert!(body.contains(word), "{word} in {body}");
            }
            assert!(
                body.contains(r#"<strong id="glance-calls">1</strong>"#),
                "{body}"
            );
            assert!(body.contains(r#"id="unanswered-offices""#));
            assert!(body.contains("<strong>&lt;prova&gt;</strong>: 1"), "{body}");
            assert!(body.contains(r#"<td id="offices-_prova_-unanswered">1</td>"#));
            assert!(body.contains("<strong>RC-2026-000001</strong>"));
            assert!(body.contains("<svg class=\"chart\""));
            assert!(
                !body.contains("reports.col.") && !body.contains("reports.m."),
                "{body}"
            );
        }
    }

    fn body_text(response: Response) -> String {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
