//! Samples a process's CPU time and RSS over a window, for load runs whose caller is not ours
//! (sipp): `proc_window --pid PID --after 5 --window 20 --calls 200` waits `--after` seconds,
//! samples `/proc/PID` at the start and end of the window (and every 250 ms between, for the
//! peak RSS), and prints JSON: CPU µs per call-second for `--calls` live calls, and RSS per
//! call against a baseline given by `--baseline-rss-kib` (taken before the calls started).

use std::time::Duration;

use centralino_bench::procfs::{self, CpuWindow};
use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    pid: u32,
    /// Seconds to wait before the window opens.
    #[arg(long, default_value_t = 0.0)]
    after: f64,
    /// Length of the window, seconds.
    #[arg(long)]
    window: f64,
    /// Calls live during the window (to divide by).
    #[arg(long)]
    calls: f64,
    /// The server's RSS before any call, KiB.
    #[arg(long)]
    baseline_rss_kib: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::thread::sleep(Duration::from_secs_f64(args.after.max(0.0)));
    let load_start = procfs::load_average();
    let start = procfs::sample(args.pid)?;
    let mut peak_rss = start.rss_kib;
    let mut peak_fds = start.fds;
    let end_at = start.at + Duration::from_secs_f64(args.window.max(0.25));
    let mut end = start;
    while end.at < end_at {
        let step = end_at
            .saturating_duration_since(std::time::Instant::now())
            .min(Duration::from_millis(250));
        std::thread::sleep(step);
        end = procfs::sample(args.pid)?;
        peak_rss = peak_rss.max(end.rss_kib);
        peak_fds = peak_fds.max(end.fds);
    }
    let secs = end.at.duration_since(start.at).as_secs_f64();
    let window = CpuWindow::new(&start, &end, secs * args.calls);
    let rss_per_call = args
        .baseline_rss_kib
        .filter(|_| args.calls > 0.0)
        .map(|b| peak_rss.saturating_sub(b) as f64 / args.calls);
    let report = json!({
        "pid": args.pid,
        "calls": args.calls,
        "window": window,
        "start": start,
        "end": end,
        "peak_rss_kib": peak_rss,
        "peak_fds": peak_fds,
        "rss_per_call_kib": rss_per_call,
        "load_average": {"start": load_start, "end": procfs::load_average()},
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
