//! E-mail: mail delivered to a maildir becomes a ticket of the flows' categories, and the
//! sender gets an acknowledgement with its reference, written to an outbox maildir.
//!
//! ```text
//!   MAILDIR/new/<file> ─► read (at most max_bytes) ─► mail-parser ─► classify ─► ticket (store,
//!        │                    │ too big, unreadable, no sender             │      flushed)
//!        │                    ▼                                            ▼
//!        │               MAILDIR/rejected/<file> + a WARN        OUTBOX/new/<id>.eml (tmp, rename)
//!        └──────────────────────────── only then ──────────────► MAILDIR/cur/<file>:2,S
//! ```
//!
//! The order makes a crash harmless: a mail leaves `new/` only after its ticket is stored and
//! its acknowledgement written, and a ticket's `call_id` is `email-` and a hash of the mail's
//! Message-ID, looked up before a ticket is made, so a mail read twice (a crash before the
//! move, the same mail delivered twice) makes one ticket and one acknowledgement.
//!
//! Classification ([`classify`]): the recipient's address if `[email] addresses` maps it to a
//! category; else the category whose name and title words appear most in the subject (counted
//! twice) and body; else the default category. Acknowledgements are not sent to automatic
//! mail (`Auto-Submitted`, `Precedence: bulk/junk/list`, mailer-daemon), so two robots cannot
//! write to each other forever. [`run`] is an owned task of the server that polls `new/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use centralino_compiler::graph::{Category, Graph};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use unicode_normalization::UnicodeNormalization;

use crate::engine::Program;
use crate::store::{NewTicket, Store, StoreError};

/// Mails handled in one pass at most (the rest wait for the next).
pub const MAX_PER_PASS: usize = 100;
/// Characters of a body kept in the ticket.
pub const MAX_BODY_CHARS: usize = 10_000;

/// `[email]`: where mail comes and goes, and how it is classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// The maildir mail is delivered to (`new/`, `cur/`, `tmp/`; `rejected/` is made here).
    pub maildir: PathBuf,
    /// The maildir acknowledgements are written to, for the mail system to send.
    pub outbox: PathBuf,
    /// The acknowledgements' sender.
    pub from: String,
    /// Recipient address (lower case) → category.
    pub addresses: BTreeMap<String, String>,
    /// The category of mail nothing else classifies; `None`: the first category by name.
    pub default_category: Option<String>,
    /// Larger mail is rejected.
    pub max_bytes: u64,
    /// How often `new/` is looked at.
    pub poll: Duration,
}

impl EmailSettings {
    /// The defaults for a data directory: `DATA/mail` and `DATA/outbox`.
    pub fn in_data(data: &Path) -> EmailSettings {
        EmailSettings {
            maildir: data.join("mail"),
            outbox: data.join("outbox"),
            from: String::from("centralino@localhost"),
            addresses: BTreeMap::new(),
            default_category: None,
            max_bytes: 1024 * 1024,
            poll: Duration::from_secs(2),
        }
    }
}

/// A mail as the ticket takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub message_id: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    /// Sent by a robot: no acknowledgement.
    pub automatic: bool,
}

/// Why a mail was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    #[error("not a mail message (no header could be read)")]
    Unreadable,
    #[error("no sender address")]
    NoSender,
}

/// Read one mail (its bytes); `Err` when it cannot become a ticket.
pub fn parse(bytes: &[u8], max_bytes: u64) -> Result<Mail, Rejected> {
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max_bytes {
        return Err(Rejected::TooLarge(max_bytes));
    }
    let message = mail_parser::MessageParser::default()
        .parse(bytes)
        .filter(|m| !m.headers().is_empty())
        .ok_or(Rejected::Unreadable)?;
    let sender = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| is_address(a))
        .ok_or(Rejected::NoSender)?;
    let mut recipients = Vec::new();
    for list in [message.to(), message.cc()].into_iter().flatten() {
        for addr in list.iter() {
            if let Some(a) = addr.address() {
                recipients.push(a.trim().to_lowercase());
            }
        }
    }
    if let Some(delivered) = message.header_raw("Delivered-To") {
        recipients.push(delivered.trim().to_lowercase());
    }
    let subject = one_line(message.subject().unwrap_or(""));
    let body: String = message
        .body_text(0)
        .map(|b| b.trim().to_owned())
        .unwrap_or_default()
        .chars()
        .take(MAX_BODY_CHARS)
        .collect();
    // Without a Message-ID the content names the mail: a copy of it is still one ticket.
    let message_id = match message.message_id() {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => format!("sha256:{}", hex(&Sha256::digest(bytes))),
    };
    let auto_submitted = message
        .header_raw("Auto-Submitted")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    let bulk = message.header_raw("Precedence").is_some_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        v == "bulk" || v == "junk" || v == "list"
    });
    let robot = sender.starts_with("mailer-daemon@") || sender.starts_with("postmaster@");
    Ok(Mail {
        message_id,
        sender,
        recipients,
        subject,
        body,
        automatic: auto_submitted || bulk || robot,
    })
}

