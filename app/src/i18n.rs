//! Visita's one mechanism for text in the patient's language. The strings
//! live in `app/locales/<code>.toml`; `build.rs` turns them into the `Lang`
//! and `Key` enums below and refuses to build when a language lacks a key.
//! Pages read the current language from context ([`use_lang`]) and look
//! text up with [`t`] or [`t_with`].

use leptos::prelude::*;

include!(concat!(env!("OUT_DIR"), "/i18n.rs"));

impl Lang {
    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.trim();
        Lang::ALL
            .iter()
            .copied()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }

    /// The first language of an `Accept-Language` header that we speak
    /// (`fr-CH,fr;q=0.9,en;q=0.8` → French). Order is trusted as given;
    /// browsers list by preference.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        header.split(',').find_map(|item| {
            let tag = item.split(';').next()?.trim();
            Lang::from_code(tag).or_else(|| Lang::from_code(tag.split('-').next()?))
        })
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// `key`'s text with each `{name}` replaced by its value.
pub fn fill(lang: Lang, key: Key, values: &[(&str, &str)]) -> String {
    let mut out = text(lang, key).to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The language of the page being shown, as a signal the pages share.
#[derive(Debug, Clone, Copy)]
pub struct CurrentLang(pub RwSignal<Lang>);

/// Makes `lang` the page's language (called once per patient page).
pub fn provide_lang(lang: Lang) -> RwSignal<Lang> {
    match use_context::<CurrentLang>() {
        Some(CurrentLang(signal)) => {
            signal.set(lang);
            signal
        }
        None => {
            let signal = RwSignal::new(lang);
            provide_context(CurrentLang(signal));
            signal
        }
    }
}

/// The page's language; English if no page chose one.
pub fn use_lang() -> Signal<Lang> {
    match use_context::<CurrentLang>() {
        Some(CurrentLang(signal)) => signal.into(),
        None => Signal::stored(Lang::default()),
    }
}

/// Reads the page's language without allocating anything in the current
/// reactive owner. A text handed to `<Title>` is read after the page was
/// rendered, when the component that made it may be gone: a wrapper owned by
/// that component (as `use_lang`'s `Signal` is) would then be disposed and
/// reading it panics — the server answered 500 now and then for a dead link.
fn page_lang() -> impl Fn() -> Lang + Copy + Send + Sync + 'static {
    let shared = use_context::<CurrentLang>().map(|CurrentLang(signal)| signal);
    move || {
        shared
            .and_then(|signal| signal.try_get())
            .unwrap_or_default()
    }
}

/// A reactive text: follows the page's language.
pub fn t(key: Key) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let lang = page_lang();
    move || text(lang(), key)
}

/// A reactive text with placeholders filled.
pub fn t_with(
    key: Key,
    values: impl Fn() -> Vec<(&'static str, String)> + Send + Sync + 'static,
) -> impl Fn() -> String + Send + Sync + 'static {
    let lang = page_lang();
    move || {
        let values = values();
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fill(lang(), key, &pairs)
    }
}

/// The role's name in `lang`.
pub fn role_name(lang: Lang, role: crate::consultation::ParticipantRole) -> &'static str {
    use crate::consultation::ParticipantRole::*;
    text(
        lang,
        match role {
            Host => Key::RoleHost,
            Patient => Key::RolePatient,
            Guest => Key::RoleGuest,
            Translator => Key::RoleTranslator,
            Colleague => Key::RoleColleague,
        },
    )
}

/// A date and time written out in `lang`: `Monday 23 November 2026 at 14:30`.
/// `weekday` is 1 (Monday) to 7, `month` 1 to 12.
pub fn long_datetime(
    lang: Lang,
    weekday: u8,
    day: u8,
    month: u8,
    year: i32,
    hour: u8,
    minute: u8,
) -> String {
    const WEEKDAYS: [Key; 7] = [
        Key::Weekday1,
        Key::Weekday2,
        Key::Weekday3,
        Key::Weekday4,
        Key::Weekday5,
        Key::Weekday6,
        Key::Weekday7,
    ];
    const MONTHS: [Key; 12] = [
        Key::Month1,
        Key::Month2,
        Key::Month3,
        Key::Month4,
        Key::Month5,
        Key::Month6,
        Key::Month7,
        Key::Month8,
        Key::Month9,
        Key::Month10,
        Key::Month11,
        Key::Month12,
    ];
    let weekday = text(lang, WEEKDAYS[usize::from(weekday.clamp(1, 7)) - 1]);
    let month = text(lang, MONTHS[usize::from(month.clamp(1, 12)) - 1]);
    fill(
        lang,
        Key::WhenFormat,
        &[
            ("weekday", weekday),
            ("day", &day.to_string()),
            ("month", month),
            ("year", &year.to_string()),
            ("time", &format!("{hour:02}:{minute:02}")),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_its_code_and_name() {
        assert!(Lang::ALL.len() >= 2);
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(*lang));
            assert!(!lang.native_name().is_empty());
        }
        assert_eq!(Lang::from_code("FR"), Some(Lang::Fr));
        assert_eq!(Lang::from_code("xx"), None);
    }

    #[test]
    fn accept_language_picks_the_first_we_speak() {
        assert_eq!(
            Lang::from_accept_language("de-CH,fr;q=0.9,en;q=0.8"),
            Some(Lang::Fr)
        );
        assert_eq!(Lang::from_accept_language("en-GB"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("de,it"), None);
    }

    #[test]
    fn placeholders_are_filled_in_each_language() {
        assert_eq!(
            fill(Lang::Fr, Key::WaitingPositionMany, &[("count", "3")]),
            "Il y a 3 personnes avant vous."
        );
        assert_eq!(
            long_datetime(Lang::En, 1, 23, 11, 2026, 14, 5),
            "Monday 23 November 2026 at 14:05"
        );
        assert_eq!(
            long_datetime(Lang::Fr, 1, 23, 11, 2026, 14, 5),
            "lundi 23 novembre 2026 à 14:05"
        );
    }

    #[test]
    fn serialised_as_the_language_code() {
        assert_eq!(serde_json::to_string(&Lang::Fr).unwrap(), "\"fr\"");
    }
}
