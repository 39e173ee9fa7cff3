//! `centralino serve`: answer the city's numbers on SIP, with the flows under `--flows`.
//!
//! ```text
//!  defaults ◄─ --config centralino.toml ◄─ flags   (each later one wins, key by key)
//!      │
//!      ▼
//!  compile flows (errors: exit 1) ─► read contacts ─► open store ─► check TTS (missing: one WARN)
//!      │                                                 ─► load prompts ─► bind HTTP
//!      ▼
//!  runtime::server::Server (SIP, reload, control socket, HTTP) until SIGINT/SIGTERM; live calls may
//!  finish within the grace period, new calls get 503
//! ```
//!
//! A configuration that cannot be read or used stops the command with exit 2, naming the
//! key; docs/config.md lists the keys.

pub(super) mod config;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use centralino_compiler::compile;
use centralino_runtime::engine::Program;
use centralino_runtime::http::HttpParts;
use centralino_runtime::media::legs::{InbandDtmf, MediaLoops, RtpPorts};
use centralino_runtime::media::prompt::{PromptCache, PromptCacheConfig, SpeechCommand};
use centralino_runtime::people::digest::Ha1;
use centralino_runtime::people::registrar::{Registrar, RegistrarConfig};
use centralino_runtime::reload::Deployment;
use centralino_runtime::server::{Server, ServerParts};
use centralino_runtime::sip::SipConfig;
use centralino_runtime::store::{CallLogRetention, SledStore, Store, StoreConfig};
use centralino_runtime::webhook::WebhookClient;
use clap::Args;
use tokio_util::sync::CancellationToken;

use self::config::{PortRange, ServeConfig};
use super::{Color, FAILED, PROBLEMS, load_sources};

/// Flags override the configuration file; both are optional.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (keys in docs/config.md); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The flows to serve [default: flows].
    #[arg(long, value_name = "DIR")]
    flows: Option<PathBuf>,
    /// The store (tickets, bookings, call log) and recordings [default: data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// SIP address, UDP and TCP unless --no-tcp [default: 127.0.0.1:5060].
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<SocketAddr>,
    /// Do not listen on TCP.
    #[arg(long)]
    no_tcp: bool,
    /// RTP ports, as FIRST-LAST [default: 20000-29999].
    #[arg(long, value_name = "FIRST-LAST")]
    rtp_ports: Option<PortRange>,
    /// Most calls at once; more get 503 [default: 2000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_calls: Option<u64>,
    /// Seconds live calls may go on after SIGINT/SIGTERM [default: 30].
    #[arg(long, value_name = "SECONDS")]
    grace: Option<u64>,
    /// Milliseconds to ring before answering [default: 0].
    #[arg(long, value_name = "MS")]
    answer_after_ms: Option<u64>,
    /// Seconds without RTP from the caller before a call is ended [default: 30].
    #[arg(long, value_name = "SECONDS")]
    rtp_timeout: Option<u64>,
    /// Keys as tones in the audio: auto (only without RFC 4733 telephone-event), always,
    /// never [default: auto].
    #[arg(long, value_name = "WHEN", value_parser = parse_inband)]
    inband_dtmf: Option<InbandDtmf>,
    /// HTTP address of the address book for desk phones [default: 127.0.0.1:8080].
    #[arg(long, value_name = "IP:PORT")]
    http_listen: Option<SocketAddr>,
    /// Do not serve HTTP (the address book).
    #[arg(long)]
    no_http: bool,
    /// Log level or tracing directives; wins over RUST_LOG and the file [default: info].
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Do not install espeak-ng when it is missing (text prompts are then silent).
    #[arg(long)]
    no_install: bool,
}

