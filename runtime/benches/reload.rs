//! Save-to-publish latency of hot reload (`cargo bench -p centralino-runtime --bench reload`).
//!
//! For the Perugia deployment and a 10,000-state synthetic one: copy the flows
//! to a temporary directory, watch it as `serve` does (notify, debounce,
//! compile off the call path, preload audio, swap), then save a changed prompt
//! N times and time each save until the new version is the one new calls get
//! (`Deployment::current`, which `serve` reads for every INVITE). Prints
//! p50/p90/p99/max; no assertion: the figures go to docs/benchmarks.md.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use centralino_compiler::{compile, load, synthetic};
use centralino_runtime::engine::Program;
use centralino_runtime::media::prompt::{PromptCache, PromptCacheConfig};
use centralino_runtime::reload::Deployment;
use tokio_util::sync::CancellationToken;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Time `saves` edits of `file` (each replacing `marker` with a new text).
fn measure(name: &str, dir: &Path, file: &Path, marker: &str, saves: usize) {
    let sources = load::load(&[dir.to_path_buf()]).expect("flows load");
    let graph = compile(&sources).graph.expect("flows compile");
    let program = Program::new(graph).expect("program");
    let prompts = Arc::new(PromptCache::new(PromptCacheConfig::default()));
    let deployment = Deployment::new(dir.to_path_buf(), program, prompts);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let token = CancellationToken::new();
    let watcher = runtime.spawn(deployment.clone().watch(token.clone()));
    std::thread::sleep(Duration::from_millis(300)); // the watcher is set up
    let original = std::fs::read_to_string(file).expect("flow file");
    let mut times = Vec::with_capacity(saves);
    for i in 0..saves {
        let before = deployment.current_id();
        let text = original.replacen(marker, &format!("{marker} (versione {i})"), 1);
        let saved = Instant::now();
        std::fs::write(file, text).expect("save");
        while deployment.current_id() == before {
            if saved.elapsed() > Duration::from_secs(10) {
                eprintln!("{name}: save {i} not published in 10 s");
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        times.push(saved.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    token.cancel();
    let _ = runtime.block_on(watcher);
    times.sort();
    println!(
        "| {name} | {saves} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn main() {
    let saves: usize = std::env::var("SAVES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    println!("| deployment | saves | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");

    let perugia = tempfile::tempdir().expect("tempdir");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg("../flows/.")
        .arg(perugia.path())
        .status();
    if copied.is_ok_and(|s| s.success()) {
        let file = perugia.path().join("prompts.flow");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        // The first Italian text of the prompts file.
        let marker = text
            .split("it \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .chars()
            .take(20)
            .collect::<String>();
        measure("flows/ (Perugia)", perugia.path(), &file, &marker, saves);
    }

    let big = tempfile::tempdir().expect("tempdir");
    let sources = synthetic::deployment(10_000);
    for (_, file) in sources.iter() {
        let path = big.path().join(file.path.file_name().expect("name"));
        std::fs::write(path, &file.text).expect("write");
    }
    let file = big.path().join("flows0000.flow");
    measure(
        "synthetic, 10,000 states",
        big.path(),
        &file,
        "Benvenuto nel servizio 0",
        saves / 2,
    );
}
