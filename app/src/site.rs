//! The document and the routes: rendered on the server only. The browser
//! runs no router; each page's live parts are islands (see [`crate::islands`]),
//! and its frame says which bundle wakes them.

use crate::islands::asset_url;
use crate::pages;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app. The islands' script comes with each
/// page's frame, which knows the bundle ([`crate::islands::IslandScripts`]).
pub fn shell(_options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
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

    view! {
        <Stylesheet id="visita" href=asset_url("visita.css")/>
        <Title text="Visita"/>
        <Router>
            // Staff pages render in full before the first byte (`Async`): the
            // HTML is complete without JavaScript, and a refusal can still
            // set the status. The sign-in page waits for its list of identity providers.
            <Routes fallback=pages::not_found::NotFoundPage>
                <Route path=path!("/") view=pages::dashboard::DashboardPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/login/code") view=pages::login_second_factor::LoginCodePage/>
                <Route path=path!("/login/setup") view=pages::login_second_factor::LoginSetupPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/sign-in") view=pages::admin_sign_in::AdminSignInPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/audit") view=pages::admin_audit::AdminAuditPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/users") view=pages::admin_users::AdminUsersPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/queues") view=pages::admin_queues::AdminQueuesPage ssr=SsrMode::Async/>
                <Route
                    path=path!("/admin/translators")
                    view=pages::admin_translators::AdminTranslatorsPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/api-keys")
                    view=pages::admin_api_keys::AdminApiKeysPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/webhooks")
                    view=pages::admin_webhooks::AdminWebhooksPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/messages")
                    view=pages::admin_messaging::AdminMessagingPage
                    ssr=SsrMode::Async
                />
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