impl ServeArgs {
    /// The file's settings (or the defaults) with the flags given on top.
    fn settings(&self) -> anyhow::Result<ServeConfig> {
        let mut config = match &self.config {
            Some(path) => ServeConfig::load(path)?,
            None => ServeConfig::default(),
        };
        if let Some(dir) = &self.flows {
            config.flows.dir.clone_from(dir);
        }
        if let Some(dir) = &self.data {
            config.data.dir.clone_from(dir);
        }
        if let Some(listen) = self.listen {
            config.sip.listen = listen;
        }
        if self.no_tcp {
            config.sip.tcp = false;
        }
        if let Some(ports) = self.rtp_ports {
            config.rtp.ports = ports;
        }
        if let Some(max) = self.max_calls {
            config.sip.max_calls = usize::try_from(max).unwrap_or(usize::MAX);
        }
        if let Some(grace) = self.grace {
            config.shutdown.grace_s = grace;
        }
        if let Some(ms) = self.answer_after_ms {
            config.sip.answer_after_ms = ms;
        }
        if let Some(seconds) = self.rtp_timeout {
            config.rtp.timeout_s = seconds;
        }
        if let Some(when) = self.inband_dtmf {
            config.rtp.inband_dtmf = when;
        }
        if let Some(listen) = self.http_listen {
            config.http.listen = listen;
        }
        if self.no_http {
            config.http.enabled = false;
        }
        Ok(config)
    }
}

