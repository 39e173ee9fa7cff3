//! How a flow reads as text: the chat's pure parts (no IO), tested on their own.
//!
//! ```text
//!   Play { media: Speech { text } }  ──► prompt_text ──► the message, as the TTS would say it
//!   Play { media: Audio { path } }   ──►             ──► a note naming the prompt (no transcript)
//!   Awaiting::Menu { keys }   + the last message ──► buttons: key and the words that name it
//!   Awaiting::Offer { choices }                  ──► ("Per parlare con l'ufficio, prema 1" → 1)
//!   the citizen's text ──► clean_input (length, control characters) ──► Event::Text
//! ```

use serde::Serialize;

use crate::engine::{Awaiting, Media};

/// A button of a menu or of offered times: what it sends and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Button {
    pub key: String,
    pub label: String,
}

/// What the citizen may send now, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// Nothing to answer (the flow is busy or over).
    None,
    /// Buttons (a menu, offered times).
    Buttons { buttons: Vec<Button> },
    /// Digits for a `collect` (the page asks for digits; typed text is checked by the flow).
    Digits { min: u32, max: u32 },
    /// Free text: what a `record` would record, written instead.
    Text,
}

/// The text of a prompt as the chat shows it: speech as it would be said; an audio prompt,
/// which has no transcript in the flows, as a note naming it (`fallback` in the page's words).
pub fn prompt_text(prompt: &str, media: &Media, audio_note: &str) -> String {
    match media {
        Media::Speech { text, .. } => text.trim().to_owned(),
        Media::Audio { .. } => format!("({audio_note}: {})", readable_name(prompt)),
    }
}

/// `segnala_categorie` → `segnala categorie`; `system.offer` → `offer`.
fn readable_name(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).replace('_', " ")
}

/// The buttons for what the flow waits for, labelled from the prompt that asked (`said`).
pub fn answer_for(awaiting: &Awaiting, said: &str, recording: bool) -> Answer {
    if recording {
        return Answer::Text;
    }
    match awaiting {
        Awaiting::Nothing => Answer::None,
        Awaiting::Menu { keys } => Answer::Buttons {
            buttons: keys
                .iter()
                .map(|(key, target)| Button {
                    key: key.clone(),
                    label: label_for(key, said).unwrap_or_else(|| readable_name(target)),
                })
                .collect(),
        },
        Awaiting::Collect {
            min_digits,
            max_digits,
        } => Answer::Digits {
            min: *min_digits,
            max: *max_digits,
        },
        Awaiting::Offer { choices } => Answer::Buttons {
            buttons: (1..=*choices)
                .map(|n| {
                    let key = n.to_string();
                    Button {
                        label: label_for(&key, said).unwrap_or_else(|| key.clone()),
                        key,
                    }
                })
                .collect(),
        },
    }
}

/// Words that say "press" before a key, in the flows' languages.
const PRESS_WORDS: [&str; 7] = [
    "prema", "premi", "premere", "tasto", "press", "key", "digiti",
];

/// The part of `said` that names `key`: the clause (between `.`, `;`, `?`, `!`) where the key
/// follows a word such as "prema" or "press", else the clause where it stands alone; without
/// the "prema N" itself and the punctuation around it.
pub fn label_for(key: &str, said: &str) -> Option<String> {
    let clauses: Vec<&str> = said
        .split(['.', ';', '?', '!', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let words_of = |clause: &str| -> Vec<String> {
        clause
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| c.is_ascii_punctuation() && c != '*' && c != '#')
                    .to_lowercase()
            })
            .collect()
    };
    let pressed = |clause: &&&str| {
        let words = words_of(clause);
        words
            .windows(2)
            .any(|pair| pair[1] == key && PRESS_WORDS.contains(&pair[0].as_str()))
    };
    let alone = |clause: &&&str| words_of(clause).iter().any(|w| w == key);
    let clause = clauses
        .iter()
        .find(pressed)
        .or_else(|| clauses.iter().find(alone))?;
    // The clause without "prema N" (the press word and the word after it) and the key.
    let mut kept: Vec<&str> = Vec::new();
    let mut skip_next = false;
    for word in clause.split_whitespace() {
        let bare = word
            .trim_matches(|c: char| c.is_ascii_punctuation() && c != '*' && c != '#')
            .to_lowercase();
        if std::mem::take(&mut skip_next) || bare == key {
            continue;
        }
        if PRESS_WORDS.contains(&bare.as_str()) {
            skip_next = true;
            continue;
        }
        kept.push(word);
    }
    let label = kept
        .join(" ")
        .trim_end_matches([',', ':', ' '])
        .trim()
        .to_owned();
    (!label.is_empty()).then_some(label)
}

