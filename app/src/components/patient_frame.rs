//! The frame of every page a patient or guest sees: the clinic's name, the
//! language switch, and the page in large, plain type.

use crate::i18n::{Key, Lang, t, use_lang};
use crate::islands::{Live, PageScripts};
use leptos::prelude::*;

/// Links to the same page in each language. They reload the page (no
/// client-side routing), so they work the same before the WASM arrives.
#[component]
pub fn LangSwitch() -> impl IntoView {
    let lang = use_lang();
    let links = Lang::ALL
        .iter()
        .map(|l| {
            let l = *l;
            view! {
                <a
                    href=format!("?lang={}", l.code())
                    rel="external"
                    hreflang=l.code()
                    lang=l.code()
                    aria-current=move || (lang.get() == l).then_some("true")
                >
                    {l.native_name()}
                </a>
            }
        })
        .collect_view();
    view! {
        <nav class="lang-switch" aria-label=t(Key::Language)>
            {links}
        </nav>
    }
    .into_any()
}

/// The frame of pages for people who came in by link (and of the
/// clinician's room). `live` says what runs in the browser: nothing unless
/// told.
#[component]
pub fn PatientFrame(
    #[prop(into)] clinic: String,
    /// The company's logo, beside its name (branded sessions).
    #[prop(default = None)]
    logo: Option<String>,
    #[prop(default = Live::Static)] live: Live,
    children: Children,
) -> impl IntoView {
    let lang = use_lang().get_untracked().code();
    view! {
        <leptos_meta::Html {..} lang=lang/>
        <header class="patient-top">
            {logo.map(|src| view! { <img class="clinic-logo" src=src alt="" data-testid="clinic-logo"/> })}
            <span class="clinic">{clinic}</span>
            <LangSwitch/>
        </header>
        <main id="main" class="patient">
            {children()}
        </main>
        <PageScripts live/>
    }
    .into_any()
}

/// The language from `?lang=` if it names one we speak.
pub fn lang_from_query() -> Option<Lang> {
    let query = leptos_router::hooks::use_query_map();
    query.with_untracked(|q| q.get("lang").and_then(|code| Lang::from_code(&code)))
}

/// Sets the HTTP status of the page being rendered on the server.
pub fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(code)
    {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}
