//! Administrators see how email and text messages are set up (secrets
//! masked), change that set-up (saved in the database, used by every node
//! at once), send a test message that reports the provider's exact answer,
//! and read the outbox of the `log` gateway (what would have been sent).

use crate::api::messaging::{
    ForgetMessagingSetup, SaveMessagingSetup, SendTestMessage, load_messaging_settings, load_outbox,
};
use crate::channel_setup::{ChannelSetup, FIELDS, Field, Input, Part, field, forget_key};
use crate::components::outcome::ActionOutcome;
use crate::components::refresh::refreshed;
use crate::components::staff_shell::StaffShell;
use crate::domain::{MessagingSettings, OutboxEntry};
use crate::error::AppError;
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

/// The set-up as it is, and the form that changes it; the tables follow
/// each save.
#[island]
fn Settings(settings: MessagingSettings) -> impl IntoView {
    let save = ServerAction::<SaveMessagingSetup>::new();
    let forget = ServerAction::<ForgetMessagingSetup>::new();
    // Fetched again after a save that went through only: a refused one
    // leaves what the administrator typed in place, to correct it.
    let saved = RwSignal::new(0usize);
    Effect::new(move || {
        if matches!(save.value().get(), Some(Ok(()))) {
            saved.update(|n| *n += 1);
        }
    });
    let settings = refreshed(
        settings,
        move || saved.get() + forget.version().get(),
        load_messaging_settings,
    );
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
            {move || {
                let s = settings.get();
                let problem = s.setup.problem.clone().map(|problem| view! {
                    <p class="notice error" role="alert" data-testid="setup-problem">
                        "The set-up saved in this console is not used: "{problem}
                    </p>
                });
                view! {
                    <p class="hint" data-testid="setup-origin">{s.setup.origin.clone()}" Secrets are never shown."</p>
                    {problem}
                    <div data-testid="setup-tables">
                        {table("Email", s.email)}
                        {table("Text messages", s.sms)}
                        {table("Invites and reminders (set in the server's file)", s.general)}
                    </div>
                }
            }}
        </section>
        <section class="card" aria-labelledby="change-heading">
            <h2 id="change-heading">"Change the email and text-message set-up"</h2>
            <p class="hint">"Saved here, it applies to every Visita server of this installation within seconds, in place of their file's email and text-message settings."</p>
            {move || view! { <SetupForm setup=settings.get().setup save forget/> }}
            <SetupOutcome value=save.value()/>
            <ActionOutcome value=forget.value() success="The server's file applies again."/>
        </section>
    }
    .into_any()
}

/// The fields of `channel_setup::FIELDS`, grouped as the admin thinks of
/// them; the gateway's own fields show for the chosen gateway only.
#[component]
fn SetupForm(
    setup: ChannelSetup,
    save: ServerAction<SaveMessagingSetup>,
    forget: ServerAction<ForgetMessagingSetup>,
) -> impl IntoView {
    let provider = RwSignal::new(match setup.value("sms_provider") {
        "" => "none".to_string(),
        chosen => chosen.to_string(),
    });
    let part = |part: Part| {
        FIELDS
            .iter()
            .filter(|f| f.part == part)
            .map(|f| view! { <SetupField field=*f setup=setup.clone() provider/> })
            .collect_view()
    };
    let (email, sms, twilio, http) = (
        part(Part::Email),
        part(Part::Sms),
        part(Part::Twilio),
        part(Part::HttpGateway),
    );
    let from_console = setup.from_console;
    view! {
        <ActionForm action=save attr:class="stack" attr:data-testid="setup-form">
            <fieldset>
                <legend>"Email"</legend>
                {email}
            </fieldset>
            <fieldset>
                <legend>"Text messages"</legend>
                {sms}
                <fieldset hidden=move || provider.get() != "twilio" data-part="twilio">
                    <legend>"Twilio"</legend>
                    {twilio}
                </fieldset>
                <fieldset hidden=move || provider.get() != "http" data-part="http">
                    <legend>"Your HTTP gateway"</legend>
                    {http}
                </fieldset>
            </fieldset>
            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save the set-up"</button>
        </ActionForm>
        {from_console.then(|| view! {
            <ActionForm action=forget attr:class="stack">
                <button type="submit" disabled=move || forget.pending().get()>"Use the server's file again"</button>
            </ActionForm>
        })}
    }
    .into_any()
}

#[component]
fn SetupField(field: Field, setup: ChannelSetup, provider: RwSignal<String>) -> impl IntoView {
    let id = format!("s-{}", field.key);
    let name = format!("values[{}]", field.key);
    let hint_id = format!("{id}-hint");
    let hint = (!field.hint.is_empty())
        .then(|| view! { <p class="hint" id=hint_id.clone()>{field.hint}</p> });
    let described = (!field.hint.is_empty()).then(|| hint_id.clone());
    let current = setup.value(field.key).to_string();
    let input = match field.input {
        Input::Text | Input::Number => view! {
            <input id=id.clone() name=name type="text" value=current.clone() prop:value=current autocomplete="off"
                inputmode=(field.input == Input::Number).then_some("numeric")
                aria-describedby=described/>
        }
        .into_any(),
        Input::LongText => {
            let shown = current.clone();
            view! {
                <textarea id=id.clone() name=name rows="3" aria-describedby=described prop:value=current>{shown}</textarea>
            }
            .into_any()
        }
        Input::Choice(choices) => {
            let chosen = if current.is_empty() { choices[0].0.to_string() } else { current };
            let is_provider = field.key == "sms_provider";
            let options = choices
                .iter()
                .map(|(value, words)| view! { <option value=*value selected={*value == chosen}>{*words}</option> })
                .collect_view();
            view! {
                <select id=id.clone() name=name aria-describedby=described prop:value=chosen.clone()
                    on:change=move |ev| {
                        if is_provider {
                            provider.set(event_target_value(&ev));
                        }
                    }>
                    {options}
                </select>
            }
            .into_any()
        }
        Input::Secret => {
            let set = setup.secret_set(field.key);
            let forget = set.then(|| {
                let forget_id = format!("{id}-forget");
                view! {
                    <label class="check">
                        <input id=forget_id type="checkbox" name=format!("values[{}]", forget_key(field.key))/>
                        " Remove the saved one"
                    </label>
                }
            });
            view! {
                <input id=id.clone() name=name type="password" autocomplete="new-password" prop:value=""
                    placeholder={if set { "saved (not shown): leave empty to keep it" } else { "" }}
                    aria-describedby=described data-secret-set=set.to_string()/>
                {forget}
            }
            .into_any()
        }
    };
    view! {
        <label for=id>{field.label}</label>
        {input}
        {hint}
    }
}

/// A refused set-up names the field by its label.
#[component]
fn SetupOutcome(#[prop(into)] value: Signal<Option<Result<(), AppError>>>) -> impl IntoView {
    move || {
        value.with(|result| match result {
            Some(Err(AppError::Invalid(e))) => {
                let label = field(&e.field).map_or("Set-up", |f| f.label);
                view! {
                    <p class="notice error" role="alert" data-testid="setup-error" data-field=e.field.clone()>
                        {format!("{label}: {}", e.message)}
                    </p>
                }
                .into_any()
            }
            Some(Err(other)) => {
                view! { <p class="notice error" role="alert">{other.to_string()}</p> }.into_any()
            }
            Some(Ok(())) => view! {
                <p class="notice success" role="status" data-testid="setup-saved">"Saved: messages now go out with this set-up."</p>
            }
            .into_any(),
            None => ().into_any(),
        })
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
