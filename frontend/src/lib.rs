//! The WASM entry point. Pages are rendered on the server; only their
//! islands (the live parts: `#[island]` components in `app`) run here.

// Names the crate so it is linked: the islands' entry points live in `app`
// and nothing here calls them by name (the loader script finds them).
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