pub fn run(args: &ServeArgs, color: Color, lang: centralino_compiler::Lang) -> anyhow::Result<u8> {
    let settings = args.settings()?;
    init_logging(args.log_level.as_deref(), &settings.log.level, color)?;

    let sources = load_sources(std::slice::from_ref(&settings.flows.dir))?;
    let compiled = compile(&sources);
    if compiled.diagnostics.has_errors() {
        eprint!(
            "{}",
            centralino_compiler::render::human(
                &sources,
                &compiled.diagnostics.clone().in_language(lang),
                color.stderr(),
            )
        );
        eprintln!("error: the flows have errors; not serving them");
        return Ok(PROBLEMS);
    }
    let Some(graph) = compiled.graph else {
        return Ok(PROBLEMS);
    };
    let program = Program::new(graph).context("loading the compiled flows")?;
    // The address book's external contacts: a file with problems stops serve here (exit 2).
    if let Some(contacts) = &settings.directory.contacts {
        let read = centralino_runtime::http::directory::read_contacts(contacts)?;
        tracing::info!(contacts = read.len(), file = %contacts.display(), "address book contacts read");
    }
    tracing::info!(version = %program.version(), numbers = ?program.graph.numbers.keys().collect::<Vec<_>>(), "flows compiled");

    let data = &settings.data.dir;
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let store = SledStore::open(data, StoreConfig::default())
        .with_context(|| format!("cannot open the store in {}", data.display()))?
        .with_call_log_retention(CallLogRetention {
            max_calls: settings.data.keep_calls,
            max_age: jiff::SignedDuration::from_hours(
                i64::from(settings.data.keep_calls_days) * 24,
            ),
        });
    match store.prune_call_log(jiff::Timestamp::now()) {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "call log: calls beyond the retention removed"),
        Err(e) => tracing::warn!(error = %e, "call log: old calls could not be removed"),
    }

    let tts = &settings.tts;
    let mut speech = speech_program_runs(&tts.program);
    if speech.is_err() && tts.program == Path::new("espeak-ng") && !args.no_install {
        install_espeak();
        speech = speech_program_runs(&tts.program);
    }
    if let Err(reason) = speech {
        tracing::warn!(
            "text-to-speech unavailable ({}: {reason}): text prompts will be silent, calls are still answered (menus, DTMF, tickets); install it with `apt-get install espeak-ng`, or set tts.program",
            tts.program.display()
        );
    }
    let defaults = PromptCacheConfig::default();
    let prompts = Arc::new(PromptCache::new(PromptCacheConfig {
        speech: SpeechCommand {
            program: tts.program.clone(),
            dir: tts.cache_dir.clone().unwrap_or_else(|| data.join("speech")),
            ..defaults.speech
        },
        voices: tts.voices.clone(),
        ..defaults
    }));
    let report = prompts.preload(&program.graph);
    tracing::info!(?report, "audio prompts loaded");

    let webhooks = WebhookClient::new(settings.webhooks.config()?)?;
    if webhooks.config().allow.is_empty() {
        tracing::info!(
            "no webhook host is allowed ([webhooks] allow): every webhook takes its else"
        );
    }
    for refused in webhooks.config().allow.uncallable(&program.graph) {
        tracing::warn!(at = %refused.at, url = %refused.url, error = %refused.error, "this webhook will always take its else");
    }
    let deployment = Deployment::new(settings.flows.dir.clone(), program, prompts.clone());
    let store: Arc<dyn Store> = Arc::new(store);
    deployment.keep_versions_in(store.clone(), &sources);
    // One RTP socket per media thread, on the first free even ports of the range.
    let media = MediaLoops::per_core(RtpPorts {
        ip: settings.sip.listen.ip(),
        first: settings.rtp.ports.first,
        last: settings.rtp.ports.last,
    })
    .context("cannot start the media threads (no free RTP port?)")?;
    if settings.rtp.realtime_priority {
        match media.set_realtime_priority() {
            Ok(()) => tracing::info!(
                threads = media.threads(),
                "media threads at real-time priority"
            ),
            Err(e) => {
                tracing::info!(error = %e, "media threads at normal priority ([rtp] realtime_priority)")
            }
        }
    }
    let sip = SipConfig {
        listen: settings.sip.listen,
        tcp: settings.sip.tcp,
        max_calls: settings.sip.max_calls,
        rtp_timeout: Duration::from_secs(settings.rtp.timeout_s),
        grace: Duration::from_secs(settings.shutdown.grace_s),
        answer_delay: Duration::from_millis(settings.sip.answer_after_ms),
        user_agent: settings.sip.user_agent.clone(),
        inband_dtmf: settings.rtp.inband_dtmf,
    };
    let http = if settings.http.enabled {
        let listen = settings.http.listen;
        let tls = match (&settings.http.tls_certificate, &settings.http.tls_key) {
            (Some(certificate), Some(key)) => Some(
                centralino_runtime::http::tls::server_config(certificate, key)
                    .context("cannot serve HTTPS (http.tls_certificate, http.tls_key)")?,
            ),
            _ => None,
        };
        if tls.is_none() && !listen.ip().is_loopback() {
            anyhow::bail!(
                "HTTP on {listen} (http.listen) would carry staff passwords and sessions unencrypted off \
                 this machine: give [http] tls_certificate and tls_key (PEM files) to serve HTTPS \
                 there, or listen on 127.0.0.1 behind a TLS proxy"
            );
        }
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("cannot listen for HTTP on {listen} (http.listen)"))?;
        let accounts = prepare_accounts(&settings, data)?;
        Some(HttpParts {
            listener,
            contacts: settings.directory.contacts.clone(),
            accounts,
            metrics_token: settings.http.metrics_token.clone(),
            webchat: settings.webchat.enabled.then(|| {
                centralino_runtime::channels::webchat::ChatParts {
                    settings: settings.webchat.settings(),
                    webhooks: Some(webhooks.clone()),
                }
            }),
            api: centralino_runtime::http::api::ApiConfig {
                tokens: centralino_runtime::http::api::tokens::Tokens::path_in(data),
                requests_per_minute: settings.api.requests_per_minute,
                lookups_per_minute: settings.api.lookups_per_minute,
                number_rule: centralino_runtime::dialer::rule::NumberRule {
                    international: settings.dialer.international,
                    deny: settings.dialer.deny_prefixes.clone(),
                    only: settings.dialer.only_prefixes.clone(),
                },
            },
            tls,
            callback_promise: settings.callbacks.promise(),
        })
    } else {
        None
    };
    let registrar = Arc::new(start_registrar(&settings, &*store)?);
    let dialer = dialer_setup(&settings, &sip)?;
    let server = Server::new(ServerParts {
        sip,
        deployment: deployment.clone(),
        store,
        prompts,
        media: Arc::new(media),
        data_dir: data.clone(),
        http,
        registrar,
        webhooks,
        email: settings
            .email
            .enabled
            .then(|| settings.email.settings(data)),
        events: settings.events(),
        dialer,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        // The process's signals, owned here and stopped with the server.
        let signals_token = CancellationToken::new();
        let mut signals = tokio::task::JoinSet::new();
        let stop = shutdown.clone();
        signals.spawn(async move {
            wait_for_signal().await;
            stop.cancel();
        });
        signals.spawn(reload_on_hangup(deployment, signals_token.child_token()));
        let served = server.run(shutdown).await;
        signals_token.cancel();
        signals.abort_all();
        while signals.join_next().await.is_some() {}
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

/// The callback dialer's setup when `[trunk] uri` is set (`None`: callbacks are kept, not
/// dialled).
fn dialer_setup(
    settings: &ServeConfig,
    sip: &SipConfig,
) -> anyhow::Result<Option<centralino_runtime::sip::DialerSetup>> {
    use centralino_runtime::dialer::rule::NumberRule;
    use centralino_runtime::dialer::schedule::DialerSettings;
    use centralino_runtime::dialer::task::TaskSettings;
    use centralino_runtime::dialer::trunk::TrunkUri;
    use centralino_runtime::sip::callback::{CallbackSettings, TrunkCredential};
    let Some(template) = &settings.trunk.uri else {
        tracing::info!("no [trunk] uri: callback requests are kept, not dialled");
        return Ok(None);
    };
    let trunk = TrunkUri::parse(template)
        .map_err(|problem| anyhow::anyhow!("trunk.uri `{template}` {problem}"))?;
    let credential = settings
        .trunk
        .username
        .as_ref()
        .map(|username| TrunkCredential {
            username: username.clone(),
            password: settings.trunk.password.clone().unwrap_or_default(),
        });
    let dialer = &settings.dialer;
    // A new holder each start: a restarted server does not renew the leases of the one
    // that crashed (they run out first).
    let started = jiff::Timestamp::now().as_millisecond();
    let holder = format!("{}-{}-{started}", hostname(), std::process::id());
    tracing::info!(trunk = %template, %holder, "callback dialer configured");
    Ok(Some(centralino_runtime::sip::DialerSetup {
        callback: CallbackSettings {
            trunk,
            credential,
            caller_id: settings.trunk.caller_id.clone(),
            staff_ring: Duration::from_secs(dialer.staff_ring_s),
            citizen_ring: Duration::from_secs(dialer.citizen_ring_s),
            key_wait: Duration::from_secs(dialer.key_wait_s),
            rtp_timeout: sip.rtp_timeout,
            inband_dtmf: sip.inband_dtmf,
        },
        settings: DialerSettings {
            per_office: dialer.per_office,
            max_attempts: dialer.max_attempts,
            backoff: Duration::from_secs(dialer.backoff_s),
            backoff_max: Duration::from_secs(dialer.backoff_max_s),
            skip_delay: Duration::from_secs(dialer.skip_delay_s),
            rule: NumberRule {
                international: dialer.international,
                deny: dialer.deny_prefixes.clone(),
                only: dialer.only_prefixes.clone(),
            },
        },
        task: TaskSettings {
            holder,
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(dialer.lease_s),
        },
        wake: Arc::new(tokio::sync::Notify::new()),
    }))
}

/// This machine's name, for the dialer's leases (`localhost` when unknown).
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| String::from("localhost"))
}

