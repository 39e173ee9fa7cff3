//! Words the engine says by itself (not written in a flow), and times read aloud.

use jiff::Timestamp;

/// Built-in messages.
#[derive(Debug, Clone, Copy)]
pub enum SystemText {
    InvalidChoice,
    Goodbye,
    /// Staff pass the call on (a blind transfer): the caller waits for the next person.
    Transferring,
    /// A call passed on found nobody: the call ends.
    NobodyAnswered,
    /// Staff dialled `*21`.
    NowAway,
    /// Staff dialled `*20`.
    NowBack,
    /// A conference room asks for its PIN.
    ConferencePin,
    /// A wrong PIN: asked again.
    ConferenceWrongPin,
    /// The last wrong PIN: the flow goes on without the room.
    ConferenceRefused,
    /// In the room: how to mute.
    ConferenceWelcome,
}

impl SystemText {
    pub fn key(self) -> &'static str {
        match self {
            SystemText::InvalidChoice => "invalid_choice",
            SystemText::Goodbye => "goodbye",
            SystemText::Transferring => "transferring",
            SystemText::NobodyAnswered => "nobody_answered",
            SystemText::NowAway => "now_away",
            SystemText::NowBack => "now_back",
            SystemText::ConferencePin => "conference_pin",
            SystemText::ConferenceWrongPin => "conference_wrong_pin",
            SystemText::ConferenceRefused => "conference_refused",
            SystemText::ConferenceWelcome => "conference_welcome",
        }
    }

    /// The words in `language` (Italian when the language is not known).
    pub fn words(self, language: &str) -> &'static str {
        match (self, language) {
            (SystemText::InvalidChoice, "en") => "Sorry, that is not a valid choice.",
            (SystemText::InvalidChoice, _) => "Scelta non valida.",
            (SystemText::Goodbye, "en") => "Thank you for calling. Goodbye.",
            (SystemText::Goodbye, _) => "Grazie per aver chiamato. Arrivederci.",
            (SystemText::Transferring, "en") => "Please hold: I am putting you through.",
            (SystemText::Transferring, _) => "Attenda in linea: la sto trasferendo.",
            (SystemText::NobodyAnswered, "en") => {
                "Sorry, nobody can answer now. Please call again later. Goodbye."
            }
            (SystemText::NowAway, "en") => "You are away: no calls will be put through to you.",
            (SystemText::NowAway, _) => "Ora risulta assente: non le saranno passate chiamate.",
            (SystemText::NowBack, "en") => "Welcome back: calls will be put through to you again.",
            (SystemText::NowBack, _) => "Bentornato: le chiamate le saranno di nuovo passate.",
            (SystemText::ConferencePin, "en") => "Please enter the room's PIN, then hash.",
            (SystemText::ConferencePin, _) => "Digiti il codice della sala, poi cancelletto.",
            (SystemText::ConferenceWrongPin, "en") => "That PIN is not right. Please try again.",
            (SystemText::ConferenceWrongPin, _) => "Il codice non è giusto. Riprovi.",
            (SystemText::ConferenceRefused, "en") => "That PIN is not right.",
            (SystemText::ConferenceRefused, _) => "Il codice non è giusto.",
            (SystemText::ConferenceWelcome, "en") => {
                "You are in the room. To mute or unmute your microphone, press star six."
            }
            (SystemText::ConferenceWelcome, _) => {
                "È nella sala. Per spegnere o riaccendere il microfono prema asterisco sei."
            }
            (SystemText::NobodyAnswered, _) => {
                "Ci scusi, in questo momento nessuno può rispondere. Richiami più tardi. Arrivederci."
            }
        }
    }
}

/// A waiting caller's place in a queue (1: next), as said to them.
pub fn queue_position(position: u32, language: &str) -> String {
    match (position, language) {
        (1, "en") => String::from("You are next in line."),
        (n, "en") => format!("You are number {n} in line."),
        (1, _) => String::from("Lei è il primo in attesa."),
        (n, _) => format!("Lei è il numero {n} in attesa."),
    }
}

const MESI: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];
const GIORNI: [&str; 7] = [
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "domenica",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A booked time as a person would say it, in the calendar's zone:
/// `martedì 1 dicembre alle 9:20` / `Tuesday 1 December at 9:20`.
pub fn spoken_time(at: Timestamp, zone: Option<&str>, language: &str) -> String {
    let tz = zone
        .and_then(centralino_compiler::calendar::timezone)
        .unwrap_or_else(centralino_compiler::calendar::default_timezone);
    let local = at.to_zoned_datetime(tz);
    let weekday = usize::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
    let month = usize::try_from(local.month() - 1).unwrap_or(0);
    let (day_names, month_names, at_word) = if language == "en" {
        (DAYS, MONTHS, "at")
    } else {
        (GIORNI, MESI, "alle")
    };
    format!(
        "{} {} {} {} {}:{:02}",
        day_names.get(weekday).copied().unwrap_or(""),
        local.day(),
        month_names.get(month).copied().unwrap_or(""),
        at_word,
        local.hour(),
        local.minute()
    )
}
