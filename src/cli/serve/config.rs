//! The `serve --config` file: TOML, every key optional (its default otherwise), unknown keys
//! refused. docs/config.md documents each key; examples/centralino.toml sets them all.
//!
//! ```text
//!  centralino.toml ─► toml + serde (types, unknown keys) ─► validate (ranges, names) ─► ServeConfig
//!                                                                                         │
//!  command-line flags ───────────────────────────── override, key by key ───────────────►┘
//! ```
//!
//! Errors are [`ConfigError`]s naming the file, the line and the dotted key (`rtp.ports`);
//! `serve` prints them and exits 2.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use centralino_runtime::channels::email::EmailSettings;
use centralino_runtime::channels::webchat::ChatSettings;
use centralino_runtime::dialer::schedule::DialerSettings;
use centralino_runtime::dialer::trunk::TrunkUri;
use centralino_runtime::media::legs::{InbandDtmf, RtpPorts};
use centralino_runtime::media::prompt::valid_voice;
use centralino_runtime::people::digest::HashKind;
use centralino_runtime::sip::SipConfig;
use centralino_runtime::webhook::{AllowEntryError, AllowList, WebhookConfig};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    pub sip: SipSection,
    pub rtp: RtpSection,
    pub flows: FlowsSection,
    pub data: DataSection,
    pub shutdown: ShutdownSection,
    pub tts: TtsSection,
    pub log: LogSection,
    pub http: HttpSection,
    pub directory: DirectorySection,
    pub staff: StaffSection,
    pub console: ConsoleSection,
    pub webhooks: WebhooksSection,
    pub trunk: TrunkSection,
    pub dialer: DialerSection,
    pub callbacks: CallbacksSection,
    pub webchat: WebchatSection,
    pub email: EmailSection,
    pub api: ApiSection,
}

/// The citizens' web chat at `/chat` on the HTTP side: which flow answers, and its bounds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebchatSection {
    /// Serve `/chat` (a public page: no login).
    pub enabled: bool,
    /// The number whose flow serves the chat; none: the first flow that answers a number.
    pub number: Option<String>,
    /// Live chats at most.
    pub max_chats: usize,
    /// A chat without a message from the citizen for this long ends.
    pub idle_timeout_s: u64,
    /// Characters of one message at most.
    pub max_input_chars: usize,
    /// Chats one client address may start per minute.
    pub starts_per_minute: u32,
    /// Messages one client address may send per second.
    pub messages_per_second: u32,
}

impl Default for WebchatSection {
    fn default() -> Self {
        let defaults = ChatSettings::default();
        WebchatSection {
            enabled: false,
            number: defaults.number,
            max_chats: defaults.max_chats,
            idle_timeout_s: defaults.idle.as_secs(),
            max_input_chars: defaults.max_input_chars,
            starts_per_minute: defaults.starts_per_minute,
            messages_per_second: defaults.messages_per_second,
        }
    }
}

impl WebchatSection {
    pub fn settings(&self) -> ChatSettings {
        ChatSettings {
            number: self.number.clone(),
            max_chats: self.max_chats,
            idle: Duration::from_secs(self.idle_timeout_s),
            max_input_chars: self.max_input_chars,
            starts_per_minute: self.starts_per_minute,
            messages_per_second: self.messages_per_second,
        }
    }
}

/// Mail to tickets: the maildir read, the outbox written, how mail is classified.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSection {
    pub enabled: bool,
    /// The maildir mail is delivered to; none: `<data.dir>/mail`.
    pub maildir: Option<PathBuf>,
    /// The maildir acknowledgements are written to; none: `<data.dir>/outbox`.
    pub outbox: Option<PathBuf>,
    /// The acknowledgements' sender address.
    pub from: String,
    /// Recipient address → ticket category.
    pub addresses: BTreeMap<String, String>,
    /// The category of mail nothing else classifies; none: the first category by name.
    pub default_category: Option<String>,
    /// Larger mail is rejected.
    pub max_bytes: u64,
    /// How often the maildir is looked at.
    pub poll_ms: u64,
}

impl Default for EmailSection {
    fn default() -> Self {
        let defaults = EmailSettings::in_data(Path::new(""));
        EmailSection {
            enabled: false,
            maildir: None,
            outbox: None,
            from: defaults.from,
            addresses: BTreeMap::new(),
            default_category: None,
            max_bytes: defaults.max_bytes,
            poll_ms: millis(defaults.poll),
        }
    }
}

impl EmailSection {
    pub fn settings(&self, data: &Path) -> EmailSettings {
        let defaults = EmailSettings::in_data(data);
        EmailSettings {
            maildir: self.maildir.clone().unwrap_or(defaults.maildir),
            outbox: self.outbox.clone().unwrap_or(defaults.outbox),
            from: self.from.clone(),
            addresses: self
                .addresses
                .iter()
                .map(|(address, category)| (address.trim().to_lowercase(), category.clone()))
                .collect(),
            default_category: self.default_category.clone(),
            max_bytes: self.max_bytes,
            poll: Duration::from_millis(self.poll_ms),
        }
    }
}

/// The connectors API (`/api/v1`): its rate limits and who hears of events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// Requests per minute per token (as many may come at once).
    pub requests_per_minute: u32,
    /// Citizen lookups per minute per client address.
    pub lookups_per_minute: u32,
    /// Systems told of events as signed webhooks.
    pub subscriptions: Vec<SubscriptionSection>,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            requests_per_minute: 120,
            lookups_per_minute: 10,
            subscriptions: Vec::new(),
        }
    }
}

/// `[[api.subscriptions]]`: one receiver of events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSection {
    /// Names where its delivery stands in the store.
    pub name: String,
    /// Where events are posted; its origin must be on `[webhooks] allow`.
    pub url: String,
    /// Keys the HMAC-SHA256 signature (at least 32 characters).
    pub secret: String,
    /// `ticket.created`, `ticket.closed`, `callback.reached`, `callback.failed`,
    /// `booking.made`, `booking.cancelled`; empty or absent: all.
    #[serde(default)]
    pub events: Vec<String>,
}