/// An address the acknowledgement can go to: one `@`, no spaces or control characters.
fn is_address(text: &str) -> bool {
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"(),;:\\[]".contains(c))
}

/// Text on one line (headers may fold), at most 200 characters.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a mail's ticket `call_id` starts (a mail has no call in the call log).
pub const MAIL_CALL_PREFIX: &str = "email-";

/// The ticket's `call_id` for a mail: the same for every copy of it.
pub fn mail_call_id(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    format!(
        "{MAIL_CALL_PREFIX}{}",
        hex(digest.get(..12).unwrap_or(&digest))
    )
}

/// Lower case, accents dropped, split on anything not a letter or digit.
fn words(text: &str) -> Vec<String> {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A keyword's stem: words of four letters or fewer whole, longer ones without their last
/// two, three letters at least (`buche` and `buca`, `rifiuti` and `rifiuto` meet).
fn stem(word: &str) -> String {
    let count = word.chars().count();
    if count <= 4 {
        word.to_owned()
    } else {
        word.chars().take((count - 2).max(3)).collect()
    }
}

/// Words too common in titles to say anything.
const COMMON: [&str; 8] = [
    "della", "delle", "dello", "degli", "sulla", "nella", "with", "from",
];

/// The category of a mail (see the module's header); `None` when the graph has none.
pub fn classify(
    mail: &Mail,
    categories: &BTreeMap<String, Category>,
    addresses: &BTreeMap<String, String>,
    default: Option<&str>,
) -> Option<String> {
    for recipient in &mail.recipients {
        if let Some(category) = addresses.get(recipient)
            && categories.contains_key(category)
        {
            return Some(category.clone());
        }
    }
    let subject = words(&mail.subject);
    let body = words(&mail.body);
    let mut best: Option<(usize, &String)> = None;
    for (name, category) in categories {
        let mut keys: Vec<String> = words(&name.replace('_', " "))
            .into_iter()
            .chain(words(&category.title))
            .filter(|w| w.chars().count() >= 4 && !COMMON.contains(&w.as_str()))
            .map(|w| stem(&w))
            .collect();
        keys.sort();
        keys.dedup();
        let hits = |text: &[String]| {
            text.iter()
                .filter(|w| keys.iter().any(|k| w.starts_with(k.as_str())))
                .count()
        };
        let score = 2 * hits(&subject) + hits(&body);
        if score > 0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, name));
        }
    }
    if let Some((_, name)) = best {
        return Some(name.clone());
    }
    default
        .filter(|d| categories.contains_key(*d))
        .map(str::to_owned)
        .or_else(|| categories.keys().next().cloned())
}

/// The acknowledgement of a mail: a complete RFC 5322 message (Date, Message-ID,
/// In-Reply-To, UTF-8 text), Italian first, then English.
pub fn acknowledgement(
    mail: &Mail,
    reference: &str,
    title: &str,
    from: &str,
    now: Timestamp,
) -> Result<Vec<u8>, std::io::Error> {
    let subject = if mail.subject.is_empty() {
        format!("Segnalazione {reference}")
    } else {
        format!("Re: {} [{reference}]", mail.subject)
    };
    let text = format!(
        "Gentile cittadina, gentile cittadino,\n\n\
         abbiamo ricevuto il suo messaggio e l'abbiamo registrato come segnalazione\n\
         {reference} ({title}). Citi questo codice se ci scrive o ci chiama.\n\n\
         Dear citizen,\n\n\
         we have received your message and registered it as request {reference}\n\
         ({title}). Please quote this reference when you write or call.\n\n\
         -- \nCentralino\n"
    );
    let id = mail
        .message_id
        .trim_matches(['<', '>'])
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '<' && *c != '>')
        .collect::<String>();
    let domain = from.rsplit('@').next().unwrap_or("localhost");
    mail_builder::MessageBuilder::new()
        .from(("Centralino", from))
        .to(mail.sender.as_str())
        .subject(subject)
        .in_reply_to(id.clone())
        .message_id(format!("{}.ack@{domain}", mail_call_id(&mail.message_id)))
        .date(now.as_second())
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-replied"),
        )
        .text_body(text)
        .write_to_vec()
}