/// The registrar with the configured staff accounts and the bindings the store kept.
/// The console's accounts file: read once so a damaged file stops `serve` with its problem;
/// `[console] first_account` is written to it when it holds no account.
fn prepare_accounts(settings: &ServeConfig, data: &std::path::Path) -> anyhow::Result<PathBuf> {
    use centralino_runtime::http::accounts::{Account, Accounts, Role};
    let path = Accounts::path_in(data);
    let mut accounts = Accounts::load(&path)?;
    if let Some(first) = &settings.console.first_account
        && accounts.accounts.is_empty()
    {
        let role = Role::parse(&first.role).with_context(|| {
            format!(
                "console.first_account.role `{}` is not a role (operator, office-staff, supervisor, flow-editor)",
                first.role
            )
        })?;
        anyhow::ensure!(
            centralino_runtime::http::accounts::valid_name(&first.name),
            "console.first_account.name `{}` is not a valid account name",
            first.name
        );
        anyhow::ensure!(
            first.hash.starts_with("$argon2"),
            "console.first_account.hash is not an argon2 hash (make one with `centralino users hash`)"
        );
        accounts.accounts.insert(
            first.name.clone(),
            Account {
                role,
                hash: first.hash.clone(),
                extension: None,
                offices: Vec::new(),
            },
        );
        accounts.save(&path)?;
        tracing::info!(name = %first.name, %role, "console: first account created");
    }
    if accounts.accounts.is_empty() {
        tracing::info!(
            "console: no account yet; add one with `centralino users add NAME --role supervisor`"
        );
    }
    Ok(path)
}

