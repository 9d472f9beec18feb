//! The chat of a consultation: the lines so far (a live region screen
//! readers follow) and a form to write. The form is a real form; once the
//! WASM runs it sends in place and the new line arrives over `/ws`.

use crate::api::chat::{MarkRead, SendMessage};
use crate::consultation::{
    Attachment, ChatMessage, ConsultationId, ParticipantId, ParticipantView,
};
use crate::i18n::{Key, role_name, t, use_lang};
use leptos::either::Either;
use leptos::prelude::*;

/// Adds lines to the chat, keeping it ordered and free of repeats (the same
/// line can arrive from the send answer and from the socket).
pub fn merge(chat: RwSignal<Vec<ChatMessage>>, incoming: Vec<ChatMessage>) {
    if incoming.is_empty() {
        return;
    }
    // Kept ordered by insertion (no sort: a sort costs the patient's
    // download several kilobytes of WASM).
    chat.update(|lines| {
        for message in incoming {
            let at = lines.partition_point(|m| m.id < message.id);
            if lines.get(at).is_none_or(|m| m.id != message.id) {
                lines.insert(at, message);
            }
        }
    });
}

#[component]
pub fn ChatPanel(
    consultation: ConsultationId,
    me: Option<ParticipantId>,
    chat: RwSignal<Vec<ChatMessage>>,
    /// Everyone in the consultation, for read markers.
    #[prop(into)]
    people: Signal<Vec<ParticipantView>>,
) -> impl IntoView {
    let send = ServerAction::<SendMessage>::new();
    let read = ServerAction::<MarkRead>::new();
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
    let consultation_key = consultation.0.clone();
    // Tell the others how far we have read, when a line from them arrives
    // while the page is in view.
    let marked = StoredValue::new(None::<crate::consultation::MessageId>);
    let read_key = consultation.0.clone();
    Effect::new(move |_| {
        let newest = chat.with(|lines| lines.last().map(|m| (m.id.clone(), m.author.clone())));
        let Some((id, author)) = newest else { return };
        let from_me = me.with_value(|me| me.as_ref() == Some(&author));
        let hidden = document().hidden();
        if from_me || hidden || marked.with_value(|m| m.as_ref() == Some(&id)) {
            return;
        }
        marked.set_value(Some(id.clone()));
        read.dispatch(MarkRead {
            consultation: read_key.clone(),
            message: id.0,
        });
    });
    // Who has seen my latest line.
    let seen_by = move || {
        let mine = chat.with(|lines| {
            lines
                .iter()
                .rev()
                .find(|m| me.with_value(|me| me.as_ref() == Some(&m.author)))
                .map(|m| m.id.clone())
        })?;
        let names: Vec<String> = people.with(|people| {
            people
                .iter()
                .filter(|p| me.with_value(|me| me.as_ref() != Some(&p.id)))
                .filter(|p| p.last_read.as_ref().is_some_and(|r| *r >= mine))
                .map(|p| p.name.clone())
                .collect()
        });
        (!names.is_empty()).then(|| format!("{} — {}", t(Key::ChatSeen)(), names.join(", ")))
    };

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
                                {(!m.body.is_empty()).then(|| view! { <p class="chat-body">{m.body.clone()}</p> })}
                                {m.attachment.clone().map(|a| view! { <AttachmentView a/> })}
                            </li>
                        }
                    }
                />
            </ol>
            {move || seen_by().map(|text| view! { <p class="hint seen" data-testid="seen">{text}</p> })}
            <Show when=move || chat.with(Vec::is_empty)>
                <p class="empty">{t(Key::ChatEmpty)}</p>
            </Show>
            <ActionForm action=send attr:class="chat-form">
                <input type="hidden" name="consultation" value=consultation_key/>
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
            <FileForm consultation=consultation.clone() chat/>
        </section>
    }
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

#[component]
fn AttachmentView(a: Attachment) -> impl IntoView {
    let url = a.url();
    let link = url.clone();
    let label = format!("{} ({})", a.name, a.size_label());
    if a.is_image() {
        Either::Left(view! {
            <a href=link target="_blank" rel="noopener" class="chat-image">
                <img src=url alt=a.name.clone() loading="lazy" data-testid="chat-image"/>
            </a>
            <span class="hint">{label}</span>
        })
    } else {
        Either::Right(view! {
            <a href=url download=a.name.clone() data-testid="chat-file">
                {t(Key::ChatFileDownload)} " " {label}
            </a>
        })
    }
}

/// Sends a file. A plain multipart form (the server redirects back to the
/// room); once hydrated it uploads in place so the page, and a call in it,
/// stays put.
#[component]
fn FileForm(consultation: ConsultationId, chat: RwSignal<Vec<ChatMessage>>) -> impl IntoView {
    let action = format!("/consultations/{consultation}/files");
    let sending = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            ev.prevent_default();
            let Some(form) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
            else {
                return;
            };
            sending.set(true);
            problem.set(None);
            leptos::task::spawn_local(async move {
                match upload::send(&form).await {
                    Ok(message) => {
                        merge(chat, vec![message]);
                        form.reset();
                    }
                    Err(message) => problem.set(Some(message)),
                }
                sending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, chat);
    };
    view! {
        <form method="post" enctype="multipart/form-data" action=action class="file-form" on:submit=on_submit>
            <label for="chat-file">{t(Key::ChatFileLabel)}</label>
            <div class="with-button">
                <input id="chat-file" name="file" type="file" accept="image/png,image/jpeg,image/gif,image/webp,application/pdf" required/>
                <button type="submit" class="secondary" disabled=move || sending.get()>
                    {move || if sending.get() { t(Key::ChatFileSending)() } else { t(Key::ChatFileSend)() }}
                </button>
            </div>
            {move || problem.get().map(|m| view! { <p class="notice error" role="alert">{m}</p> })}
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod upload {
    use crate::consultation::ChatMessage;
    use crate::error::AppError;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    /// Posts the form as multipart and reads back the new chat line, or the
    /// error's plain words.
    pub async fn send(form: &web_sys::HtmlFormElement) -> Result<ChatMessage, String> {
        let unreachable = || AppError::Unreachable.to_string();
        let data = web_sys::FormData::new_with_form(form).map_err(|_| unreachable())?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&data);
        let request = web_sys::Request::new_with_str_and_init(&form.action(), &init)
            .map_err(|_| unreachable())?;
        let _ = request.headers().set("accept", "application/json");
        let response = JsFuture::from(leptos::prelude::window().fetch_with_request(&request))
            .await
            .map_err(|_| unreachable())?;
        let response: web_sys::Response = response.unchecked_into();
        let text = JsFuture::from(response.text().map_err(|_| unreachable())?)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        if response.ok() {
            serde_json::from_str(&text).map_err(|_| unreachable())
        } else {
            Err(serde_json::from_str::<AppError>(&text)
                .map(|e| e.to_string())
                .unwrap_or_else(|_| unreachable()))
        }
    }
}
