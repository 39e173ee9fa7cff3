//! `centralino serve`: answer the city's numbers on SIP, with the flows under `--flows`.
//!
//! Compiles the flows (refusing to start on errors), opens the store, loads the
//! audio prompts once, then runs the SIP server until SIGINT or SIGTERM; live
//! calls may finish during the grace period while new calls get 503.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use centralino_compiler::compile;
use centralino_runtime::engine::Program;
use centralino_runtime::media::prompt::{PromptCache, PromptCacheConfig};
use centralino_runtime::sip::{self, Services, SipConfig};
use centralino_runtime::store::{SledStore, StoreConfig};
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::{Color, FAILED, PROBLEMS, load_sources};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The flows to serve.
    #[arg(long, default_value = "flows")]
    flows: PathBuf,
    /// The store (tickets, bookings, call log) and recordings.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// SIP address (UDP, and TCP unless --no-tcp).
    #[arg(long, default_value = "127.0.0.1:5060")]
    listen: SocketAddr,
    /// Do not listen on TCP.
    #[arg(long)]
    no_tcp: bool,
    /// RTP ports, as FIRST-LAST.
    #[arg(long, default_value = "20000-29999", value_parser = parse_ports)]
    rtp_ports: (u16, u16),
    /// Most calls at once; more get 503.
    #[arg(long, default_value_t = 2000)]
    max_calls: usize,
    /// Seconds live calls may go on after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30)]
    grace: u64,
    /// Milliseconds to ring before answering.
    #[arg(long, default_value_t = 0)]
    answer_after_ms: u64,
    /// Seconds without RTP from the caller before a call is ended.
    #[arg(long, default_value_t = 30)]
    rtp_timeout: u64,
}

fn parse_ports(text: &str) -> Result<(u16, u16), String> {
    let (first, last) = text
        .split_once('-')
        .ok_or_else(|| String::from("write the range as FIRST-LAST, e.g. 20000-29999"))?;
    let first: u16 = first
        .trim()
        .parse()
        .map_err(|_| format!("`{first}` is not a port"))?;
    let last: u16 = last
        .trim()
        .parse()
        .map_err(|_| format!("`{last}` is not a port"))?;
    if first >= last || first < 1024 {
        return Err(String::from("the range needs FIRST < LAST, from 1024 up"));
    }
    Ok((first, last))
}

pub fn run(args: &ServeArgs, color: Color) -> anyhow::Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rsipstack=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color.stderr())
        .try_init();

    let sources = load_sources(std::slice::from_ref(&args.flows))?;
    let compiled = compile(&sources);
    if compiled.diagnostics.has_errors() {
        eprint!(
            "{}",
            centralino_compiler::render::human(&sources, &compiled.diagnostics, color.stderr())
        );
        eprintln!("error: the flows have errors; not serving them");
        return Ok(PROBLEMS);
    }
    let Some(graph) = compiled.graph else {
        return Ok(PROBLEMS);
    };
    let program = Program::new(graph).context("loading the compiled flows")?;
    tracing::info!(version = %program.version(), numbers = ?program.graph.numbers.keys().collect::<Vec<_>>(), "flows compiled");

    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create the data directory {}", args.data.display()))?;
    let store = SledStore::open(&args.data, StoreConfig::default())
        .with_context(|| format!("cannot open the store in {}", args.data.display()))?;

    let prompts = Arc::new(PromptCache::new(PromptCacheConfig {
        speech: centralino_runtime::media::prompt::SpeechCommand {
            dir: args.data.join("speech"),
            ..PromptCacheConfig::default().speech
        },
        ..PromptCacheConfig::default()
    }));
    let report = prompts.preload(&program.graph);
    tracing::info!(?report, "audio prompts loaded");

    let services = Services {
        program: Arc::new(std::sync::RwLock::new(program)),
        store: Arc::new(store),
        prompts,
        data_dir: args.data.clone(),
    };
    let config = SipConfig {
        listen: args.listen,
        tcp: !args.no_tcp,
        rtp_ports: args.rtp_ports,
        max_calls: args.max_calls,
        rtp_timeout: Duration::from_secs(args.rtp_timeout),
        grace: Duration::from_secs(args.grace),
        answer_delay: Duration::from_millis(args.answer_after_ms),
        ..SipConfig::default()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        let watcher = tokio::spawn(async move {
            wait_for_signal().await;
            signals.cancel();
        });
        let served = sip::serve(config, services, shutdown).await;
        watcher.abort();
        served
    });
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(FAILED)
        }
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("signal received: draining calls");
}