fn start_registrar(settings: &ServeConfig, store: &dyn Store) -> anyhow::Result<Registrar> {
    let accounts: BTreeMap<String, Ha1> = settings
        .staff
        .accounts
        .iter()
        .map(|(extension, account)| {
            let hashes = Ha1 {
                md5: account.ha1_md5.as_ref().map(|h| h.0.clone()),
                sha256: account.ha1_sha256.as_ref().map(|h| h.0.clone()),
            };
            (extension.clone(), hashes)
        })
        .collect();
    let restored = match store.registrations() {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!(error = %e, "stored registrations unreadable: phones register afresh");
            Vec::new()
        }
    };
    let secret = centralino_runtime::sip::register::new_secret()
        .map_err(|e| anyhow::anyhow!("no randomness for the registrar's nonces: {e}"))?;
    let now = jiff::Timestamp::now();
    let mut config = RegistrarConfig::new(settings.staff.realm.clone(), accounts);
    config.algorithms = settings.staff.algorithms.iter().map(|a| a.0).collect();
    let registrar = Registrar::new(config, secret, restored, now);
    tracing::info!(
        accounts = settings.staff.accounts.len(),
        realm = %settings.staff.realm,
        restored = registrar.registrations(now).len(),
        "registrar ready"
    );
    Ok(registrar)
}

/// Logs go to stderr. The level: `--log-level`, else RUST_LOG, else the file's `log.level`.
/// rsipstack (which logs every packet at info) stays at warn unless the directives name it.
fn init_logging(flag: Option<&str>, file_level: &str, color: Color) -> anyhow::Result<()> {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let directives = flag
        .map(str::to_string)
        .or(from_env)
        .unwrap_or_else(|| file_level.to_string());
    let directives = if directives.contains("rsipstack") {
        directives
    } else {
        format!("{directives},rsipstack=warn")
    };
    let filter = tracing_subscriber::EnvFilter::builder()
        .parse(&directives)
        .with_context(|| format!("the log level `{directives}` is not valid"))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color.stderr())
        .try_init();
    Ok(())
}

/// The first run on a fresh machine: install espeak-ng with apt-get when we are
/// root on Debian (the README's run command relies on this; `--no-install` skips it).
fn install_espeak() {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = std::process::Command::new("apt-get")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok();
    if !(root && apt) {
        return;
    }
    tracing::info!("espeak-ng is missing: installing it with apt-get (once; --no-install to skip)");
    let quiet = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = quiet(&["update", "-q"])
        && quiet(&[
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "espeak-ng",
        ]);
    if installed {
        tracing::info!("espeak-ng installed");
    } else {
        tracing::warn!("installing espeak-ng failed");
    }
}

/// Whether the text-to-speech program can be started (its exit status does not matter).
fn speech_program_runs(program: &Path) -> Result<(), String> {
    let started = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match started {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("not found".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// SIGHUP asks for a reload (for sites that deploy by copying files).
async fn reload_on_hangup(deployment: Arc<Deployment>, token: CancellationToken) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            got = hangups.recv() => if got.is_none() { return },
        }
        tracing::info!("SIGHUP: reloading the flows");
        let d = deployment.clone();
        let _ = tokio::task::spawn_blocking(move || d.reload()).await;
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

/// `--inband-dtmf auto|always|never`.
fn parse_inband(text: &str) -> Result<InbandDtmf, String> {
    match text {
        "auto" => Ok(InbandDtmf::Auto),
        "always" => Ok(InbandDtmf::Always),
        "never" => Ok(InbandDtmf::Never),
        other => Err(format!("`{other}`: write auto, always or never")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;

    fn settings(args: &[&str]) -> ServeConfig {
        let cli = Cli::try_parse_from([&["centralino", "serve"], args].concat()).unwrap();
        match cli.command {
            Command::Serve(args) => args.settings().unwrap(),
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn http_flags_override_the_defaults() {
        let defaults = settings(&[]);
        assert!(defaults.http.enabled);
        assert_eq!(defaults.http.listen.to_string(), "127.0.0.1:8080");
        let moved = settings(&["--http-listen", "127.0.0.1:9090"]);
        assert_eq!(moved.http.listen.to_string(), "127.0.0.1:9090");
        assert!(!settings(&["--no-http"]).http.enabled);
    }
}
