//! Islands: the live parts of pages that are otherwise rendered on the
//! server only. Each `#[island]` component becomes an entry point of a WASM
//! bundle; everything around it is plain HTML with real forms and links.
//!
//! Two bundles, so a patient never downloads the staff's screens:
//! - `patient`: the islands of the invite and consultation pages that people
//!   who came in by link see;
//! - `staff`: those plus the clinician's and the administrator's islands
//!   (built with the `staff` feature of `app`).
//!
//! The frame of each page says what it needs ([`PageScripts`]).

use leptos::prelude::*;

/// Which WASM bundle a page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bundle {
    Patient,
    Staff,
}

impl Bundle {
    pub const ALL: [Bundle; 2] = [Bundle::Patient, Bundle::Staff];

    /// The file stem under `/pkg`: `<stem>.js` and `<stem>_bg.wasm`.
    pub fn stem(self) -> &'static str {
        match self {
            Bundle::Patient => "patient",
            Bundle::Staff => "staff",
        }
    }
}

/// A fingerprint of the built site, appended to asset URLs (`?v=…`) so
/// browsers may keep them forever and still fetch a new build at once.
/// The server provides it as context; without it, assets are not versioned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetVersion(pub String);

/// `/pkg/<file>` with the site's version.
pub fn asset_url(file: &str) -> String {
    match use_context::<AssetVersion>() {
        Some(AssetVersion(v)) if !v.is_empty() => format!("/pkg/{file}?v={v}"),
        _ => format!("/pkg/{file}"),
    }
}

const LOADER: &str = include_str!("loader.js");
const AHEAD: &str = include_str!("ahead.js");

/// What a page does in the browser once its HTML is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// Load the bundle and wake the page's islands.
    Islands(Bundle),
    /// No islands here, but the next page wants the bundle: download it
    /// now, and send forms marked `data-ahead` in the background meanwhile
    /// (the invite page and its join button; see `ahead.js`).
    Ahead(Bundle),
    /// Nothing to run.
    Static,
}

/// Rendered once by each page frame, at the end of the page (the HTML is
/// usable before it runs). Every page ends with `data-hydrated="true"` on
/// the body once its live parts, if any, are awake.
#[component]
pub fn PageScripts(live: Live) -> impl IntoView {
    let files = |bundle: Bundle| {
        (
            asset_url(&format!("{}.js", bundle.stem())),
            asset_url(&format!("{}_bg.wasm", bundle.stem())),
        )
    };
    const MARK: &str = "document.body.dataset.hydrated = 'true';";
    match live {
        Live::Islands(bundle) => {
            let (js, wasm) = files(bundle);
            let start = format!("{LOADER}({js:?}, {wasm:?});");
            view! {
                <link rel="modulepreload" href=js/>
                <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin=""/>
                <script type="module" inner_html=start></script>
            }
            .into_any()
        }
        Live::Ahead(bundle) => {
            let (js, wasm) = files(bundle);
            let start = format!("{AHEAD}({js:?}, {wasm:?});");
            view! {
                <link rel="preload" href=js.clone() r#as="fetch" crossorigin=""/>
                <link rel="preload" href=wasm.clone() r#as="fetch" crossorigin=""/>
                <script inner_html=start></script>
            }
            .into_any()
        }
        Live::Static => view! { <script inner_html=MARK></script> }.into_any(),
    }
}
