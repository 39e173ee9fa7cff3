//! The console's words in Italian (first) and English, and how a page picks its language.
//!
//! ```text
//!   page module: WORDS = [("tickets.title", "Segnalazioni", "Tickets"), ...]
//!        │ all pages' words, one table (Console::new; a key given twice is a test failure)
//!        ▼
//!   template: {{ t("tickets.title") }} ──► the word in the page's `lang` ("it" | "en")
//! ```
//!
//! The language is the `centralino_lang` cookie (set by the switch in the page header, or on
//! the login page by its `?lang=` link), else the browser's `Accept-Language` (the first of
//! Italian and English it prefers), else Italian. A key with no word renders as the key
//! itself, and a test fails on it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;

/// One word: its key, the Italian, the English.
pub type Word = (&'static str, &'static str, &'static str);

/// The cookie that keeps a person's language.
pub const LANG_COOKIE: &str = "centralino_lang";

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    It,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }

    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "it" => Some(Lang::It),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language a request asks for: its cookie, else its `Accept-Language`, else Italian.
    pub fn of(headers: &HeaderMap) -> Lang {
        super::cookie_value(headers, LANG_COOKIE)
            .and_then(Lang::parse)
            .or_else(|| {
                headers
                    .get_all(axum::http::header::ACCEPT_LANGUAGE)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .find_map(Lang::preferred)
            })
            .unwrap_or_default()
    }

    /// The console language an `Accept-Language` value prefers (`en-GB,en;q=0.9,it;q=0.8`):
    /// the highest weight among `it*` and `en*` tags, the earlier on a tie; `None` when it
    /// names neither (or only with weight 0).
    pub fn preferred(accept: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u16)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            let Some(lang) = Lang::parse(&primary) else {
                continue;
            };
            // Weights in thousandths (`q=0.8` is 800); a weight that is not one counts as 1.
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .map_or(1000, |q| (q * 1000.0).round() as u16);
            if weight > 0 && best.is_none_or(|(_, top)| weight > top) {
                best = Some((lang, weight));
            }
        }
        best.map(|(lang, _)| lang)
    }
}

/// Every page's words, by key.
#[derive(Debug, Default)]
pub struct Dictionary {
    words: HashMap<&'static str, (&'static str, &'static str)>,
}

impl Dictionary {
    /// The dictionary of `tables`; a key given twice keeps its first word (a test checks
    /// there are none).
    pub fn new<'a>(tables: impl IntoIterator<Item = &'a [Word]>) -> Dictionary {
        let mut words = HashMap::new();
        for table in tables {
            for (key, it, en) in table {
                words.entry(*key).or_insert((*it, *en));
            }
        }
        Dictionary { words }
    }

    pub fn word(&self, key: &str, lang: Lang) -> Option<&'static str> {
        self.words.get(key).map(|(it, en)| match lang {
            Lang::It => *it,
            Lang::En => *en,
        })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.words.contains_key(key)
    }

    /// Adds `t(key)` to `templates`: the word in the page's `lang` variable.
    pub fn install(self: &Arc<Self>, templates: &mut minijinja::Environment<'static>) {
        let dictionary = self.clone();
        templates.add_function("t", move |state: &minijinja::State, key: &str| -> String {
            let lang = state
                .lookup("lang")
                .and_then(|value| value.as_str().and_then(Lang::parse))
                .unwrap_or_default();
            match dictionary.word(key, lang) {
                Some(word) => word.to_owned(),
                None => {
                    tracing::warn!(key, "console word missing");
                    key.to_owned()
                }
            }
        });
    }
}

/// The words every page shares (header, navigation, common buttons).
pub const COMMON: &[Word] = &[
    ("app.name", "Centralino", "Centralino"),
    ("app.logout", "Esci", "Log out"),
    ("app.switch_language", "English", "Italiano"),
    ("app.save", "Salva", "Save"),
    ("app.cancel", "Annulla", "Cancel"),
    ("app.filter", "Filtra", "Filter"),
    ("app.none", "Nessuno", "None"),
    ("app.back", "Indietro", "Back"),
    ("app.csv", "Esporta CSV", "Export CSV"),
    (
        "app.forbidden",
        "Il suo ruolo non permette questa pagina.",
        "Your role does not allow this page.",
    ),
    (
        "app.not_your_office",
        "Può solo leggere: non è del suo ufficio.",
        "Read only: it is not your office's.",
    ),
    ("login.title", "Accesso", "Log in"),
    ("login.heading", "Accesso del personale", "Staff log in"),
    ("login.name", "Nome utente", "User name"),
    ("login.password", "Password", "Password"),
    ("login.submit", "Entra", "Log in"),
    (
        "login.expired",
        "Il modulo è scaduto: riprovi.",
        "The form has expired: please try again.",
    ),
    (
        "login.throttled",
        "Troppi tentativi: riprovi tra {minutes} minuti.",
        "Too many attempts: try again in {minutes} minutes.",
    ),
    (
        "login.unavailable",
        "Accesso non disponibile: avvisare l'amministratore.",
        "Logging in is not available: tell the administrator.",
    ),
    (
        "login.wrong",
        "Nome o password non corretti.",
        "Wrong user name or password.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_picks_the_language_and_italian_comes_first() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of(&headers), Lang::It);
        headers.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_static("a=1; centralino_lang=en"),
        );
        assert_eq!(Lang::of(&headers), Lang::En);
        headers.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_static("centralino_lang=fr"),
        );
        assert_eq!(Lang::of(&headers), Lang::It);
    }

    #[test]
    fn without_the_cookie_the_browser_language_is_followed_italian_first() {
        let cases = [
            ("en-GB,en;q=0.9", Some(Lang::En)),
            ("it-IT,it;q=0.9,en;q=0.8", Some(Lang::It)),
            ("de-DE,en;q=0.7,it;q=0.8", Some(Lang::It)),
            ("fr, EN-us;q=0.5", Some(Lang::En)),
            ("en;q=0.5, it;q=0.5", Some(Lang::En)),
            ("en;q=0, de", None),
            ("de-DE,fr;q=0.9", None),
            ("en;q=bad", Some(Lang::En)),
            ("", None),
        ];
        for (accept, expected) in cases {
            assert_eq!(Lang::preferred(accept), expected, "{accept}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            axum::http::HeaderValue::from_static("en-US,en;q=0.9"),
        );
        assert_eq!(Lang::of(&headers), Lang::En);
        // The switch (the cookie) wins over the browser.
        headers.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_static("centralino_lang=it"),
        );
        assert_eq!(Lang::of(&headers), Lang::It);
        headers.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            axum::http::HeaderValue::from_static("de"),
        );
        headers.remove(axum::http::header::COOKIE);
        assert_eq!(Lang::of(&headers), Lang::It);
    }

    #[test]
    fn templates_say_the_word_of_the_page_language() {
        let dictionary = Arc::new(Dictionary::new([COMMON]));
        let mut templates = minijinja::Environment::new();
        dictionary.install(&mut templates);
        let render = |lang: &str| {
            templates
                .render_str(
                    "{{ t('app.logout') }}",
                    minijinja::context! { lang => lang },
                )
                .unwrap_or_default()
        };
        assert_eq!(render("it"), "Esci");
        assert_eq!(render("en"), "Log out");
    }
}
