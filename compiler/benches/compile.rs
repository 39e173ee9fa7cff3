//! Check+compile throughput on synthetic deployments (`cargo bench -p centralino-compiler --bench compile`).
//!
//! Prints, per size: source bytes, median time of parse alone and of the whole
//! compile (parse, checks, lowering), and MB/s. No timing assertion: the figures
//! go to docs/benchmarks.md.

use std::time::{Duration, Instant};

use centralino_compiler::diagnostic::Diagnostics;
use centralino_compiler::{compile, load, syntax, synthetic};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

/// The real deployment in ../flows, compiled as the city would: source-dense
/// with comments and long Italian prompts, unlike the synthetic flows.
fn perugia(runs: usize) {
    let Ok(sources) = load::load(&[std::path::PathBuf::from("../flows")]) else {
        println!("| flows/ (Perugia) | not found | | | |");
        return;
    };
    let bytes = synthetic::size(&sources);
    let full = measure(runs, || {
        let compiled = compile(&sources);
        assert!(compiled.diagnostics.is_empty());
        std::hint::black_box(compiled);
    });
    let states = compile(&sources).graph.map_or(0, |g| g.nodes.len());
    println!(
        "| flows/ (Perugia, {states} states) | {:.3} MB | | {:.2} ms | {:.1} MB/s |",
        bytes as f64 / 1e6,
        full.as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / full.as_secs_f64()
    );
}

fn main() {
    let filter: Option<usize> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    println!("| states | source | parse (median) | check+compile (median) | throughput |");
    println!("|---:|---:|---:|---:|---:|");
    if filter.is_none() {
        perugia(51);
    }
    // BENCH_RUNS=1 for instruction counting under callgrind.
    let runs_override: Option<usize> = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok());
    for (states, runs) in [(1_000, 31), (10_000, 21), (100_000, 7)] {
        let runs = runs_override.unwrap_or(runs);
        if filter.is_some_and(|f| f != states) {
            continue;
        }
        let sources = synthetic::deployment(states);
        let bytes = synthetic::size(&sources);
        let parse = measure(runs, || {
            let mut diagnostics = Diagnostics::new();
            for (id, file) in sources.iter() {
                std::hint::black_box(syntax::parse(id, &file.text, &mut diagnostics));
            }
        });
        let pest = measure(runs, || {
            for (_, file) in sources.iter() {
                std::hint::black_box(syntax::bench_pest_only(&file.text));
            }
        });
        eprintln!("pest only: {:.1} ms", pest.as_secs_f64() * 1e3);
        let full = measure(runs, || {
            let compiled = compile(&sources);
            assert!(compiled.diagnostics.is_empty());
            std::hint::black_box(compiled);
        });
        let mb_s = bytes as f64 / 1e6 / full.as_secs_f64();
        println!(
            "| {states} | {:.2} MB | {:.1} ms | {:.1} ms | {mb_s:.1} MB/s |",
            bytes as f64 / 1e6,
            parse.as_secs_f64() * 1e3,
            full.as_secs_f64() * 1e3,
        );
    }
}
