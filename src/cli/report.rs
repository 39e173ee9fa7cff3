//! `centralino report [--from DATE] [--to DATE] [--target-h N] [--csv NAME] [--data DIR]`: the
//! console's reports on the command line, the same numbers (runtime::reports).
//!
//! ```text
//!   --data DIR: SledStore (free: no running serve) ─► Facts::read(period) ─► report(now)
//!        └─► text: every report as an aligned table     --csv NAME: that report as CSV
//! ```
//!
//! The period is local days in Europe/Rome: `--from`/`--to` (`YYYY-MM-DD`), by default the last
//! 7 days up to today. While `serve` holds the store the command says so and points to the
//! console's `/reports` (the same numbers, live). Exit codes: 0 printed; 2 could not run.

use std::path::PathBuf;

use anyhow::Context;
use centralino_runtime::promise::CallbackPromise;
use centralino_runtime::reports::{self, Facts, Period, Settings, TABLES};
use centralino_runtime::store::{SledStore, StoreConfig, StoreError};
use clap::Args;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::{CLEAN, clock, output, records};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The first day (`YYYY-MM-DD`, Rome); by default 6 days before the last.
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// The last day (`YYYY-MM-DD`, Rome); by default today.
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// A callback not reached this many hours after it was asked for is late (every office);
    /// by default the 24-hour default promise (this command reads neither the flows' `callback`
    /// promises nor the configuration: the console's report does).
    #[arg(long, value_name = "HOURS")]
    target_h: Option<u32>,
    /// Print only this report as CSV: overview, hours, days, weeks, endings, offices, queues,
    /// callbacks, late_callbacks, tickets, bookings, paths, hangups.
    #[arg(long, value_name = "NAME")]
    csv: Option<String>,
    /// The data directory of the store.
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
}

fn date(flag: &str, text: &str) -> anyhow::Result<Date> {
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{flag} `{text}`: not a date, write YYYY-MM-DD"))
}

pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    if let Some(name) = &args.csv
        && !TABLES.contains(&name.as_str())
    {
        anyhow::bail!("--csv {name}: no such report; one of {}", TABLES.join(", "));
    }
    let now = Timestamp::now();
    let last = match &args.to {
        Some(text) => date("--to", text)?,
        None => now.to_zoned_datetime(clock::zone()).date(),
    };
    let first = match &args.from {
        Some(text) => date("--from", text)?,
        None => last.checked_sub(6.days()).context("--to is too early")?,
    };
    let period = Period::days(first, last, clock::zone())?;
    let settings = Settings {
        promise: match args.target_h {
            Some(hours) => CallbackPromise::uniform(SignedDuration::from_hours(i64::from(hours))),
            None => CallbackPromise::default(),
        },
    };
    records::must_hold_a_store(&args.data)?;
    let store = match SledStore::open_without_waiting(&args.data, StoreConfig::default()) {
        Ok(store) => store,
        Err(locked @ StoreError::Locked { .. }) => {
            return Err(anyhow::Error::new(locked).context(format!(
                "the store in {} is held by a running Centralino: read the reports in the console (/reports), or stop it",
                args.data.display()
            )));
        }
        Err(error) => return Err(error.into()),
    };
    let facts = Facts::read(&store, &period)?;
    let report = reports::report(&facts, &period, now, &settings);
    let text = match &args.csv {
        Some(name) => {
            let table = report
                .table(name)
                .with_context(|| format!("no report {name}"))?;
            reports::csv(&table)?
        }
        None => {
            let mut text = format!("reports from {} to {} (Rome)\n", period.first, period.last);
            for name in TABLES {
                let Some(table) = report.table(name) else {
                    continue;
                };
                text.push_str(&format!("\n{name}\n"));
                if table.rows.is_empty() {
                    text.push_str("  (none)\n");
                    continue;
                }
                let mut shown = records::Table::new(&table.columns);
                for row in &table.rows {
                    shown.row(row.cells.clone());
                }
                text.push_str(&shown.render());
            }
            text
        }
    };
    output::stdout(text.as_bytes())?;
    Ok(CLEAN)
}
