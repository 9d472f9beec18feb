//! Administrators see the webhook subscriptions integrators made with their
//! API keys and the latest deliveries with every try (the receiver's status
//! or why there was none), send a delivery again, and delete a
//! subscription.

use crate::api::webhooks::{DeleteWebhook, ReplayWebhookDelivery, load_webhooks};
use crate::components::outcome::ActionOutcome;
use crate::components::refresh::refreshed;
use crate::components::staff_shell::StaffShell;
use crate::domain::{WebhookDeliverySummary, WebhookSummary, WebhooksOverview};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminWebhooksPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| load_webhooks());
    view! {
        <Title text="Webhooks — Visita"/>
        <StaffShell children=move |_| view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <WebhooksAdmin overview/> }.into_any(),
                        Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

#[island]
fn WebhooksAdmin(overview: WebhooksOverview) -> impl IntoView {
    let replay = ServerAction::<ReplayWebhookDelivery>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let overview = refreshed(
        overview,
        move || replay.version().get() + delete.version().get(),
        load_webhooks,
    );
    view! {
        <h1>"Webhooks"</h1>
        <p class="hint">
            "Integrators subscribe with an API key that may manage webhooks (POST /api/v1/webhooks, see /api/v1/docs). "
            "Each event is sent signed, and tried again for a day when the receiver does not answer 2xx. "
            <a href="/admin/webhooks">"Refresh"</a>
        </p>
        <section class="card" aria-labelledby="hooks-heading">
            <h2 id="hooks-heading">"Subscriptions"</h2>
            <ActionOutcome value=delete.value() success="Deleted: nothing more is sent to it."/>
            {move || subscriptions(overview.get().subscriptions, delete)}
        </section>
        <section class="card" aria-labelledby="deliveries-heading">
            <h2 id="deliveries-heading">"Latest deliveries"</h2>
            <ActionOutcome value=replay.value() success="Queued: it is sent again within a few seconds."/>
            {move || deliveries(overview.get().deliveries, replay)}
        </section>
    }
    .into_any()
}

fn subscriptions(hooks: Vec<WebhookSummary>, delete: ServerAction<DeleteWebhook>) -> AnyView {
    if hooks.is_empty() {
        return view! { <p class="empty">"No subscription yet."</p> }.into_any();
    }
    let rows = hooks
        .into_iter()
        .map(|h| {
            let state = if h.active { "on" } else { "off (key revoked)" };
            let id = h.id.clone();
            view! {
                <tr data-webhook=id>
                    <td>{h.key_name}</td>
                    <td><code class="wrap">{h.url}</code>{h.description.map(|d| view! { <br/><span class="hint">{d}</span> })}</td>
                    <td>{h.events.join(", ")}</td>
                    <td>{h.created_label}</td>
                    <td>{state}</td>
                    <td>
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=h.id/>
                            <button type="submit" class="secondary">"Delete"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="settings">
            <thead><tr>
                <th scope="col">"Key"</th><th scope="col">"Sends to"</th><th scope="col">"Events"</th>
                <th scope="col">"Made"</th><th scope="col">"State"</th><th scope="col"></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn deliveries(
    deliveries: Vec<WebhookDeliverySummary>,
    replay: ServerAction<ReplayWebhookDelivery>,
) -> AnyView {
    if deliveries.is_empty() {
        return view! { <p class="empty">"Nothing sent yet."</p> }.into_any();
    }
    let rows = deliveries
        .into_iter()
        .map(|d| {
            let status = match (d.status.as_str(), &d.next_label) {
                ("delivered", _) => "delivered".to_string(),
                ("failed", _) => "given up".to_string(),
                (_, Some(next)) => format!("trying again {next}"),
                (other, None) => other.to_string(),
            };
            let tries = d
                .tries
                .into_iter()
                .map(|t| {
                    let answer = match (t.status, t.error) {
                        (Some(code), None) => format!("{code}"),
                        (Some(code), Some(_)) => format!("{code}"),
                        (None, Some(error)) => error,
                        (None, None) => "no answer".into(),
                    };
                    view! { <li>{format!("{}: {} ({} ms)", t.at_label, answer, t.duration_ms)}</li> }
                })
                .collect_view();
            let replayed = d.replay_of.is_some().then_some(" (sent again)");
            let (id, kind) = (d.id.clone(), d.kind.clone());
            view! {
                <tr data-delivery=id data-kind=kind>
                    <td>{d.created_label}</td>
                    <td>{d.kind}{replayed}</td>
                    <td><code class="wrap">{d.url}</code></td>
                    <td data-testid="delivery-status">{status}</td>
                    <td><ol class="tries" data-testid="delivery-tries">{tries}</ol></td>
                    <td>
                        <ActionForm action=replay>
                            <input type="hidden" name="id" value=d.id/>
                            <button type="submit" class="secondary">"Send again"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="settings">
            <thead><tr>
                <th scope="col">"When"</th><th scope="col">"Event"</th><th scope="col">"To"</th>
                <th scope="col">"Status"</th><th scope="col">"Tries (answer)"</th><th scope="col"></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