/// What one pass did (for tests and logs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// References of tickets made now.
    pub ticketed: Vec<String>,
    /// Mails whose ticket was there already (a copy, or a crash before the move).
    pub duplicates: usize,
    pub rejected: usize,
    /// Mails left in `new/` for the next pass (the store failed).
    pub left: usize,
}

/// Why a pass could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EmailError + '_ {
    move |source| EmailError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The mail folders, made if missing.
pub fn prepare(settings: &EmailSettings) -> Result<(), EmailError> {
    for dir in [&settings.maildir, &settings.outbox] {
        for sub in ["new", "cur", "tmp"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
    }
    let rejected = settings.maildir.join("rejected");
    std::fs::create_dir_all(&rejected).map_err(io(&rejected))
}

/// Tickets made from mail so far: call id → reference.
pub fn known_mail(store: &dyn Store) -> Result<HashMap<String, String>, EmailError> {
    let (tickets, _damaged) = store.tickets_skipping_damaged()?;
    Ok(tickets
        .into_iter()
        .filter(|t| t.request.call_id.starts_with(MAIL_CALL_PREFIX))
        .map(|t| (t.request.call_id, t.reference))
        .collect())
}

/// Handle the mail in `new/` (oldest name first, at most [`MAX_PER_PASS`]).
pub fn pass(
    settings: &EmailSettings,
    graph: &Graph,
    store: &dyn Store,
    known: &mut HashMap<String, String>,
    now: Timestamp,
) -> Result<Pass, EmailError> {
    let new = settings.maildir.join("new");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
        .map_err(io(&new))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    names.sort();
    let mut done = Pass::default();
    for path in names.into_iter().take(MAX_PER_PASS) {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let read = std::fs::metadata(&path).and_then(|meta| {
            if meta.len() > settings.max_bytes {
                Ok(None)
            } else {
                std::fs::read(&path).map(Some)
            }
        });
        let parsed = match read {
            Ok(Some(bytes)) => parse(&bytes, settings.max_bytes),
            Ok(None) => Err(Rejected::TooLarge(settings.max_bytes)),
            Err(e) => {
                warn!(mail = %path.display(), error = %e, "a mail cannot be read; tried again later");
                done.left += 1;
                continue;
            }
        };
        let mail = match parsed {
            Ok(mail) => mail,
            Err(why) => {
                let to = settings.maildir.join("rejected").join(&name);
                warn!(mail = %name, reason = %why, to = %to.display(), "mail rejected");
                std::fs::rename(&path, &to).map_err(io(&to))?;
                done.rejected += 1;
                continue;
            }
        };
        let call_id = mail_call_id(&mail.message_id);
        let Some(category) = classify(
            &mail,
            &graph.categories,
            &settings.addresses,
            settings.default_category.as_deref(),
        ) else {
            warn!(mail = %name, "no ticket category in the flows: the mail waits");
            done.left += 1;
            continue;
        };
        let definition = graph.categories.get(&category);
        let title = definition.map(|c| c.title.clone()).unwrap_or_default();
        let reference = match known.get(&call_id) {
            Some(reference) => {
                info!(mail = %name, %reference, "mail already has its ticket");
                done.duplicates += 1;
                reference.clone()
            }
            None => {
                let due_at = definition.and_then(|c| c.sla_ms).and_then(|ms| {
                    now.checked_add(jiff::SignedDuration::from_millis(
                        i64::try_from(ms).unwrap_or(i64::MAX),
                    ))
                    .ok()
                });
                let fields = BTreeMap::from([
                    (String::from("email"), mail.sender.clone()),
                    (String::from("oggetto"), mail.subject.clone()),
                    (String::from("testo"), mail.body.clone()),
                ]);
                let created = store.create_ticket(NewTicket {
                    category: category.clone(),
                    title: if mail.subject.is_empty() {
                        title.clone()
                    } else {
                        mail.subject.clone()
                    },
                    office: definition.and_then(|c| c.office.clone()),
                    priority: definition
                        .map(|c| c.priority.clone())
                        .unwrap_or_else(|| String::from("normal")),
                    fields,
                    caller: mail.sender.clone(),
                    call_id: call_id.clone(),
                    created_at: now,
                    due_at,
                });
                match created {
                    Ok(ticket) => {
                        info!(mail = %name, reference = %ticket.reference, %category, "mail became a ticket");
                        known.insert(call_id.clone(), ticket.reference.clone());
                        done.ticketed.push(ticket.reference.clone());
                        ticket.reference
                    }
                    Err(e) => {
                        warn!(mail = %name, error = %e, "the mail's ticket could not be stored; tried again later");
                        done.left += 1;
                        continue;
                    }
                }
            }
        };
        if mail.automatic {
            info!(mail = %name, %reference, "automatic mail: no acknowledgement");
        } else {
            write_acknowledgement(settings, &mail, &reference, &title, &call_id, now)?;
        }
        let seen = settings.maildir.join("cur").join(format!("{name}:2,S"));
        std::fs::rename(&path, &seen).map_err(io(&seen))?;
    }
    Ok(done)
}

/// The acknowledgement in the outbox, once: written in `tmp/`, renamed into `new/` under a
/// name of the mail's own, so a second pass over the same mail finds it there.
fn write_acknowledgement(
    settings: &EmailSettings,
    mail: &Mail,
    reference: &str,
    title: &str,
    call_id: &str,
    now: Timestamp,
) -> Result<(), EmailError> {
    let name = format!("{call_id}.eml");
    let target = settings.outbox.join("new").join(&name);
    let sent = settings.outbox.join("cur").join(format!("{name}:2,S"));
    if target.exists() || sent.exists() {
        return Ok(());
    }
    let bytes =
        acknowledgement(mail, reference, title, &settings.from, now).map_err(io(&target))?;
    let tmp = settings.outbox.join("tmp").join(&name);
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &target).map_err(io(&target))
}