/// Why a citizen's text was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputProblem {
    Empty,
    TooLong,
}

/// The citizen's text as the flow gets it: control characters gone (line breaks kept as
/// spaces), trimmed, at most `max_chars` characters.
pub fn clean_input(text: &str, max_chars: usize) -> Result<String, InputProblem> {
    if text.chars().count() > max_chars {
        return Err(InputProblem::TooLong);
    }
    let cleaned: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return Err(InputProblem::Empty);
    }
    Ok(cleaned.to_owned())
}

/// A telephone number a citizen may give to be called back: digits, an optional leading `+`,
/// spaces ignored, 6 to 15 digits. The number as kept (no spaces), or `None`.
pub fn phone_number(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    let fits = (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    fits.then_some(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICE_MENU: &str = "Ufficio di prova. Per parlare con l'ufficio, prema 1. Per attendere in coda, prema 2. Per la sala conferenze, prema 3. Per essere richiamato, prema 4. Per prenotare un appuntamento, prema 5.";

    #[test]
    fn a_menu_becomes_buttons_named_by_its_prompt() {
        let awaiting = Awaiting::Menu {
            keys: vec![
                ("1".into(), "passa".into()),
                ("4".into(), "richiamata".into()),
                ("9".into(), "altro_ufficio".into()),
            ],
        };
        assert_eq!(
            answer_for(&awaiting, OFFICE_MENU, false),
            Answer::Buttons {
                buttons: vec![
                    Button {
                        key: "1".into(),
                        label: "Per parlare con l'ufficio".into()
                    },
                    Button {
                        key: "4".into(),
                        label: "Per essere richiamato".into()
                    },
                    // Not in the prompt: the state it leads to.
                    Button {
                        key: "9".into(),
                        label: "altro ufficio".into()
                    },
                ]
            }
        );
    }

    #[test]
    fn offered_times_are_labelled_by_their_time_and_english_works_too() {
        let said = "Monday 7 December at 9, press 1; at 9:30, press 2; for other times, press 3.";
        let Answer::Buttons { buttons } = answer_for(&Awaiting::Offer { choices: 3 }, said, false)
        else {
            panic!("buttons");
        };
        let labels: Vec<&str> = buttons.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Monday 7 December at 9", "at 9:30", "for other times"]
        );
        // "7" is in the first clause, but not after "press": no label from there.
        assert_eq!(
            label_for("7", said).as_deref(),
            Some("Monday December at 9")
        );
    }

    #[test]
    fn collects_ask_for_digits_and_recordings_for_text() {
        let collect = Awaiting::Collect {
            min_digits: 1,
            max_digits: 5,
        };
        assert_eq!(
            answer_for(&collect, "Il codice della via.", false),
            Answer::Digits { min: 1, max: 5 }
        );
        assert_eq!(answer_for(&Awaiting::Nothing, "", true), Answer::Text);
        assert_eq!(answer_for(&Awaiting::Nothing, "", false), Answer::None);
    }

    #[test]
    fn prompts_read_as_their_text_or_a_note_for_audio() {
        let speech = Media::Speech {
            text: " Arrivederci. ".into(),
            language: "it".into(),
        };
        assert_eq!(prompt_text("p", &speech, "audio"), "Arrivederci.");
        let audio = Media::Audio {
            path: "prompts/benvenuto.wav".into(),
        };
        assert_eq!(
            prompt_text("benvenuto_sera", &audio, "messaggio registrato"),
            "(messaggio registrato: benvenuto sera)"
        );
    }

    #[test]
    fn input_is_bounded_and_cleaned() {
        assert_eq!(clean_input("  12\u{7}3\n4 ", 10), Ok(String::from("123 4")));
        assert_eq!(clean_input(" \n\t ", 10), Err(InputProblem::Empty));
        assert_eq!(
            clean_input(&"é".repeat(11), 10),
            Err(InputProblem::TooLong),
            "characters, not bytes"
        );
        assert_eq!(clean_input(&"é".repeat(10), 10).map(|s| s.len()), Ok(20));
    }

    #[test]
    fn phone_numbers_are_digits_with_an_optional_plus() {
        assert_eq!(
            phone_number("+39 333 123 4567").as_deref(),
            Some("+393331234567")
        );
        assert_eq!(phone_number("075075075").as_deref(), Some("075075075"));
        for bad in [
            "",
            "12345",
            "+39abc4567",
            "1234567890123456",
            "++391234567",
            "sip:1@x",
        ] {
            assert_eq!(phone_number(bad), None, "{bad}");
        }
    }
}
