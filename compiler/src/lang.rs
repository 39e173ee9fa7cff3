//! The language diagnostics speak (English or Italian) and their words: Project Fluent
//! resources `locales/en/diagnostics.ftl` and `locales/it/diagnostics.ftl`, built into the
//! compiler and read once.
//!
//! ```text
//!  --lang it | LC_ALL / LC_MESSAGES / LANG=it_IT.UTF-8 ──► Lang::It ──► bundle (it) ──► words
//!  unset or unknown ─────────────────────────────────────► Lang::En ──► bundle (en)
//! ```
//!
//! A message missing from a language (a test makes sure none is) falls back to English,
//! then to its id, so a diagnostic is never lost for want of words.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use serde::Serialize;

/// A language diagnostics can be worded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    It,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::It];

    /// The language's code, as `--lang` takes it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::It => "it",
        }
    }

    /// The Fluent resource of the language.
    pub fn resource(self) -> &'static str {
        match self {
            Lang::En => include_str!("../locales/en/diagnostics.ftl"),
            Lang::It => include_str!("../locales/it/diagnostics.ftl"),
        }
    }

    /// A language from a tag such as `it`, `IT`, `it-IT` or a locale such as `it_IT.UTF-8`;
    /// `None` for a language the diagnostics do not speak (`C`, `de_DE`, ...).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "it" => Some(Lang::It),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of the locale variables, given in POSIX order of precedence (`LC_ALL`,
    /// `LC_MESSAGES`, `LANG`): the first one set (not empty) decides; English when none is
    /// set or the one that decides names another language.
    pub fn from_locale<'a>(vars: impl IntoIterator<Item = Option<&'a str>>) -> Lang {
        vars.into_iter()
            .flatten()
            .find(|value| !value.trim().is_empty())
            .and_then(Lang::from_tag)
            .unwrap_or_default()
    }
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_tag(s).ok_or_else(|| format!("unknown language `{s}`: use `it` or `en`"))
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

fn build(lang: Lang) -> FluentBundle<FluentResource> {
    let id = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Terminals and snapshots show the text as it is: no Unicode isolation marks around values.
    bundle.set_use_isolating(false);
    // A resource that does not fully parse keeps the messages that do (a test checks none fails).
    let resource = FluentResource::try_new(lang.resource().to_owned())
        .unwrap_or_else(|(resource, _errors)| resource);
    // Two messages with the same id keep the first (a test checks there are none).
    let _ = bundle.add_resource(resource);
    bundle
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static BUNDLES: OnceLock<[FluentBundle<FluentResource>; 2]> = OnceLock::new();
    let [en, it] = BUNDLES.get_or_init(|| [build(Lang::En), build(Lang::It)]);
    match lang {
        Lang::En => en,
        Lang::It => it,
    }
}

/// The words of message `id` (or of its `attribute`) in `lang`, with `args` filled in.
pub fn text(
    lang: Lang,
    id: &str,
    attribute: Option<&str>,
    args: Option<&FluentArgs<'_>>,
) -> String {
    for lang in [lang, Lang::En] {
        let bundle = bundle(lang);
        let pattern = bundle.get_message(id).and_then(|message| match attribute {
            None => message.value(),
            Some(name) => message.get_attribute(name).map(|a| a.value()),
        });
        if let Some(pattern) = pattern {
            let mut errors = Vec::new();
            return bundle
                .format_pattern(pattern, args, &mut errors)
                .into_owned();
        }
    }
    match attribute {
        None => id.to_owned(),
        Some(name) => format!("{id}.{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_locales() {
        assert_eq!(Lang::from_tag("it"), Some(Lang::It));
        assert_eq!(Lang::from_tag("it_IT.UTF-8"), Some(Lang::It));
        assert_eq!(Lang::from_tag("IT-it"), Some(Lang::It));
        assert_eq!(Lang::from_tag("en_GB"), Some(Lang::En));
        assert_eq!(Lang::from_tag("C.UTF-8"), None);
        assert_eq!(
            Lang::from_locale([None, None, Some("it_IT.UTF-8")]),
            Lang::It
        );
        assert_eq!(Lang::from_locale([Some(""), None, Some("it_IT")]), Lang::It);
        assert_eq!(
            Lang::from_locale([Some("C"), None, Some("it_IT")]),
            Lang::En
        );
        assert_eq!(
            Lang::from_locale([None, None, Some("de_DE.UTF-8")]),
            Lang::En
        );
        assert_eq!(Lang::from_locale([None, None, None]), Lang::En);
        assert!("fr".parse::<Lang>().is_err());
    }

    #[test]
    fn words_in_both_languages() {
        let mut args = FluentArgs::new();
        args.set("errors", 2);
        assert_eq!(
            text(Lang::En, "summary-errors", None, Some(&args)),
            "2 errors"
        );
        assert_eq!(
            text(Lang::It, "summary-errors", None, Some(&args)),
            "2 errori"
        );
        args.set("errors", 1);
        assert_eq!(
            text(Lang::It, "summary-errors", None, Some(&args)),
            "1 errore"
        );
        assert_eq!(
            text(Lang::It, "no-such-message", None, None),
            "no-such-message"
        );
    }
}
