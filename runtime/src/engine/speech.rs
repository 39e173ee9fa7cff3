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
    /// The time the caller chose was booked by someone else in the meantime.
    SlotTaken,
    /// The caller asked for other times and there are none: the first ones again.
    NoMoreSlots,
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
            SystemText::SlotTaken => "slot_taken",
            SystemText::NoMoreSlots => "no_more_slots",
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
            (SystemText::SlotTaken, "en") => {
                "Sorry, that time has just been taken. Here are the times still free."
            }
            (SystemText::SlotTaken, _) => {
                "Ci dispiace, questo orario è appena stato preso. Ecco gli orari ancora liberi."
            }
            (SystemText::NoMoreSlots, "en") => {
                "There are no other free times. Here are the first ones again."
            }
            (SystemText::NoMoreSlots, _) => {
                "Non ci sono altri orari liberi. Ecco di nuovo i primi."
            }
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

/// A local time of day as said after a date: `alle 9`, `alle 11 e 20`, `all'una`,
/// `a mezzogiorno`, `a mezzanotte`; `at 9:00`, `at 11:20`, `at noon`, `at midnight`.
fn spoken_clock(hour: i8, minute: i8, language: &str) -> String {
    if language == "en" {
        return match (hour, minute) {
            (12, 0) => String::from("at noon"),
            (0, 0) => String::from("at midnight"),
            (h, m) => format!("at {h}:{m:02}"),
        };
    }
    let hour_words = match hour {
        0 => String::from("a mezzanotte"),
        1 => String::from("all'una"),
        12 => String::from("a mezzogiorno"),
        h => format!("alle {h}"),
    };
    if minute == 0 {
        hour_words
    } else {
        format!("{hour_words} e {minute}")
    }
}

/// The day of the month as said before the month: Italian says the first `primo`.
fn spoken_day(day: i8, language: &str) -> String {
    if day == 1 && language != "en" {
        String::from("primo")
    } else {
        day.to_string()
    }
}

/// The local time of `at` in `zone` (Rome when missing or unknown).
fn local(at: Timestamp, zone: Option<&str>) -> jiff::ZonedDateTime {
    let tz = zone
        .and_then(centralino_compiler::calendar::timezone)
        .unwrap_or_else(centralino_compiler::calendar::default_timezone);
    at.to_zoned_datetime(tz)
}

/// A date and time as a person would say it, in `zone`: `martedì primo dicembre alle 9 e 20` /
/// `Tuesday 1 December at 9:20`. With `month_known` the month is left out (`martedì 8 alle 11`),
/// as when it was just said for the time before.
fn spoken_date_time(local: &jiff::ZonedDateTime, language: &str, month_known: bool) -> String {
    let weekday = usize::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
    let month = usize::try_from(local.month() - 1).unwrap_or(0);
    let (day_names, month_names) = if language == "en" {
        (DAYS, MONTHS)
    } else {
        (GIORNI, MESI)
    };
    let day = day_names.get(weekday).copied().unwrap_or("");
    let date = if month_known {
        format!("{day} {}", spoken_day(local.day(), language))
    } else {
        format!(
            "{day} {} {}",
            spoken_day(local.day(), language),
            month_names.get(month).copied().unwrap_or("")
        )
    };
    format!(
        "{date} {}",
        spoken_clock(local.hour(), local.minute(), language)
    )
}

/// A booked time as a person would say it, in the calendar's zone:
/// `martedì primo dicembre alle 9 e 20` / `Tuesday 1 December at 9:20`.
pub fn spoken_time(at: Timestamp, zone: Option<&str>, language: &str) -> String {
    spoken_date_time(&local(at, zone), language, false)
}

