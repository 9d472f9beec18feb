#![recursion_limit = "256"]
//! # Visita — the shared application
//!
//! Everything the browser and the server both compile: domain types, the
//! authorization policy, server functions and the Leptos pages.
//!
//! ## Layout
//! - [`domain`] — roles, accounts, validation rules: plain data.
//! - [`authz`] — `authorize(principal, action, resource)`, the one policy.
//! - [`error`] — `AppError`, what every server function returns.
//! - [`api`] — server functions (`POST /api/…`), one module per resource.
//! - [`components`] — building blocks shared by pages.
//! - [`pages`] — one module per screen.
//! - `ssr` — (server only) the traits the server implements for us.

pub mod api;
pub mod authz;
pub mod components;
pub mod consultation;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod live;
pub mod pages;
pub mod realtime;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The name of the built JS/WASM/CSS bundle under `/pkg`.
pub const BUNDLE_NAME: &str = "visita";

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Patient pages switch this to the patient's language. Each page frame
    // (staff shell, patient frame, sign-in, not found) sets `<html lang>`
    // itself, once it knows the language.
    crate::i18n::provide_lang(crate::i18n::Lang::default());
    // Effects run only in the browser, after hydration: tests and styles can
    // tell a live page from server-rendered HTML by this attribute.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="visita" href="/pkg/visita.css"/>
        <Title text="Visita"/>
        <Router>
            // Staff pages render in full before the first byte (`Async`): the
            // HTML is complete without JavaScript, and a refusal can still
            // set the status. The sign-in page has no data to wait for.
            <Routes fallback=pages::not_found::NotFoundPage>
                <Route path=path!("/") view=pages::dashboard::DashboardPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=pages::login::LoginPage/>
                <Route path=path!("/admin/users") view=pages::admin_users::AdminUsersPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/queues") view=pages::admin_queues::AdminQueuesPage ssr=SsrMode::Async/>
                <Route path=path!("/j/:token") view=pages::invite::InvitePage ssr=SsrMode::Async/>
                <Route path=path!("/room/:id") view=pages::room::RoomPage ssr=SsrMode::Async/>
                <Route
                    path=path!("/account/password")
                    view=pages::account_password::AccountPasswordPage
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}
