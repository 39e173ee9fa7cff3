//! `GET /metrics`: the server's state in Prometheus' text format, read from the live parts at
//! each scrape (nothing is counted twice: the registry, the registrar, the desk and the
//! deployment keep their own figures; this module only reads them).
//!
//! ```text
//!   Prometheus ──GET /metrics──► Collector::encode ─┬─ Registry: calls active, by outcome, setup time
//!                                                    ├─ Registrar: phones registered
//!                                                    ├─ Desk: staff by presence, callers waiting per office
//!                                                    ├─ Deployment: version, last reload
//!                                                    └─ data directory: the store's size on disk
//! ```
//!
//! It holds no personal data (no numbers, no names but offices and statuses), so it needs no
//! login; `[http] metrics_token` asks scrapers for a bearer token when the port is shared.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry as Metrics;

use super::session::same_token;
use crate::people::presence::Status;

use super::ServerView;

/// What the metrics are read from: the server's live parts.
#[derive(Clone, Debug)]
pub struct MetricsSources(pub ServerView);

impl std::ops::Deref for MetricsSources {
    type Target = ServerView;
    fn deref(&self) -> &ServerView {
        &self.0
    }
}

impl Collector for MetricsSources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let calls = self.registry.calls();
        let counters = self.registry.counters();
        let gauge = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64| {
            ConstGauge::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)
        };
        let counter = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64| {
            ConstCounter::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)
        };
        gauge(
            &mut encoder,
            "calls_active",
            "Calls in progress.",
            count(calls.len()),
        )?;
        let frames = self.media.frame_counts();
        counter(
            &mut encoder,
            "rtp_frames_sent",
            "RTP frames (20 ms of audio) sent by the media threads.",
            frames.sent,
        )?;
        counter(
            &mut encoder,
            "rtp_frames_late",
            "RTP frames that left 20 ms or more after their deadline (a media thread was held up).",
            frames.late,
        )?;
        counter(
            &mut encoder,
            "rtp_frames_skipped",
            "RTP frames never sent: due during a stall longer than the pacer catches up.",
            frames.skipped,
        )?;
        gauge(
            &mut encoder,
            "calls_answered_active",
            "Calls in progress whose flow has started.",
            count(calls.iter().filter(|c| c.answered).count()),
        )?;
        counter(
            &mut encoder,
            "calls_accepted",
            "Calls accepted since start.",
            counters.accepted,
        )?;
        counter(
            &mut encoder,
            "calls_answered",
            "Calls whose flow started since start.",
            counters.answered,
        )?;
        counter(
            &mut encoder,
            "calls_ended",
            "Calls ended since start.",
            counters.ended,
        )?;
        {
            let mut refused = encoder.encode_descriptor(
                "calls_refused",
                "Calls refused since start, by reason (busy: over the limit or draining; unknown_number: no flow answers it).",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(counters.refused_busy)
                .encode(refused.encode_family(&[("reason", "busy")])?)?;
            ConstCounter::new(counters.refused_unknown_number)
                .encode(refused.encode_family(&[("reason", "unknown_number")])?)?;
        }
        self.registry
            .setup_times()
            .encode(encoder.encode_descriptor(
                "call_setup_seconds",
                "From a call's INVITE accepted to its flow started (answered and acknowledged).",
                None,
                MetricType::Histogram,
            )?)?;

        let now = Timestamp::now();
        gauge(
            &mut encoder,
            "staff_phones_registered",
            "Staff phone registrations not expired (one person may have several devices).",
            count(self.registrar.registrations(now).len()),
        )?;
        {
            let statuses = self.desk.statuses();
            let mut staff = encoder.encode_descriptor(
                "staff",
                "Staff members by presence.",
                None,
                MetricType::Gauge,
            )?;
            for status in [
                Status::Available,
                Status::Ringing,
                Status::OnCall,
                Status::Away,
                Status::Offline,
            ] {
                let n = statuses.values().filter(|s| **s == status).count();
                ConstGauge::new(count(n))
                    .encode(staff.encode_family(&[("status", status_label(status))])?)?;
            }
        }
        {
            let queues = self.desk.queues();
            let mut waiting = encoder.encode_descriptor(
                "queue_callers",
                "Callers waiting in each office's queue.",
                None,
                MetricType::Gauge,
            )?;
            for office in &queues.offices {
                ConstGauge::new(count(office.waiting.len()))
                    .encode(waiting.encode_family(&[("office", office.office.as_str())])?)?;
            }
        }

        let version = self.deployment.current_id();
        ConstGauge::new(1).encode(
            encoder
                .encode_descriptor(
                    "flows_version",
                    "The version of the flows serving new calls (always 1; the version is the label).",
                    None,
                    MetricType::Gauge,
                )?
                .encode_family(&[("version", version.as_str())])?,
        )?;
        if let Some(status) = self.deployment.status() {
            gauge(
                &mut encoder,
                "flows_last_reload_failed",
                "1 when the last reload of the flows failed (the previous version goes on serving).",
                i64::from(status.last == "failed"),
            )?;
            gauge(
                &mut encoder,
                "flows_last_reload_timestamp_seconds",
                "When the flows were last reloaded (or first loaded), in Unix seconds.",
                status.last_at.as_second(),
            )?;
        }
        gauge(
            &mut encoder,
            "store_bytes",
            "The store's size on disk.",
            i64::try_from(store_size(&self.data_dir)).unwrap_or(i64::MAX),
        )?;
        Ok(())
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Available => "available",
        Status::Ringing => "ringing",
        Status::OnCall => "on_call",
        Status::Away => "away",
        Status::Offline => "offline",
    }
}

/// The bytes of the store's files in `data` (sled's `db`, `conf`, snapshots and blobs; not the
/// speech cache or the accounts).
fn store_size(data: &Path) -> u64 {
    fn size_of(path: &Path) -> u64 {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
                .map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum())
                .unwrap_or(0),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        }
    }
    let Ok(entries) = std::fs::read_dir(data) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name == "db" || name == "conf" || name == "blobs" || name.starts_with("snap.")
        })
        .map(|entry| size_of(&entry.path()))
        .sum()
}

/// `/metrics` and what it reads.
#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    /// `[http] metrics_token`: scrapers must send `Authorization: Bearer TOKEN`.
    token: Option<Arc<str>>,
}

/// The `/metrics` route.
pub fn routes(sources: MetricsSources, token: Option<String>) -> Router {
    let mut metrics = Metrics::with_prefix("centralino");
    metrics.register_collector(Box::new(sources));
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            metrics: Arc::new(metrics),
            token: token.map(Arc::from),
        })
}

async fn scrape(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(expected) = &scrape.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_token(given, expected) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required",
            )
                .into_response();
        }
    }
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &scrape.metrics) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
