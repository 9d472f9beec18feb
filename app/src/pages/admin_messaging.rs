//! Administrators see how email and text messages are set up (secrets
//! masked), send a test message that reports the provider's exact answer,
//! and read the outbox of the `log` gateway (what would have been sent).

use crate::api::messaging::{SendTestMessage, load_messaging_settings, load_outbox};
use crate::components::outcome::ActionOutcome;
use crate::components::staff_shell::StaffShell;
use crate::domain::{MessagingSettings, OutboxEntry};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminMessagingPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| settings_and_outbox());
    view! {
        <Title text="Messages — Visita"/>
        <StaffShell children=move |_| view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok((settings, outbox)) => view! {
                            <h1>"Messages"</h1>
                            <Settings settings/>
                            <TestMessage/>
                            <Outbox entries=outbox/>
                        }.into_any(),
                        Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

async fn settings_and_outbox()
-> Result<(MessagingSettings, Vec<OutboxEntry>), crate::error::AppError> {
    Ok((load_messaging_settings().await?, load_outbox().await?))
}

#[component]
fn Settings(settings: MessagingSettings) -> impl IntoView {
    let table = |caption: &'static str, rows: Vec<(String, String)>| {
        let rows = rows
            .into_iter()
            .map(|(label, value)| view! { <tr><th scope="row">{label}</th><td>{value}</td></tr> })
            .collect_view();
        view! {
            <table class="settings">
                <caption>{caption}</caption>
                <tbody>{rows}</tbody>
            </table>
        }
    };
    view! {
        <section class="card" aria-labelledby="setup-heading">
            <h2 id="setup-heading">"How messages are sent"</h2>
            <p class="hint">"Set in visita.toml or VISITA_* variables (see the README); secrets are never shown."</p>
            {table("Email", settings.email)}
            {table("Text messages", settings.sms)}
            {table("Invites and reminders", settings.general)}
        </section>
    }
}

/// Sends a test now and shows the provider's answer as it is.
#[island]
fn TestMessage() -> impl IntoView {
    let send = ServerAction::<SendTestMessage>::new();
    view! {
        <section class="card" aria-labelledby="test-heading">
            <h2 id="test-heading">"Send a test message"</h2>
            <ActionForm action=send attr:class="stack">
                <label for="t-channel">"By"</label>
                <select id="t-channel" name="channel">
                    <option value="email">"Email"</option>
                    <option value="sms">"Text message"</option>
                </select>
                <label for="t-to">"To (an email address or a mobile number)"</label>
                <input id="t-to" name="to" type="text" required autocomplete="off"/>
                <button type="submit" class="primary" disabled=move || send.pending().get()>"Send the test"</button>
            </ActionForm>
            {move || match send.value().get() {
                Some(Ok(answer)) => view! { <p class="notice success" role="status" data-testid="test-answer">{answer}</p> }.into_any(),
                other => view! { <ActionOutcome value=Signal::stored(other) success=""/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Outbox(entries: Vec<OutboxEntry>) -> impl IntoView {
    let list = if entries.is_empty() {
        view! { <p class="empty" data-testid="outbox-empty">"Nothing in the outbox."</p> }
            .into_any()
    } else {
        let items = entries
            .into_iter()
            .map(|e| {
                view! {
                    <li class="outbox-entry" data-recipient=e.recipient.clone()>
                        <p><strong>{e.recipient.clone()}</strong>" · "{e.kind}" · "{e.at_label}</p>
                        <pre class="kept">{e.text}</pre>
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="day-list" data-testid="outbox">{items}</ul> }.into_any()
    };
    view! {
        <section class="card" aria-labelledby="outbox-heading">
            <h2 id="outbox-heading">"Outbox (log gateway)"</h2>
            <p class="hint">"Text messages the log gateway kept instead of sending, newest first."</p>
            {list}
        </section>
    }
}