/// The times offered to a caller, each with its key, and the key for more:
/// `lunedì 7 dicembre alle 9, prema 1; martedì 8 alle 11 e 20, prema 2; per altri orari,
/// prema 3.` The month is said again only when it changes; the time alone when the day is the
/// one just said (`alle 9 e 20, prema 2`).
pub fn offer_list(starts: &[Timestamp], zone: Option<&str>, language: &str, more: bool) -> String {
    let english = language == "en";
    let press = if english { "press" } else { "prema" };
    let mut parts = Vec::with_capacity(starts.len() + 1);
    let mut previous: Option<jiff::ZonedDateTime> = None;
    for (i, start) in starts.iter().enumerate() {
        let here = local(*start, zone);
        let words = match &previous {
            Some(before) if before.date() == here.date() => {
                spoken_clock(here.hour(), here.minute(), language)
            }
            Some(before) if before.year() == here.year() && before.month() == here.month() => {
                spoken_date_time(&here, language, true)
            }
            _ => spoken_date_time(&here, language, false),
        };
        parts.push(format!("{words}, {press} {}", i + 1));
        previous = Some(here);
    }
    if more {
        let words = if english {
            "for other times"
        } else {
            "per altri orari"
        };
        parts.push(format!("{words}, {press} {}", starts.len() + 1));
    }
    let mut text = parts.join("; ");
    text.push('.');
    // The list starts the sentence.
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = text.parse().expect("a date and time");
        dt.to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Rome").expect("Rome"))
            .expect("a time in Rome")
            .timestamp()
    }

    fn said(text: &str, language: &str) -> String {
        spoken_time(at(text), Some("Europe/Rome"), language)
    }

    #[test]
    fn italian_times_are_said_as_people_say_them() {
        let cases = [
            ("2026-12-07T09:00", "lunedì 7 dicembre alle 9"),
            ("2026-12-08T11:20", "martedì 8 dicembre alle 11 e 20"),
            ("2026-12-01T09:20", "martedì primo dicembre alle 9 e 20"),
            ("2026-01-01T01:00", "giovedì primo gennaio all'una"),
            ("2026-01-02T01:30", "venerdì 2 gennaio all'una e 30"),
            ("2026-06-12T12:00", "venerdì 12 giugno a mezzogiorno"),
            ("2026-06-12T12:40", "venerdì 12 giugno a mezzogiorno e 40"),
            ("2026-03-31T00:00", "martedì 31 marzo a mezzanotte"),
            ("2026-10-25T13:05", "domenica 25 ottobre alle 13 e 5"),
            ("2026-08-15T18:45", "sabato 15 agosto alle 18 e 45"),
            ("2026-02-28T07:00", "sabato 28 febbraio alle 7"),
            ("2028-02-29T10:10", "martedì 29 febbraio alle 10 e 10"),
        ];
        for (time, words) in cases {
            assert_eq!(said(time, "it"), words, "{time}");
        }
    }

    #[test]
    fn english_times_keep_the_clock() {
        let cases = [
            ("2026-12-07T09:00", "Monday 7 December at 9:00"),
            ("2026-12-08T11:20", "Tuesday 8 December at 11:20"),
            ("2026-12-01T09:05", "Tuesday 1 December at 9:05"),
            ("2026-01-01T01:00", "Thursday 1 January at 1:00"),
            ("2026-06-12T12:00", "Friday 12 June at noon"),
            ("2026-06-12T12:30", "Friday 12 June at 12:30"),
            ("2026-03-31T00:00", "Tuesday 31 March at midnight"),
            ("2026-10-25T13:05", "Sunday 25 October at 13:05"),
        ];
        for (time, words) in cases {
            assert_eq!(said(time, "en"), words, "{time}");
        }
    }

    #[test]
    fn a_language_without_words_of_its_own_is_said_in_italian() {
        assert_eq!(said("2026-12-07T09:00", "de"), "lunedì 7 dicembre alle 9");
    }

    #[test]
    fn the_time_is_said_in_the_calendars_zone() {
        // 08:00 UTC is 9 in Rome in winter, 10 in summer, and 3 in New York.
        let winter: Timestamp = "2026-12-07T08:00:00Z".parse().expect("time");
        let summer: Timestamp = "2026-07-06T08:00:00Z".parse().expect("time");
        assert_eq!(
            spoken_time(winter, Some("Europe/Rome"), "it"),
            "lunedì 7 dicembre alle 9"
        );
        assert_eq!(
            spoken_time(summer, Some("Europe/Rome"), "it"),
            "lunedì 6 luglio alle 10"
        );
        assert_eq!(
            spoken_time(winter, Some("America/New_York"), "en"),
            "Monday 7 December at 3:00"
        );
    }

    #[test]
    fn an_offer_names_each_time_once_with_its_key() {
        let starts = [
            at("2026-12-07T09:00"),
            at("2026-12-08T11:20"),
            at("2026-12-08T11:40"),
        ];
        assert_eq!(
            offer_list(&starts, Some("Europe/Rome"), "it", true),
            "Lunedì 7 dicembre alle 9, prema 1; martedì 8 alle 11 e 20, prema 2; \
             alle 11 e 40, prema 3; per altri orari, prema 4."
        );
        assert_eq!(
            offer_list(&starts, Some("Europe/Rome"), "en", false),
            "Monday 7 December at 9:00, press 1; Tuesday 8 at 11:20, press 2; \
             at 11:40, press 3."
        );
    }

    #[test]
    fn an_offer_says_the_month_again_when_it_changes() {
        let starts = [at("2026-11-30T09:00"), at("2026-12-01T09:00")];
        assert_eq!(
            offer_list(&starts, None, "it", true),
            "Lunedì 30 novembre alle 9, prema 1; martedì primo dicembre alle 9, prema 2; \
             per altri orari, prema 3."
        );
    }
}