impl ServeConfig {
    /// The events' delivery as the server runs it (the configuration is valid).
    pub fn events(&self) -> centralino_runtime::events::EventsConfig {
        use centralino_runtime::events::{EventKind, EventsConfig, Subscription};
        EventsConfig {
            subscriptions: self
                .api
                .subscriptions
                .iter()
                .map(|s| Subscription {
                    name: s.name.clone(),
                    url: s.url.clone(),
                    secret: s.secret.clone(),
                    events: s
                        .events
                        .iter()
                        .filter_map(|e| EventKind::parse(e))
                        .collect(),
                })
                .collect(),
            allow: AllowList::parse(&self.webhooks.allow).unwrap_or_default(),
        }
    }
}

/// The shortest subscription secret accepted.
pub const MIN_SECRET_CHARS: usize = 32;

/// The flows' webhooks: which hosts they may call, how much they may answer, how many at once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSection {
    /// `host` / `host:port` (HTTPS) or `http://host:port`; empty: no webhook is called.
    pub allow: Vec<String>,
    /// A larger answer takes the flow's `else`.
    pub max_body_bytes: usize,
    /// Webhooks in flight server-wide; more take their `else` at once.
    pub max_concurrent: usize,
}

impl Default for WebhooksSection {
    fn default() -> Self {
        let defaults = WebhookConfig::default();
        WebhooksSection {
            allow: Vec::new(),
            max_body_bytes: defaults.max_body_bytes,
            max_concurrent: defaults.max_concurrent,
        }
    }
}