/// The server's mail task: a pass every [`EmailSettings::poll`] until `cancel`. Errors are
/// logged and the next pass tries again.
pub async fn run(
    settings: EmailSettings,
    store: Arc<dyn Store>,
    program: Arc<std::sync::RwLock<Arc<Program>>>,
    cancel: CancellationToken,
) {
    let settings = Arc::new(settings);
    let prepared = {
        let settings = settings.clone();
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            prepare(&settings)?;
            known_mail(store.as_ref())
        })
        .await
    };
    let mut known = match prepared {
        Ok(Ok(known)) => known,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "e-mail is not read");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "e-mail is not read");
            return;
        }
    };
    info!(maildir = %settings.maildir.display(), outbox = %settings.outbox.display(), "reading e-mail");
    loop {
        let current = program.read().ok().map(|p| p.clone());
        if let Some(current) = current {
            let settings = settings.clone();
            let shared = store.clone();
            let mut mine = std::mem::take(&mut known);
            let joined = tokio::task::spawn_blocking(move || {
                let done = pass(
                    &settings,
                    &current.graph,
                    shared.as_ref(),
                    &mut mine,
                    Timestamp::now(),
                );
                (done, mine)
            })
            .await;
            match joined {
                Ok((done, mine)) => {
                    known = mine;
                    if let Err(e) = done {
                        warn!(error = %e, "an e-mail pass failed; tried again later");
                    }
                }
                Err(e) => {
                    warn!(error = %e, "an e-mail pass failed");
                    if let Ok(again) = known_mail(store.as_ref()) {
                        known = again;
                    }
                }
            }
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(settings.poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn category(title: &str) -> Category {
        Category {
            title: title.to_owned(),
            office: None,
            priority: String::from("normal"),
            sla_ms: None,
        }
    }

    fn categories() -> BTreeMap<String, Category> {
        [
            ("buche", "Strade, buche e marciapiedi"),
            ("illuminazione", "Illuminazione pubblica"),
            ("messaggio", "Messaggio in segreteria"),
            ("rifiuti", "Rifiuti abbandonati e cassonetti"),
            ("verde", "Verde pubblico, parchi e alberi"),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_owned(), category(t)))
        .collect()
    }

    fn mail(to: &str, subject: &str, body: &str) -> Mail {
        Mail {
            message_id: String::from("a@b"),
            sender: String::from("mario@example.org"),
            recipients: vec![to.to_owned()],
            subject: subject.to_owned(),
            body: body.to_owned(),
            automatic: false,
        }
    }

    #[test]
    fn the_recipient_address_wins_then_keywords_then_the_default() {
        let addresses =
            BTreeMap::from([(String::from("strade@comune.example"), String::from("buche"))]);
        let c = categories();
        let classify = |m: &Mail| classify(m, &c, &addresses, Some("messaggio"));
        assert_eq!(
            classify(&mail("strade@comune.example", "Lampione spento", "")).as_deref(),
            Some("buche"),
            "the address, whatever the words"
        );
        assert_eq!(
            classify(&mail(
                "urp@comune.example",
                "Lampione spento",
                "l'illuminazione non va"
            ))
            .as_deref(),
            Some("illuminazione")
        );
        assert_eq!(
            classify(&mail("urp@comune.example", "Una buca in via Roma", "")).as_deref(),
            Some("buche"),
            "buca meets buche"
        );
        assert_eq!(
            classify(&mail(
                "urp@comune.example",
                "Rifiuto",
                "Un rifiuto ingombrante nel parco"
            ))
            .as_deref(),
            Some("rifiuti"),
            "the subject counts twice"
        );
        assert_eq!(
            classify(&mail(
                "urp@comune.example",
                "Domanda",
                "Quando siete aperti?"
            ))
            .as_deref(),
            Some("messaggio")
        );
        // An unknown default: the first category by name.
        assert_eq!(
            super::classify(
                &mail("x@y.z", "Domanda", ""),
                &c,
                &BTreeMap::new(),
                Some("nessuna")
            )
            .as_deref(),
            Some("buche")
        );
        assert_eq!(
            super::classify(&mail("x@y.z", "", ""), &BTreeMap::new(), &addresses, None),
            None
        );
    }

    #[test]
    fn a_mail_is_read_with_its_sender_recipients_and_text() {
        let raw = "From: Mario Rossi <Mario@Example.org>\r\nTo: strade@comune.example\r\nCc: urp@comune.example\r\nSubject: =?utf-8?q?Buca_in_via_Pi=C3=B9?=\r\nMessage-ID: <123@example.org>\r\n\r\nUna buca profonda.\r\n";
        let mail = parse(raw.as_bytes(), 10_000).unwrap();
        assert_eq!(mail.sender, "mario@example.org");
        assert_eq!(
            mail.recipients,
            ["strade@comune.example", "urp@comune.example"]
        );
        assert_eq!(mail.subject, "Buca in via Più");
        assert_eq!(mail.body, "Una buca profonda.");
        assert_eq!(mail.message_id, "123@example.org");
        assert!(!mail.automatic);
        assert_eq!(parse(raw.as_bytes(), 10), Err(Rejected::TooLarge(10)));
        // mail-parser reads almost anything: garbage has no sender at least.
        assert!(parse(b"\x00\x01garbage", 10_000).is_err());
        assert_eq!(parse(b"", 10_000), Err(Rejected::Unreadable));
        assert_eq!(
            parse(b"To: a@b.c\r\nSubject: x\r\n\r\nbody", 10_000),
            Err(Rejected::NoSender)
        );
        let robot = "From: MAILER-DAEMON@example.org\r\nSubject: Undelivered\r\n\r\nx";
        assert!(parse(robot.as_bytes(), 10_000).unwrap().automatic);
        let bulk = "From: news@example.org\r\nPrecedence: bulk\r\n\r\nx";
        assert!(parse(bulk.as_bytes(), 10_000).unwrap().automatic);
    }

    #[test]
    fn the_acknowledgement_is_a_proper_message_carrying_the_reference() {
        let m = Mail {
            message_id: String::from("123@example.org"),
            ..mail("urp@comune.example", "Buca in via Più", "")
        };
        let at: Timestamp = "2026-12-05T09:00:00Z".parse().unwrap();
        let bytes = acknowledgement(
            &m,
            "PG-2026-000007",
            "Strade",
            "centralino@comune.example",
            at,
        )
        .unwrap();
        let back = mail_parser::MessageParser::default()
            .parse(&bytes[..])
            .unwrap();
        assert_eq!(
            back.to().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("mario@example.org")
        );
        assert_eq!(
            back.from()
                .and_then(|a| a.first())
                .and_then(|a| a.address()),
            Some("centralino@comune.example")
        );
        assert_eq!(back.subject(), Some("Re: Buca in via Più [PG-2026-000007]"));
        assert_eq!(back.in_reply_to().as_text(), Some("123@example.org"));
        assert!(
            back.message_id()
                .is_some_and(|id| id.ends_with(".ack@comune.example"))
        );
        assert_eq!(back.date().map(|d| d.to_timestamp()), Some(at.as_second()));
        assert!(back.body_text(0).unwrap().contains("PG-2026-000007"));
        assert_eq!(
            back.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
    }

    #[test]
    fn the_call_id_is_the_same_for_every_copy_and_stems_meet() {
        assert_eq!(mail_call_id("<a@b>"), mail_call_id("<a@b>"));
        assert_ne!(mail_call_id("<a@b>"), mail_call_id("<a@c>"));
        assert_eq!(mail_call_id("x").len(), "email-".len() + 24);
        assert_eq!(stem("buche"), "buc");
        assert_eq!(stem("rifiuti"), "rifiu");
        assert_eq!(
            words("Più_Città, l'albero!"),
            ["piu", "citta", "l", "albero"]
        );
    }
}
