//! The staff sign-in page. The form is a real form: it works before (or
//! without) the WASM; once hydrated it submits in place and shows errors
//! without a reload.

use crate::api::auth::{Login, sign_in_options};
use crate::components::outcome::ActionOutcome;
use crate::islands::{Bundle, Live, PageScripts};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    let providers = Resource::new(|| (), |_| sign_in_options());
    view! {
        <leptos_meta::Html {..} lang="en"/>
        <Title text="Sign in — Visita"/>
        <main id="main" class="narrow">
            <h1>"Sign in to Visita"</h1>
            <p class="lead">"For hospital and clinic staff. Patients do not need an account: use the link you were sent."</p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let choices = providers.await.unwrap_or_default();
                    let directory = choices.directory;
                    let providers = choices.providers;
                    let buttons = (!providers.is_empty()).then(|| view! {
                        <nav class="card stack" aria-label="Sign in with your organisation" data-testid="sign-in-providers">
                            {providers
                                .into_iter()
                                .map(|p| view! { <a class="button primary" href=p.href>{p.label}</a> })
                                .collect_view()}
                        </nav>
                    });
                    let has_buttons = buttons.is_some();
                    let form = choices
                        .password_form
                        .then(|| view! {
                            {has_buttons.then(|| view! { <p class="hint">"Or with your Visita email address and password:"</p> })}
                            <LoginForm directory/>
                        });
                    view! { {buttons} {form} }
                })}
            </Suspense>
            <p class="hint">"Forgot your password? Your Visita administrator can set a new one for you."</p>
        </main>
        <PageScripts live=Live::Islands(Bundle::Staff)/>
    }
}

/// `directory`: logins of the hospital's directory (LDAP) are taken too,
/// so the field is not limited to email addresses.
#[island]
fn LoginForm(directory: bool) -> impl IntoView {
    let login = ServerAction::<Login>::new();
    // Only the hydrated page can toggle this: the button has no meaning in
    // plain HTML, so it starts disabled and is enabled by the WASM.
    let show_password = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
            <ActionForm action=login attr:class="card stack" attr:aria-describedby="login-outcome">
                <label for="email">{if directory { "Email address or user name" } else { "Email address" }}</label>
                <input
                    id="email"
                    name="email"
                    type=if directory { "text" } else { "email" }
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    autofocus
                />
                <label for="password">"Password"</label>
                <div class="with-button">
                    <input
                        id="password"
                        name="password"
                        autocomplete="current-password"
                        required
                        type=move || if show_password.get() { "text" } else { "password" }
                    />
                    <button
                        type="button"
                        class="secondary"
                        id="toggle-password"
                        disabled=move || !hydrated.get()
                        aria-pressed=move || show_password.get().to_string()
                        on:click=move |_| show_password.update(|shown| *shown = !*shown)
                    >
                        {move || if show_password.get() { "Hide" } else { "Show" }}
                    </button>
                </div>
                <button type="submit" class="primary" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <div id="login-outcome">
                <ActionOutcome value=login.value() success="Signed in."/>
            </div>
    }
}
