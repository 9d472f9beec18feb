//! Administrators make keys for the REST API (each shown once), see which
//! exist and when each was last used, and revoke them.

use crate::api::api_keys::{CreateApiKey, RevokeApiKey, load_api_keys};
use crate::components::outcome::ActionOutcome;
use crate::components::refresh::refreshed;
use crate::components::staff_shell::StaffShell;
use crate::domain::ApiKeySummary;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminApiKeysPage() -> impl IntoView {
    let keys = Resource::new(|| (), |_| load_api_keys());
    view! {
        <Title text="API keys — Visita"/>
        <StaffShell children=move |_| view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(keys) => view! { <ApiKeysAdmin keys/> }.into_any(),
                        Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

#[island]
fn ApiKeysAdmin(keys: Vec<ApiKeySummary>) -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = refreshed(
        keys,
        move || create.version().get() + revoke.version().get(),
        load_api_keys,
    );
    view! {
        <h1>"API keys"</h1>
        <section class="card" aria-labelledby="new-key-heading">
            <h2 id="new-key-heading">"Make a key"</h2>
            <p class="hint">"For the software that books consultations through the REST API (see /api/v1/docs). The key is shown once: copy it into that software now."</p>
            <ActionForm action=create attr:class="stack">
                <label for="k-name">"What uses it"</label>
                <input id="k-name" name="name" type="text" required maxlength="80" autocomplete="off"/>
                <fieldset>
                    <legend>"It may"</legend>
                    <label class="check"><input type="checkbox" name="read" checked/>" read consultations"</label>
                    <label class="check"><input type="checkbox" name="write"/>" book, move and cancel consultations"</label>
                    <label class="check"><input type="checkbox" name="webhooks"/>" subscribe to webhooks"</label>
                </fieldset>
                <label for="k-rate">"Requests per minute"</label>
                <input id="k-rate" name="requests_per_minute" type="text" inputmode="numeric" value="600"/>
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Make the key"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(made)) => view! {
                    <div class="notice success" role="status">
                        <p>"The key "<strong>{made.id.clone()}</strong>" (shown this once):"</p>
                        <output class="kept" data-testid="new-key">{made.key.clone()}</output>
                    </div>
                }.into_any(),
                other => view! { <ActionOutcome value=Signal::stored(other) success=""/> }.into_any(),
            }}
        </section>
        <section class="card" aria-labelledby="keys-heading">
            <h2 id="keys-heading">"Keys"</h2>
            <ActionOutcome value=revoke.value() success="Revoked: the key no longer opens anything."/>
            {move || {
                let keys = keys.get();
                if keys.is_empty() {
                    return view! { <p class="empty">"No key yet."</p> }.into_any();
                }
                let rows = keys
                    .into_iter()
                    .map(|k| {
                        let id = k.id.clone();
                        let state = match &k.revoked_label {
                            Some(at) => format!("revoked {at}"),
                            None => format!("last used {}", k.last_used_label),
                        };
                        let revoke_form = k.revoked_label.is_none().then(|| view! {
                            <ActionForm action=revoke>
                                <input type="hidden" name="id" value=k.id.clone()/>
                                <button type="submit" class="secondary">"Revoke"</button>
                            </ActionForm>
                        });
                        view! {
                            <tr data-key=id.clone()>
                                <td>{k.name}</td>
                                <td><code>{id.clone()}</code></td>
                                <td>{k.scopes.join(", ")}</td>
                                <td>{format!("{} / min", k.requests_per_minute)}</td>
                                <td>{format!("{} by {}", k.created_label, k.created_by)}</td>
                                <td data-testid="key-state">{state}</td>
                                <td>{revoke_form}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <table class="settings">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Id"</th><th scope="col">"Scopes"</th>
                            <th scope="col">"Rate"</th><th scope="col">"Made"</th><th scope="col">"Use"</th><th scope="col"></th>
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}
