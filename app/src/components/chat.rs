//! The chat of a consultation: the lines so far (a live region screen
//! readers follow) and a form to write. The form is a real form; once the
//! WASM runs it sends in place and the new line arrives over `/ws`.

use crate::api::chat::SendMessage;
use crate::consultation::{ChatMessage, ConsultationId, ParticipantId};
use crate::i18n::{Key, role_name, t, use_lang};
use leptos::prelude::*;

/// Adds lines to the chat, keeping it ordered and free of repeats (the same
/// line can arrive from the send answer and from the socket).
pub fn merge(chat: RwSignal<Vec<ChatMessage>>, incoming: Vec<ChatMessage>) {
    if incoming.is_empty() {
        return;
    }
    chat.update(|lines| {
        for message in incoming {
            if !lines.iter().any(|m| m.id == message.id) {
                lines.push(message);
            }
        }
        lines.sort_by(|a, b| a.id.cmp(&b.id));
    });
}

#[component]
pub fn ChatPanel(
    consultation: ConsultationId,
    me: Option<ParticipantId>,
    chat: RwSignal<Vec<ChatMessage>>,
) -> impl IntoView {
    let send = ServerAction::<SendMessage>::new();
    let lang = use_lang();
    let draft = RwSignal::new(String::new());
    // Times are shown in the reader's own zone, which only the browser knows.
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    Effect::new(move |_| {
        if let Some(Ok(message)) = send.value().get() {
            merge(chat, vec![message]);
            draft.set(String::new());
        }
    });
    let me = StoredValue::new(me);

    view! {
        <section class="chat card" aria-labelledby="chat-heading">
            <h2 id="chat-heading">{t(Key::ChatTitle)}</h2>
            <ol class="chat-lines" role="log" aria-live="polite" data-testid="chat-lines">
                <For
                    each=move || chat.get()
                    key=|m| m.id.clone()
                    children=move |m| {
                        let mine = me.with_value(|me| me.as_ref() == Some(&m.author));
                        let at_ms = m.at_ms;
                        let who = if mine {
                            t(Key::ChatYou)().to_string()
                        } else {
                            format!("{} ({})", m.author_name, role_name(lang.get_untracked(), m.author_role))
                        };
                        view! {
                            <li class:mine=mine data-testid="chat-line">
                                <span class="chat-who">{who}</span>
                                <span class="chat-time">
                                    {move || mounted.get().then(|| clock_time(at_ms))}
                                </span>
                                <p class="chat-body">{m.body.clone()}</p>
                            </li>
                        }
                    }
                />
            </ol>
            <Show when=move || chat.with(Vec::is_empty)>
                <p class="empty">{t(Key::ChatEmpty)}</p>
            </Show>
            <ActionForm action=send attr:class="chat-form">
                <input type="hidden" name="consultation" value=consultation.0.clone()/>
                <label for="chat-input">{t(Key::ChatLabel)}</label>
                <div class="with-button">
                    <input
                        id="chat-input"
                        name="body"
                        type="text"
                        maxlength="4000"
                        autocomplete="off"
                        required
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                    />
                    <button type="submit" class="primary" disabled=move || send.pending().get()>
                        {t(Key::ChatSend)}
                    </button>
                </div>
            </ActionForm>
            {move || {
                send.value()
                    .get()
                    .and_then(Result::err)
                    .map(|error| view! { <p class="notice error" role="alert">{error.to_string()}</p> })
            }}
        </section>
    }
    .into_any()
}

/// `14:05` in the browser's zone.
fn clock_time(at_ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = at_ms;
        String::new()
    }
}
