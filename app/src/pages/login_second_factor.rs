//! The second step of password sign-in: the six-digit code from the
//! person's authenticator app (`/login/code`), or, for an account that must
//! have one and has none yet, setting it up (`/login/setup`: a QR code and
//! the secret in letters, then the first code). Both are plain forms that
//! work without JavaScript.

use crate::api::auth::{FinishSecondFactor, second_factor_setup};
use crate::components::outcome::ActionOutcome;
use crate::islands::{Bundle, Live, PageScripts};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginCodePage() -> impl IntoView {
    view! {
        <leptos_meta::Html {..} lang="en"/>
        <Title text="Your code — Visita"/>
        <main id="main" class="narrow">
            <h1>"Your sign-in code"</h1>
            <p class="lead">"Open your authenticator app and type the six-digit code it shows for Visita."</p>
            <CodeForm setup=false/>
            <p class="hint">"Lost your phone? Your Visita administrator can reset your two-step sign-in."</p>
        </main>
        <PageScripts live=Live::Islands(Bundle::Staff)/>
    }
}

#[component]
pub fn LoginSetupPage() -> impl IntoView {
    let setup = Resource::new(|| (), |_| second_factor_setup());
    view! {
        <leptos_meta::Html {..} lang="en"/>
        <Title text="Set up two-step sign-in — Visita"/>
        <main id="main" class="narrow">
            <h1>"Set up two-step sign-in"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match setup.await {
                        Ok(setup) => view! {
                            <p class="lead">"Your account needs a second step at sign-in. Scan this code with an authenticator app (FreeOTP, Google Authenticator, Microsoft Authenticator…), then type the six digits it shows."</p>
                            <figure class="card qr" aria-label="QR code for your authenticator app" inner_html=setup.qr_svg></figure>
                            <p>"No camera? Type this key in the app instead:"</p>
                            <p><code data-testid="totp-secret">{setup.secret}</code></p>
                            <CodeForm setup=true/>
                        }.into_any(),
                        Err(error) => view! {
                            <p class="notice error" role="alert">{error.to_string()}</p>
                            <p><a class="button" href="/login">"Back to the sign-in page"</a></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
        <PageScripts live=Live::Islands(Bundle::Staff)/>
    }
}

/// The code field; `setup`: the first code of a new authenticator.
#[island]
fn CodeForm(setup: bool) -> impl IntoView {
    let label = if setup {
        "The six-digit code your app shows now"
    } else {
        "Six-digit code"
    };
    let finish = ServerAction::<FinishSecondFactor>::new();
    view! {
        <ActionForm action=finish attr:class="card stack" attr:aria-describedby="code-outcome">
            <label for="code">{label}</label>
            <input
                id="code"
                name="code"
                inputmode="numeric"
                autocomplete="one-time-code"
                pattern="[0-9 ]{6,7}"
                maxlength="7"
                required
                autofocus
            />
            <button type="submit" class="primary" disabled=move || finish.pending().get()>
                {move || if finish.pending().get() { "Checking…" } else { "Continue" }}
            </button>
        </ActionForm>
        <div id="code-outcome">
            <ActionOutcome value=finish.value() success="Signed in."/>
        </div>
    }
}
