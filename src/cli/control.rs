//! `centralino status | calls | registrations | versions | reload | rollback ID`: ask the
//! running server.
//!
//! They talk to `serve` through its control socket in the data directory, so
//! they work while the server holds the store.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use centralino_runtime::people::Binding;
use centralino_runtime::server::{Counters, LiveCall};

use super::{CLEAN, PROBLEMS, clock};

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The data directory of the running server.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Print the server's JSON answer.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The version to go back to (its id, or the start of it, from `centralino versions`).
    #[arg(value_name = "VERSION")]
    target: String,
    #[command(flatten)]
    control: ControlArgs,
}

/// Send one request line to the server with data in `data`, read one JSON answer line.
pub(super) fn ask(data: &Path, request: &str) -> anyhow::Result<Value> {
    let path = centralino_runtime::control::socket_path(data);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "no server is running with data in {} (no {})",
            data.display(),
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line).context("the server's answer is not JSON")
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn finish(args: &ControlArgs, answer: &Value, human: impl FnOnce(&Value)) -> u8 {
    let ok = answer.get("ok").and_then(Value::as_bool).unwrap_or(false);
    if args.json {
        println!("{answer}");
    } else if ok {
        human(answer);
    } else {
        eprintln!("error: {}", text(answer, "error"));
        if let Some(d) = answer.get("diagnostics").and_then(Value::as_str) {
            eprint!("{d}");
        }
    }
    if ok { CLEAN } else { PROBLEMS }
}

pub fn status(args: &ControlArgs) -> anyhow::Result<u8> {
    let answer = ask(&args.data, "status")?;
    Ok(finish(args, &answer, |a| {
        let s = a.get("status").cloned().unwrap_or_default();
        println!("serving   {}", text(&s, "current"));
        println!("last      {} at {}", text(&s, "last"), text(&s, "last_at"));
        if let Some(ms) = s.get("publish_ms").and_then(Value::as_u64) {
            println!("publish   {ms} ms");
        }
        if let Some(d) = s.get("diagnostics").and_then(Value::as_str) {
            println!("the last change was not published:\n{d}");
        }
    }))
}

pub fn calls(args: &ControlArgs) -> anyhow::Result<u8> {
    let answer = ask(&args.data, "calls")?;
    Ok(finish(args, &answer, |a| {
        let calls: Vec<LiveCall> = a
            .get("calls")
            .cloned()
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default();
        let counters: Counters = a
            .get("counters")
            .cloned()
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default();
        if calls.is_empty() {
            println!("no live calls");
        }
        for call in &calls {
            let place = if call.answered {
                format!("{}.{}", call.flow, call.state)
            } else {
                String::from("(ringing)")
            };
            let version: String = call.version.chars().take(15).collect();
            println!(
                "{}  {} -> {}  {place}  {version}  {}",
                clock::time(call.since),
                call.caller,
                call.number,
                call.call_id
            );
        }
        println!(
            "since start: {} accepted, {} answered, {} ended, {} refused busy, {} to unknown numbers",
            counters.accepted,
            counters.answered,
            counters.ended,
            counters.refused_busy,
            counters.refused_unknown_number
        );
    }))
}

pub fn registrations(args: &ControlArgs) -> anyhow::Result<u8> {
    let answer = ask(&args.data, "registrations")?;
    Ok(finish(args, &answer, |a| {
        let bindings: Vec<Binding> = a
            .get("registrations")
            .cloned()
            .and_then(|b| serde_json::from_value(b).ok())
            .unwrap_or_default();
        if bindings.is_empty() {
            println!("no staff phones registered");
        }
        let now = jiff::Timestamp::now();
        for binding in &bindings {
            let left = binding.expires_at.duration_since(now).as_secs().max(0);
            let transport = match binding.transport {
                centralino_runtime::people::SignalTransport::Udp => "udp",
                centralino_runtime::people::SignalTransport::Tcp => "tcp",
            };
            println!(
                "{}  {}  expires in {left} s  from {} {transport}  {}",
                binding.extension,
                binding.contact,
                binding.source,
                binding.user_agent.as_deref().unwrap_or("")
            );
        }
    }))
}

pub fn versions(args: &ControlArgs) -> anyhow::Result<u8> {
    let answer = ask(&args.data, "versions")?;
    Ok(finish(args, &answer, |a| {
        for v in a
            .get("versions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let current = v.get("current").and_then(Value::as_bool).unwrap_or(false);
            println!(
                "{} {}  {}  {} states",
                if current { "*" } else { " " },
                text(&v, "id"),
                text(&v, "published_at"),
                v.get("nodes").and_then(Value::as_u64).unwrap_or(0)
            );
        }
    }))
}

pub fn reload(args: &ControlArgs) -> anyhow::Result<u8> {
    let answer = ask(&args.data, "reload")?;
    Ok(finish(args, &answer, |a| {
        if a.get("published").is_some() {
            println!("published {}", text(a, "published"));
        } else {
            println!("unchanged {}", text(a, "unchanged"));
        }
    }))
}

pub fn rollback(args: &RollbackArgs) -> anyhow::Result<u8> {
    let version: String = args.target.split_whitespace().collect();
    let answer = ask(&args.control.data, &format!("rollback {version}"))?;
    Ok(finish(&args.control, &answer, |a| {
        println!("serving {}", text(a, "current"));
    }))
}