impl WebhooksSection {
    /// The runtime's configuration; the file was validated, so the entries read.
    pub fn config(&self) -> Result<WebhookConfig, AllowEntryError> {
        Ok(WebhookConfig {
            allow: AllowList::parse(&self.allow)?,
            max_body_bytes: self.max_body_bytes,
            max_concurrent: self.max_concurrent,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// UDP (and TCP) address, `IP:PORT`.
    pub listen: SocketAddr,
    pub tcp: bool,
    /// Most calls at once; more get 503 with Retry-After.
    pub max_calls: usize,
    /// Ring this long before answering.
    pub answer_after_ms: u64,
    /// `User-Agent` and `Server` of what the server sends.
    pub user_agent: String,
}

/// The server's own defaults ([`SipConfig::default`]) are the file's: they are written once.
impl Default for SipSection {
    fn default() -> Self {
        let defaults = SipConfig::default();
        SipSection {
            listen: defaults.listen,
            tcp: defaults.tcp,
            max_calls: defaults.max_calls,
            answer_after_ms: millis(defaults.answer_delay),
            user_agent: defaults.user_agent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpSection {
    /// `FIRST-LAST`.
    pub ports: PortRange,
    /// Seconds without RTP from the caller before a call is ended.
    pub timeout_s: u64,
    /// `auto`, `always` or `never`: when keys are listened for as tones in the audio.
    pub inband_dtmf: InbandDtmf,
    /// Ask for real-time priority for the media threads (kept as they are when refused).
    pub realtime_priority: bool,
}

impl Default for RtpSection {
    fn default() -> Self {
        let defaults = SipConfig::default();
        let (first, last) = RtpPorts::DEFAULT_RANGE;
        RtpSection {
            ports: PortRange { first, last },
            timeout_s: defaults.rtp_timeout.as_secs(),
            inband_dtmf: defaults.inband_dtmf,
            realtime_priority: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsSection {
    pub dir: PathBuf,
}

impl Default for FlowsSection {
    fn default() -> Self {
        FlowsSection {
            dir: PathBuf::from("flows"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSection {
    pub dir: PathBuf,
    /// The call log keeps at most this many calls (the oldest go first).
    pub keep_calls: usize,
    /// ... and none older than this many days.
    pub keep_calls_days: u32,
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection {
            dir: PathBuf::from("data"),
            keep_calls: 100_000,
            keep_calls_days: 90,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSection {
    /// Seconds live calls may go on after SIGINT/SIGTERM.
    pub grace_s: u64,
}

impl Default for ShutdownSection {
    fn default() -> Self {
        ShutdownSection {
            grace_s: SipConfig::default().grace.as_secs(),
        }
    }
}

/// A default duration as the file writes it, in whole milliseconds.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TtsSection {
    /// The text-to-speech program (espeak-ng or a compatible one).
    pub program: PathBuf,
    /// Language → voice; replaces the default table when given.
    pub voices: BTreeMap<String, String>,
    /// Where spoken prompts are kept; `None`: `<data.dir>/speech`.
    pub cache_dir: Option<PathBuf>,
}

impl Default for TtsSection {
    fn default() -> Self {
        TtsSection {
            program: PathBuf::from("espeak-ng"),
            voices: [("en", "en"), ("it", "it")]
                .into_iter()
                .map(|(lang, voice)| (lang.to_string(), voice.to_string()))
                .collect(),
            cache_dir: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Serve HTTP at all (the address book for desk phones).
    pub enabled: bool,
    /// `IP:PORT`; loopback unless the phones must reach it.
    pub listen: SocketAddr,
    /// A bearer token `/metrics` asks scrapers for; none: `/metrics` is open.
    pub metrics_token: Option<String>,
    /// The certificate chain (PEM, leaf first) for HTTPS; needed off loopback.
    pub tls_certificate: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_key: Option<PathBuf>,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_token: None,
            tls_certificate: None,
            tls_key: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSection {
    /// The account created at start when the accounts file has none (a first supervisor).
    pub first_account: Option<FirstAccount>,
}

/// `[console] first_account = { name = "admin", role = "supervisor", hash = "$argon2id$…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstAccount {
    pub name: String,
    pub role: String,
    /// The password's argon2id hash (`centralino users hash`), never the password.
    pub hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectorySection {
    /// External contacts (CSV: name, number, group) added to the address book.
    pub contacts: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// A level or tracing directives (`info`, `info,centralino_runtime=debug`).
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".to_string(),
        }
    }
}

/// Staff phones that may register, with their digest credentials as HA1 hashes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffSection {
    /// The digest realm the hashes were made with (`centralino staff hash --realm`).
    pub realm: String,
    /// The digest algorithms offered, preferred first; the others are refused.
    pub algorithms: Vec<DigestAlgorithm>,
    /// Extension → its hashes; only these extensions may register.
    pub accounts: BTreeMap<String, StaffAccount>,
}

/// The outbound trunk the dialer calls citizens through.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrunkSection {
    /// A SIP URI template, `{number}` standing for the number to call
    /// (`sip:{number}@gateway.example.net`); `None`: no trunk, callbacks are not dialled.
    pub uri: Option<String>,
    /// Digest credentials, when the gateway challenges.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The number citizens' phones show as the caller (the user part of our From).
    pub caller_id: String,
}

/// `[callbacks]`: the city's promise to call back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbacksSection {
    /// Hours within which a callback asked for is made, for offices whose flows do not say
    /// (`callback 8h` in an `office`); past it the request is late.
    pub promise_h: u32,
}

/// The longest promise accepted (hours): a year.
pub const MAX_PROMISE_HOURS: u32 = 8760;

impl Default for CallbacksSection {
    fn default() -> Self {
        CallbacksSection {
            promise_h: u32::try_from(centralino_runtime::promise::DEFAULT_PROMISE.as_hours())
                .unwrap_or(24),
        }
    }
}

impl CallbacksSection {
    pub fn promise(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_hours(i64::from(self.promise_h))
    }
}

/// The callback dialer's limits and numbering rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialerSection {
    /// Callback requests of one office worked at once.
    pub per_office: usize,
    /// Attempts at reaching the citizen before the request is marked failed.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each later one.
    pub backoff_s: u64,
    /// The longest wait between attempts.
    pub backoff_max_s: u64,
    /// Wait before offering a request again that staff skipped or nobody took.
    pub skip_delay_s: u64,
    /// Allow numbers of other countries (premium-rate and short codes never are).
    pub international: bool,
    /// Prefixes never called (national form, or `+` and the country code).
    pub deny_prefixes: Vec<String>,
    /// When not empty, only numbers with one of these prefixes are called.
    pub only_prefixes: Vec<String>,
    /// How long the citizen's phone rings before the attempt counts as no answer.
    pub citizen_ring_s: u64,
    /// How long the staff member's phones ring for an attempt.
    pub staff_ring_s: u64,
    /// How long staff (or, citizen first, the citizen) have to press a key after a prompt.
    pub key_wait_s: u64,
    /// How long this server's claim on a request lasts unless renewed: after a crash, the
    /// request waits this long before a restarted server works it again.
    pub lease_s: u64,
}

impl Default for TrunkSection {
    fn default() -> Self {
        TrunkSection {
            uri: None,
            username: None,
            password: None,
            caller_id: String::from("075075075"),
        }
    }
}

impl Default for DialerSection {
    fn default() -> Self {
        let defaults = DialerSettings::default();
        DialerSection {
            per_office: defaults.per_office,
            max_attempts: defaults.max_attempts,
            backoff_s: defaults.backoff.as_secs(),
            backoff_max_s: defaults.backoff_max.as_secs(),
            skip_delay_s: defaults.skip_delay.as_secs(),
            international: defaults.rule.international,
            deny_prefixes: defaults.rule.deny,
            only_prefixes: defaults.rule.only,
            citizen_ring_s: 30,
            staff_ring_s: 20,
            key_wait_s: 10,
            lease_s: 60,
        }
    }
}

/// `"SHA-256"` or `"MD5"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DigestAlgorithm(pub HashKind);

impl TryFrom<String> for DigestAlgorithm {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "SHA-256" => Ok(DigestAlgorithm(HashKind::Sha256)),
            "MD5" => Ok(DigestAlgorithm(HashKind::Md5)),
            _ => Err(format!(
                "`{text}` is not a digest algorithm: write \"SHA-256\" or \"MD5\""
            )),
        }
    }
}

/// The realm when the file names none.
pub const DEFAULT_REALM: &str = "centralino";

impl Default for StaffSection {
    fn default() -> Self {
        StaffSection {
            realm: DEFAULT_REALM.to_string(),
            algorithms: vec![
                DigestAlgorithm(HashKind::Sha256),
                DigestAlgorithm(HashKind::Md5),
            ],
            accounts: BTreeMap::new(),
        }
    }
}

/// One staff member's hashes, `H(extension:realm:password)`; either may be left out (phones
/// then must use the other algorithm).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffAccount {
    pub ha1_md5: Option<Md5Hash>,
    pub ha1_sha256: Option<Sha256Hash>,
}

/// 32 hex digits (kept lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Md5Hash(pub String);

/// 64 hex digits (kept lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Sha256Hash(pub String);

fn hash_of(text: &str, digits: usize, what: &str) -> Result<String, String> {
    if centralino_runtime::people::digest::is_hex_of_len(text, digits) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{text}` is not {what}: {digits} hex digits expected (make it with `centralino staff hash`)"
        ))
    }
}

impl TryFrom<String> for Md5Hash {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        hash_of(&text, 32, "an MD5 hash").map(Md5Hash)
    }
}

impl TryFrom<String> for Sha256Hash {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        hash_of(&text, 64, "a SHA-256 hash").map(Sha256Hash)
    }
}

/// RTP ports `FIRST-LAST`, from 1024 up, FIRST < LAST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl TryFrom<String> for PortRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (first, last) = text
            .split_once('-')
            .ok_or_else(|| format!("`{text}`: write the range as FIRST-LAST, e.g. 20000-29999"))?;
        let port = |part: &str| -> Result<u16, String> {
            part.trim()
                .parse()
                .map_err(|_| format!("`{}` is not a port (1024-65535)", part.trim()))
        };
        let (first, last) = (port(first)?, port(last)?);
        if first >= last || first < 1024 {
            return Err(format!(
                "`{text}`: the range needs FIRST < LAST, from 1024 up"
            ));
        }
        Ok(PortRange { first, last })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// TOML syntax, a wrong type, an unknown key.
    #[error("{}", render_at(path, *line, *column, key.as_deref(), message, snippet))]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
        snippet: String,
    },
    /// A value of the right type that cannot be used.
    #[error("{}: `{key}`: {message}", path.display())]
    Value {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
}

fn render_at(
    path: &Path,
    line: usize,
    column: usize,
    key: Option<&str>,
    message: &str,
    snippet: &str,
) -> String {
    let key = key.map(|k| format!("`{k}`: ")).unwrap_or_default();
    format!(
        "{}:{line}:{column}: {key}{message}\n{line:>5} | {snippet}",
        path.display()
    )
}

impl ServeConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        ServeConfig::parse(&text, path)
    }

    /// Parses and checks the text of a configuration file (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<ServeConfig, ConfigError> {
        let config: ServeConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            let (line, column, snippet) = position(text, offset);
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                key: e.span().and_then(|span| key_at(text, span.start)),
                message: explain(e.message().trim()),
                snippet,
            }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// What types alone do not say.
    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let refuse = |key: &'static str, message: String| ConfigError::Value {
            path: path.to_path_buf(),
            key,
            message,
        };
        if self.sip.max_calls == 0 {
            return Err(refuse("sip.max_calls", "must be at least 1".into()));
        }
        let agent = &self.sip.user_agent;
        if agent.trim().is_empty() || agent.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(refuse(
                "sip.user_agent",
                "must be non-empty printable ASCII (it is sent in SIP headers)".into(),
            ));
        }
        if let Some((language, voice)) = self.tts.voices.iter().find(|(_, v)| !valid_voice(v)) {
            return Err(refuse(
                "tts.voices",
                format!("`{voice}` (for `{language}`) is not a voice name such as `it` or `en-gb`"),
            ));
        }
        if self
            .directory
            .contacts
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            return Err(refuse(
                "directory.contacts",
                "must name a file (leave the key out for no external contacts)".into(),
            ));
        }
        if self.http.tls_certificate.is_some() != self.http.tls_key.is_some() {
            return Err(refuse(
                "http.tls_certificate",
                "give both tls_certificate and tls_key (PEM files), or neither".into(),
            ));
        }
        if self.tts.program.as_os_str().is_empty() {
            return Err(refuse("tts.program", "must name a program".into()));
        }
        let realm = &self.staff.realm;
        if realm.is_empty()
            || realm
                .chars()
                .any(|c| c.is_control() || !c.is_ascii() || c == '"' || c == '\\')
        {
            return Err(refuse(
                "staff.realm",
                "must be non-empty printable ASCII without `\"` or `\\`".into(),
            ));
        }
        let algorithms = &self.staff.algorithms;
        if algorithms.is_empty()
            || algorithms
                .iter()
                .enumerate()
                .any(|(i, a)| algorithms.get(..i).is_some_and(|before| before.contains(a)))
        {
            return Err(refuse(
                "staff.algorithms",
                "list \"SHA-256\", \"MD5\" or both, each once, the preferred first".into(),
            ));
        }
        for (extension, account) in &self.staff.accounts {
            if !centralino_runtime::people::registrar::is_valid_extension(extension) {
                return Err(refuse(
                    "staff.accounts",
                    format!(
                        "`{extension}` is not an extension: 1 to 32 letters, digits, `.`, `-`, `_`, `+`"
                    ),
                ));
            }
            if account.ha1_md5.is_none() && account.ha1_sha256.is_none() {
                return Err(refuse(
                    "staff.accounts",
                    format!("`{extension}` has neither ha1_md5 nor ha1_sha256"),
                ));
            }
        }
        if let Err(e) = AllowList::parse(&self.webhooks.allow) {
            return Err(refuse("webhooks.allow", e.to_string()));
        }
        if self.webhooks.max_body_bytes == 0 {
            return Err(refuse(
                "webhooks.max_body_bytes",
                "must be at least 1".into(),
            ));
        }
        if self.webhooks.max_concurrent == 0 {
            return Err(refuse(
                "webhooks.max_concurrent",
                "must be at least 1 (an empty `allow` is how webhooks are turned off)".into(),
            ));
        }
        if let Some(template) = &self.trunk.uri
            && let Err(problem) = TrunkUri::parse(template)
        {
            return Err(refuse("trunk.uri", format!("`{template}` {problem}")));
        }
        if self.trunk.password.is_some() && self.trunk.username.is_none() {
            return Err(refuse(
                "trunk.username",
                "a password needs a username".into(),
            ));
        }
        let caller_digits = self
            .trunk
            .caller_id
            .strip_prefix('+')
            .unwrap_or(&self.trunk.caller_id);
        if caller_digits.is_empty() || !caller_digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse(
                "trunk.caller_id",
                format!(
                    "`{}` is not a number: digits, with a leading `+` for a country code",
                    self.trunk.caller_id
                ),
            ));
        }
        if self.callbacks.promise_h == 0 || self.callbacks.promise_h > MAX_PROMISE_HOURS {
            return Err(refuse(
                "callbacks.promise_h",
                format!("must be from 1 to {MAX_PROMISE_HOURS} hours"),
            ));
        }
        if self.dialer.citizen_ring_s == 0 {
            return Err(refuse("dialer.citizen_ring_s", "must be at least 1".into()));
        }
        if self.dialer.staff_ring_s == 0 {
            return Err(refuse("dialer.staff_ring_s", "must be at least 1".into()));
        }
        if self.dialer.key_wait_s == 0 {
            return Err(refuse("dialer.key_wait_s", "must be at least 1".into()));
        }
        if self.dialer.lease_s < 5 {
            return Err(refuse(
                "dialer.lease_s",
                "must be at least 5 (the dialer renews its leases every second)".into(),
            ));
        }
        if self.dialer.per_office == 0 {
            return Err(refuse("dialer.per_office", "must be at least 1".into()));
        }
        if self.dialer.max_attempts == 0 {
            return Err(refuse("dialer.max_attempts", "must be at least 1".into()));
        }
        if self.dialer.backoff_max_s < self.dialer.backoff_s {
            return Err(refuse(
                "dialer.backoff_max_s",
                format!("must be at least backoff_s ({} s)", self.dialer.backoff_s),
            ));
        }
        for (key, prefixes) in [
            ("dialer.deny_prefixes", &self.dialer.deny_prefixes),
            ("dialer.only_prefixes", &self.dialer.only_prefixes),
        ] {
            if let Some(bad) = prefixes.iter().find(|p| {
                let digits = p.strip_prefix('+').unwrap_or(p);
                digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit())
            }) {
                return Err(refuse(
                    key,
                    format!(
                        "`{bad}` is not a prefix: digits, with a leading `+` for a country code"
                    ),
                ));
            }
        }
        if let Some(number) = &self.webchat.number
            && (number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '+'))
        {
            return Err(refuse(
                "webchat.number",
                format!(
                    "`{number}` is not a number: digits, with a leading `+` for a country code"
                ),
            ));
        }
        for (key, value) in [
            ("webchat.max_chats", self.webchat.max_chats as u64),
            ("webchat.idle_timeout_s", self.webchat.idle_timeout_s),
            (
                "webchat.max_input_chars",
                self.webchat.max_input_chars as u64,
            ),
            (
                "webchat.starts_per_minute",
                u64::from(self.webchat.starts_per_minute),
            ),
            (
                "webchat.messages_per_second",
                u64::from(self.webchat.messages_per_second),
            ),
            ("email.max_bytes", self.email.max_bytes),
            ("email.poll_ms", self.email.poll_ms),
        ] {
            if value == 0 {
                return Err(refuse(key, "must be at least 1".into()));
            }
        }
        let is_address = |a: &str| {
            a.split('@').count() == 2
                && a.split('@').all(|part| !part.is_empty())
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>\"(),;:\\".contains(c))
        };
        if !is_address(&self.email.from) {
            return Err(refuse(
                "email.from",
                format!(
                    "`{}` is not an address such as centralino@comune.example",
                    self.email.from
                ),
            ));
        }
        if let Some(bad) = self.email.addresses.keys().find(|a| !is_address(a)) {
            return Err(refuse(
                "email.addresses",
                format!("`{bad}` is not an address such as buche@comune.example"),
            ));
        }
        if self.api.requests_per_minute == 0 {
            return Err(refuse(
                "api.requests_per_minute",
                "must be at least 1".into(),
            ));
        }
        if self.api.lookups_per_minute == 0 {
            return Err(refuse(
                "api.lookups_per_minute",
                "must be at least 1".into(),
            ));
        }
        let allow = AllowList::parse(&self.webhooks.allow).unwrap_or_default();
        for (i, subscription) in self.api.subscriptions.iter().enumerate() {
            if !centralino_runtime::http::accounts::valid_name(&subscription.name) {
                return Err(refuse(
                    "api.subscriptions",
                    format!(
                        "`{}` is not a name: 1 to 32 lowercase letters, digits, `.`, `-`, `_`, starting with a letter",
                        subscription.name
                    ),
                ));
            }
            if self.api.subscriptions[..i]
                .iter()
                .any(|s| s.name == subscription.name)
            {
                return Err(refuse(
                    "api.subscriptions",
                    format!("`{}` is named twice", subscription.name),
                ));
            }
            if let Err(e) = allow.check(&subscription.url) {
                return Err(refuse(
                    "api.subscriptions",
                    format!("`{}`: {e}", subscription.name),
                ));
            }
            if subscription.secret.chars().count() < MIN_SECRET_CHARS {
                return Err(refuse(
                    "api.subscriptions",
                    format!(
                        "`{}`: the secret must be at least {MIN_SECRET_CHARS} characters",
                        subscription.name
                    ),
                ));
            }
            if let Some(bad) = subscription
                .events
                .iter()
                .find(|e| centralino_runtime::events::EventKind::parse(e).is_none())
            {
                return Err(refuse(
                    "api.subscriptions",
                    format!(
                        "`{}`: `{bad}` is not an event (ticket.created, ticket.closed, callback.reached, callback.failed, booking.made, booking.cancelled)",
                        subscription.name
                    ),
                ));
            }
        }
        let level = self.log.level.trim();
        let bare = !level.contains([',', '=']);
        const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
        if bare && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            return Err(refuse(
                "log.level",
                format!(
                    "`{level}` is not a level: write one of {}",
                    LEVELS.join(", ")
                ),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(level) {
            return Err(refuse(
                "log.level",
                format!(
                    "`{}`: {e} (write a level such as `info` or `debug`)",
                    self.log.level
                ),
            ));
        }
        Ok(())
    }
}

/// serde's wording, with a hint where it speaks Rust.
fn explain(message: &str) -> String {
    if message.contains("socket address") {
        return format!("{message}: write IP:PORT, e.g. 0.0.0.0:5060");
    }
    match message.split_once(", expected struct ") {
        Some((head, _)) => format!("{head}, expected a table of keys"),
        None => message.to_string(),
    }
}

/// 1-based line and column of a byte offset, and the line's text.
fn position(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
    let snippet = text
        .get(line_start..)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_default()
        .to_string();
    (line, column, snippet)
}

/// The dotted key (`sip.listen`) written on the line holding `offset`: the last `[table]`
/// header before it, and the key left of `=` on that line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let line = text.get(line_start..)?.lines().next().unwrap_or_default();
    let table = before
        .get(..line_start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .and_then(|l| l.strip_prefix('['))
        .and_then(|l| l.split(']').next())
        .map(|t| t.trim().to_string());
    let trimmed = line.trim();
    if trimmed.starts_with('[') {
        return trimmed
            .trim_start_matches('[')
            .split(']')
            .next()
            .map(|t| t.trim().to_string());
    }
    let key = trimmed.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('#') {
        return table;
    }
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServeConfig, String> {
        ServeConfig::parse(text, Path::new("centralino.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config, ServeConfig::default());
        assert_eq!(config.sip.listen.to_string(), "127.0.0.1:5060");
        assert!(config.sip.tcp);
        assert_eq!(config.sip.max_calls, 2000);
        assert_eq!(config.sip.answer_after_ms, 0);
        assert!(config.sip.user_agent.starts_with("centralino/"));
        assert_eq!(config.rtp.ports.to_string(), "20000-29999");
        assert_eq!(config.rtp.timeout_s, 30);
        assert_eq!(config.flows.dir, PathBuf::from("flows"));
        assert_eq!(config.data.dir, PathBuf::from("data"));
        assert_eq!(config.shutdown.grace_s, 30);
        assert_eq!(config.tts.program, PathBuf::from("espeak-ng"));
        assert_eq!(config.tts.voices.get("it").map(String::as_str), Some("it"));
        assert_eq!(config.tts.cache_dir, None);
        assert_eq!(config.log.level, "info");
        assert!(config.http.enabled);
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.directory.contacts, None);
    }

    #[test]
    fn a_section_given_in_part_keeps_the_other_defaults() {
        let config = parse("[sip]\nmax_calls = 5\n").unwrap();
        assert_eq!(config.sip.max_calls, 5);
        assert_eq!(config.sip.listen, SipSection::default().listen);
        assert_eq!(config.rtp, RtpSection::default());
    }

    #[test]
    fn the_example_file_sets_every_key() {
        let text = include_str!("../../../examples/centralino.toml");
        let config = parse(text).unwrap();
        let expected = ServeConfig {
            sip: SipSection {
                listen: "0.0.0.0:5060".parse().unwrap(),
                tcp: true,
                max_calls: 200,
                answer_after_ms: 0,
                user_agent: "Comune di Perugia 075 075 075".into(),
            },
            rtp: RtpSection {
                ports: PortRange {
                    first: 20_000,
                    last: 29_999,
                },
                timeout_s: 30,
                inband_dtmf: InbandDtmf::Auto,
                realtime_priority: true,
            },
            flows: FlowsSection {
                dir: "/srv/centralino/flows".into(),
            },
            data: DataSection {
                dir: "/var/lib/centralino".into(),
                keep_calls: 200_000,
                keep_calls_days: 180,
            },
            shutdown: ShutdownSection { grace_s: 60 },
            tts: TtsSection {
                program: "espeak-ng".into(),
                voices: [("en", "en-gb"), ("it", "it")]
                    .into_iter()
                    .map(|(l, v)| (l.to_string(), v.to_string()))
                    .collect(),
                cache_dir: Some("/var/cache/centralino/speech".into()),
            },
            log: LogSection {
                level: "info".into(),
            },
            http: HttpSection {
                enabled: true,
                listen: "127.0.0.1:8080".parse().unwrap(),
                metrics_token: None,
                tls_certificate: None,
                tls_key: None,
            },
            directory: DirectorySection {
                contacts: Some("/srv/centralino/contacts.csv".into()),
            },
            staff: StaffSection::default(),
            console: ConsoleSection::default(),
            webhooks: WebhooksSection {
                allow: vec![
                    "servizi.comune.perugia.it".into(),
                    "http://127.0.0.1:8081".into(),
                ],
                max_body_bytes: 65_536,
                max_concurrent: 200,
            },
            trunk: TrunkSection {
                uri: Some("sip:{number}@gateway.perugia.example:5060".into()),
                username: Some("centralino".into()),
                password: Some("change-me".into()),
                caller_id: "075075075".into(),
            },
            callbacks: CallbacksSection { promise_h: 24 },
            dialer: DialerSection {
                per_office: 2,
                max_attempts: 3,
                backoff_s: 900,
                backoff_max_s: 14_400,
                skip_delay_s: 300,
                international: false,
                deny_prefixes: Vec::new(),
                only_prefixes: Vec::new(),
                citizen_ring_s: 30,
                staff_ring_s: 20,
                key_wait_s: 10,
                lease_s: 60,
            },
            webchat: WebchatSection {
                enabled: true,
                number: Some("075075075".into()),
                max_chats: 200,
                idle_timeout_s: 600,
                max_input_chars: 500,
                starts_per_minute: 5,
                messages_per_second: 2,
            },
            email: EmailSection {
                enabled: true,
                maildir: Some("/var/lib/centralino/mail".into()),
                outbox: Some("/var/lib/centralino/outbox".into()),
                from: "centralino@comune.perugia.it".into(),
                addresses: [
                    ("strade@comune.perugia.it", "buche"),
                    ("ambiente@comune.perugia.it", "rifiuti"),
                ]
                .into_iter()
                .map(|(a, c)| (a.to_string(), c.to_string()))
                .collect(),
                default_category: Some("messaggio".into()),
                max_bytes: 1_048_576,
                poll_ms: 2000,
            },
            api: ApiSection {
                requests_per_minute: 120,
                lookups_per_minute: 10,
                subscriptions: vec![SubscriptionSection {
                    name: "portale".into(),
                    url: "https://servizi.comune.perugia.it/centralino/eventi".into(),
                    secret: "change-me-to-32-or-more-random-characters".into(),
                    events: vec!["ticket.created".into(), "ticket.closed".into()],
                }],
            },
        };
        assert_eq!(config, expected);
    }

    /// docs/config.md documents every key of the example (which sets them all), and its
    /// complete file is the example's.
    #[test]
    fn the_documentation_covers_every_key() {
        let example = include_str!("../../../examples/centralino.toml");
        let docs = include_str!("../../../docs/config.md");
        let table: toml::Table = toml::from_str(example).unwrap();
        for (section, keys) in &table {
            assert!(docs.contains(&format!("## `[{section}]`")), "[{section}]");
            for key in keys.as_table().unwrap().keys() {
                assert!(docs.contains(&format!("| `{key}` |")), "{section}.{key}");
            }
        }
        let block = docs
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap();
        assert_eq!(parse(block).unwrap(), parse(example).unwrap());
    }

    #[test]
    fn staff_accounts_are_read_and_checked() {
        let md5 = "a".repeat(32);
        let sha = "B".repeat(64);
        let config = parse(&format!(
            "[staff]\nrealm = \"comune\"\n[staff.accounts]\n\"201\" = {{ ha1_md5 = \"{md5}\", ha1_sha256 = \"{sha}\" }}\n\"202\" = {{ ha1_md5 = \"{md5}\" }}\n"
        ))
        .unwrap();
        assert_eq!(config.staff.realm, "comune");
        let first = &config.staff.accounts["201"];
        assert_eq!(
            first.ha1_sha256,
            Some(Sha256Hash("b".repeat(64))),
            "lowercased"
        );
        assert_eq!(config.staff.accounts["202"].ha1_sha256, None);
        assert_eq!(parse("").unwrap().staff.realm, "centralino");
        let md5_first = parse("[staff]\nalgorithms = [\"MD5\", \"SHA-256\"]\n").unwrap();
        assert_eq!(
            md5_first.staff.algorithms,
            [
                DigestAlgorithm(HashKind::Md5),
                DigestAlgorithm(HashKind::Sha256)
            ]
        );

        let error = parse("[staff.accounts]\n\"201\" = { ha1_md5 = \"abc\" }\n").unwrap_err();
        assert!(error.contains("centralino.toml:2:"), "{error}");
        assert!(error.contains("`staff.accounts.201`"), "{error}");
        assert!(error.contains("32 hex digits"), "{error}");
        let error = parse(&format!(
            "[staff.accounts]\n201 = {{ ha1_sha256 = \"{}\" }}\n",
            "g".repeat(64)
        ))
        .unwrap_err();
        assert!(error.contains("64 hex digits"), "{error}");
        for (text, key, why) in [
            (
                "[staff.accounts]\n201 = {}\n",
                "`staff.accounts`",
                "neither",
            ),
            (
                &format!("[staff.accounts]\n\"2 01\" = {{ ha1_md5 = \"{md5}\" }}\n") as &str,
                "`staff.accounts`",
                "not an extension",
            ),
            ("[staff]\nrealm = \"\"\n", "`staff.realm`", "non-empty"),
            (
                "[staff]\nalgorithms = []\n",
                "`staff.algorithms`",
                "each once",
            ),
            (
                "[staff]\nalgorithms = [\"MD5\", \"md5\"]\n",
                "`staff.algorithms`",
                "each once",
            ),
            (
                "[staff]\nalgorithms = [\"SHA-512\"]\n",
                "`staff.algorithms`",
                "not a digest algorithm",
            ),
            (
                "[staff.accounts]\n201 = { password = \"pw\" }\n",
                "`staff.accounts.201`",
                "unknown field",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(
                error.contains(key) && error.contains(why),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn the_trunk_and_dialer_are_read_and_checked() {
        let config = parse(
            "[trunk]\nuri = \"sip:{number}@127.0.0.1:5064\"\n\
             [dialer]\nper_office = 1\nmax_attempts = 2\nbackoff_s = 2\nbackoff_max_s = 4\n\
             international = true\ndeny_prefixes = [\"06\", \"+44\"]\n",
        )
        .unwrap();
        assert_eq!(
            config.trunk.uri.as_deref(),
            Some("sip:{number}@127.0.0.1:5064")
        );
        let dialer = &config.dialer;
        assert_eq!(dialer.per_office, 1);
        assert_eq!(dialer.max_attempts, 2);
        assert_eq!(dialer.backoff_s, 2);
        assert_eq!(dialer.backoff_max_s, 4);
        assert_eq!(dialer.skip_delay_s, 300);
        assert!(dialer.international);
        assert_eq!(
            dialer.deny_prefixes,
            vec!["06".to_string(), "+44".to_string()]
        );
        assert_eq!(parse("").unwrap().trunk.uri, None);
        assert_eq!(
            parse("").unwrap().callbacks.promise(),
            jiff::SignedDuration::from_hours(24)
        );
        assert_eq!(
            parse("[callbacks]\npromise_h = 8")
                .unwrap()
                .callbacks
                .promise(),
            jiff::SignedDuration::from_hours(8)
        );
        for (text, wanted) in [
            (
                "[trunk]\nuri = \"sip:gw.example.net\"",
                "`trunk.uri`: `sip:gw.example.net` must hold `{number}` once",
            ),
            (
                "[trunk]\nuri = \"tel:{number}\"",
                "`trunk.uri`: `tel:{number}` must be a SIP URI",
            ),
            (
                "[trunk]\nuri = \"sip:{number}@gw x\"",
                "has the character ' '",
            ),
            (
                "[trunk]\npassword = \"x\"",
                "`trunk.username`: a password needs a username",
            ),
            (
                "[dialer]\nper_office = 0",
                "`dialer.per_office`: must be at least 1",
            ),
            (
                "[callbacks]\npromise_h = 0",
                "`callbacks.promise_h`: must be from 1 to 8760 hours",
            ),
            (
                "[callbacks]\npromise_h = 9000",
                "`callbacks.promise_h`: must be from 1 to 8760 hours",
            ),
            (
                "[dialer]\nmax_attempts = 0",
                "`dialer.max_attempts`: must be at least 1",
            ),
            (
                "[dialer]\nstaff_ring_s = 0",
                "`dialer.staff_ring_s`: must be at least 1",
            ),
            (
                "[dialer]\nkey_wait_s = 0",
                "`dialer.key_wait_s`: must be at least 1",
            ),
            (
                "[dialer]\nbackoff_s = 60\nbackoff_max_s = 30",
                "`dialer.backoff_max_s`: must be at least backoff_s (60 s)",
            ),
            (
                "[dialer]\ndeny_prefixes = [\"89x\"]",
                "`dialer.deny_prefixes`: `89x` is not a prefix",
            ),
            (
                "[dialer]\nonly_prefixes = [\"\"]",
                "`dialer.only_prefixes`: `` is not a prefix",
            ),
            ("[dialer]\nrule = 1", "rule"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(wanted), "{text}: {error}");
        }
    }

    #[test]
    fn subscriptions_are_checked() {
        let allow = "[webhooks]\nallow = [\"http://127.0.0.1:9000\"]\n";
        let good = format!(
            "{allow}[[api.subscriptions]]\nname = \"portale\"\nurl = \"http://127.0.0.1:9000/e\"\nsecret = \"{}\"\n",
            "s".repeat(32)
        );
        let config = parse(&good).unwrap();
        assert_eq!(config.events().subscriptions.len(), 1);
        for (bad, says) in [
            (
                good.replace("9000/e", "9001/e"),
                "not on the webhook allow-list",
            ),
            (good.replace(&"s".repeat(32), "short"), "at least 32"),
            (good.replace("portale", "Portale!"), "is not a name"),
            (
                format!("{good}events = [\"ticket.opened\"]\n"),
                "`ticket.opened` is not an event",
            ),
            (format!("{good}{}", good.replace(allow, "")), "named twice"),
        ] {
            let error = parse(&bad).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
        let error = parse("[api]\nrequests_per_minute = 0\n").unwrap_err();
        assert!(error.contains("api.requests_per_minute"), "{error}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let error = parse("[sip]\nlisten = \"127.0.0.1:5060\"\nmax_call = 3\n").unwrap_err();
        assert!(error.contains("centralino.toml:3:1"), "{error}");
        assert!(error.contains("`sip.max_call`"), "{error}");
        assert!(error.contains("unknown field `max_call`"), "{error}");
        assert!(
            error.contains("max_calls"),
            "the known keys are listed: {error}"
        );
    }

    #[test]
    fn an_unknown_section_is_named() {
        let error = parse("[sipp]\nlisten = \"127.0.0.1:5060\"\n").unwrap_err();
        assert!(error.contains("`sipp`"), "{error}");
        assert!(error.contains("unknown field `sipp`"), "{error}");
    }

    #[test]
    fn a_bad_port_range_is_refused() {
        for (ports, why) in [
            ("\"30000-20000\"", "FIRST < LAST"),
            ("\"80-90\"", "from 1024 up"),
            ("\"20000\"", "FIRST-LAST"),
            ("\"20000-70000\"", "`70000` is not a port"),
            ("20000", "invalid type"),
        ] {
            let error = parse(&format!("[rtp]\nports = {ports}\n")).unwrap_err();
            assert!(error.contains("`rtp.ports`"), "{error}");
            assert!(error.contains(why), "{ports}: {error}");
            assert!(error.contains(":2:9:"), "{error}");
        }
    }

    #[test]
    fn wrong_types_and_values_name_their_key() {
        for (text, key) in [
            ("[sip]\nlisten = \"localhost\"\n", "`sip.listen`"),
            ("[sip]\ntcp = \"yes\"\n", "`sip.tcp`"),
            ("[sip]\nmax_calls = 0\n", "`sip.max_calls`"),
            ("[sip]\nmax_calls = -1\n", "`sip.max_calls`"),
            ("[sip]\nuser_agent = \"a\\r\\nb\"\n", "`sip.user_agent`"),
            ("[shutdown]\ngrace_s = 1.5\n", "`shutdown.grace_s`"),
            ("[tts]\nvoices = { it = \"-rm\" }\n", "`tts.voices`"),
            ("[log]\nlevel = \"loud\"\n", "`log.level`"),
            ("[http]\nlisten = \"8080\"\n", "`http.listen`"),
            ("[http]\nenabled = 1\n", "`http.enabled`"),
            ("[directory]\ncontacts = \"\"\n", "`directory.contacts`"),
            ("[directory]\nfile = \"c.csv\"\n", "`directory.file`"),
            ("[log]\nlevel = \"info,x=loud\"\n", "`log.level`"),
            (
                "[webhooks]\nallow = [\"servizi.comune.perugia.it/centralino\"]\n",
                "`webhooks.allow`",
            ),
            ("[webhooks]\nallow = [\"ftp://host\"]\n", "`webhooks.allow`"),
            ("[webhooks]\nallow = \"host\"\n", "`webhooks.allow`"),
            (
                "[webhooks]\nmax_body_bytes = 0\n",
                "`webhooks.max_body_bytes`",
            ),
            (
                "[webhooks]\nmax_concurrent = 0\n",
                "`webhooks.max_concurrent`",
            ),
            ("[webchat]\nnumber = \"07a5\"\n", "`webchat.number`"),
            ("[webchat]\nmax_chats = 0\n", "`webchat.max_chats`"),
            (
                "[webchat]\nmessages_per_second = 0\n",
                "`webchat.messages_per_second`",
            ),
            ("[webchat]\nenabled = \"yes\"\n", "`webchat.enabled`"),
            ("[email]\nfrom = \"centralino\"\n", "`email.from`"),
            ("[email]\nfrom = \"a b@c.d\"\n", "`email.from`"),
            (
                "[email]\naddresses = { \"not an address\" = \"buche\" }\n",
                "`email.addresses`",
            ),
            ("[email]\npoll_ms = 0\n", "`email.poll_ms`"),
            ("[email]\nmax_bytes = 0\n", "`email.max_bytes`"),
            ("sip = 3\n", "`sip`"),
            ("[sip\nlisten = 1\n", "centralino.toml:1:"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(key), "{text}: {error}");
        }
    }
}
