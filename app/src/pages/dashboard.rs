//! The clinician's home: book a consultation, and today's consultations of
//! every queue they work in, live — a patient who enters the waiting room
//! appears here without a reload, with how long they have waited, and one
//! button lets them in.

use crate::api::consultations::{
    AcceptTranslation, Admit, CancelConsultation, CreateConsultation, ReissueLink, Reschedule,
    ResendInvite, SetAutoAdmit, load_booking_options, open_translations, today,
};
use crate::components::outcome::ActionOutcome;
use crate::components::staff_shell::StaffShell;
use crate::consultation::{BookingOptions, ConsultationStatus, ConsultationSummary};
use crate::domain::Role;
use crate::i18n::Lang;
use crate::live::{use_clock, use_live};
use crate::realtime::{ClientMsg, ServerMsg};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    // Loaded here, above the shell's <Suspense>: a resource created inside a
    // suspended child can stall server rendering.
    let options = Resource::new(|| (), |_| load_booking_options());
    let first = Resource::new(|| (), |_| today());
    let translations = Resource::new(|| (), |_| open_translations());
    view! {
        <Title text="Dashboard — Visita"/>
        <StaffShell children=move |principal| {
            let books = [Role::Doctor, Role::Nurse, Role::Scheduler]
                .into_iter()
                .any(|r| principal.has_role(r));
            let translates = principal.has_role(Role::Translator);
            view! {
                <h1>"Today"</h1>
                <p class="lead">"Welcome, " {principal.name.clone()} "."</p>
                {translates.then(|| view! { <TranslationRequests first=translations/> })}
                {books.then(|| view! { <Board options first/> })}
                {(!books && !translates).then(|| view! {
                    <section class="card">
                        <h2>"Today and the next 7 days"</h2>
                        <p class="empty" data-testid="no-consultations">"No consultations today."</p>
                    </section>
                })}
            }
        }/>
    }
    .into_any()
}

#[component]
fn Board(
    options: Resource<Result<BookingOptions, crate::error::AppError>>,
    first: Resource<Result<Vec<ConsultationSummary>, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match (options.await, first.await) {
                    (Ok(options), Ok(list)) => {
                        view! {
                            <NewConsultation options/>
                            <DayList first=list/>
                        }
                            .into_any()
                    }
                    (Err(error), _) | (_, Err(error)) => {
                        view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[island]
fn NewConsultation(options: BookingOptions) -> impl IntoView {
    let create = ServerAction::<CreateConsultation>::new();
    let clinic_zone = options.timezone.clone();
    // The clinician types the time in their own zone, which only the
    // browser knows; the clinic's zone until the WASM says otherwise.
    let my_zone = RwSignal::new(options.timezone.clone());
    Effect::new(move |_| {
        if let Some(zone) = browser_zone() {
            my_zone.set(zone);
        }
    });
    if options.queues.is_empty() {
        return view! {
            <section class="card">
                <h2>"New consultation"</h2>
                <p class="empty">"You do not work in any queue yet: ask an administrator to add you to one."</p>
            </section>
        }
            .into_any();
    }
    let queues = options
        .queues
        .iter()
        .map(|q| view! { <option value=q.id.0.clone()>{q.name.clone()}</option> })
        .collect_view();
    let languages = Lang::ALL
        .iter()
        .map(|l| view! { <option value=l.code()>{l.native_name()}</option> })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="new-heading">
            <h2 id="new-heading">"New consultation"</h2>
            <ActionForm action=create attr:class="stack booking">
                <label for="b-name">"Patient's name"</label>
                <input id="b-name" name="booking[patient_name]" type="text" required maxlength="120" autocomplete="off"/>
                <label for="b-email">"Patient's email (optional)"</label>
                <input id="b-email" name="booking[patient_email]" type="email" autocomplete="off"/>
                <label for="b-phone">"Patient's mobile number (optional)"</label>
                <input id="b-phone" name="booking[patient_phone]" type="tel" autocomplete="off"/>
                <label for="b-language">"Patient's language"</label>
                <select id="b-language" name="booking[language]">{languages}</select>
                <label for="b-zone">"Patient's time zone"</label>
                <input id="b-zone" name="booking[timezone]" type="text" value=clinic_zone list="zones" required/>
                <datalist id="zones">
                    {COMMON_ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                </datalist>
                <label for="b-when">"When (leave empty for now)"</label>
                <input id="b-when" name="booking[scheduled_for]" type="datetime-local"/>
                <p class="hint">{move || format!("Times are in your time zone ({}).", my_zone.get())}</p>
                <input type="hidden" name="booking[clinician_timezone]" prop:value=move || my_zone.get()/>
                <label for="b-queue">"Queue"</label>
                <select id="b-queue" name="booking[queue]">{queues}</select>
                <button type="submit" class="primary" id="create-consultation" disabled=move || create.pending().get()>
                    "Create and get the patient's link"
                </button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(created)) => {
                    view! {
                        <div class="notice success" role="status">
                            <p>"The consultation is booked. Send this link to the patient:"</p>
                            <LinkBox link=created.patient_link.clone() testid="patient-link"/>
                            <p><a href=format!("/room/{}", created.id)>"Open the consultation room"</a></p>
                        </div>
                    }
                        .into_any()
                }
                other => view! { <ActionOutcome value=Signal::stored(other) success=""/> }.into_any(),
            }}
        </section>
    }
        .into_any()
}

/// A link in a read-only field (select it to copy by hand) and a Copy button.
#[component]
fn LinkBox(link: String, testid: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    let to_copy = link.clone();
    view! {
        <div class="with-button">
            <input type="text" readonly value=link data-testid=testid aria-label="Link"/>
            <button
                type="button"
                class="secondary"
                on:click=move |_| {
                    copy_to_clipboard(&to_copy);
                    copied.set(true);
                }
            >
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
    .into_any()
}

#[island]
fn DayList(first: Vec<ConsultationSummary>) -> impl IntoView {
    let list = RwSignal::new(first);
    let connected = use_live(
        || vec![ClientMsg::WatchQueues],
        move |message| match message {
            ServerMsg::Queues { consultations } => list.set(consultations),
            ServerMsg::ConsultationChanged { consultation } => {
                list.update(
                    |all| match all.iter_mut().find(|c| c.id == consultation.id) {
                        Some(existing) => *existing = consultation,
                        None => all.push(consultation),
                    },
                )
            }
            _ => {}
        },
    )
    .connected;
    let now = use_clock(15);
    let admit = ServerAction::<Admit>::new();
    let reissue = ServerAction::<ReissueLink>::new();
    let auto = ServerAction::<SetAutoAdmit>::new();
    let cancel = ServerAction::<CancelConsultation>::new();
    let resend = ServerAction::<ResendInvite>::new();
    let reschedule = ServerAction::<Reschedule>::new();

    view! {
        <section class="card" aria-labelledby="today-heading">
            <h2 id="today-heading">"Today and the next 7 days"</h2>
            <Show when=move || !connected.get()>
                <p class="notice" role="status">"Connection lost. Reconnecting…"</p>
            </Show>
            <ActionOutcome value=admit.value() success=""/>
            <ActionOutcome value=cancel.value() success="The consultation is cancelled; its links no longer work."/>
            <ActionOutcome value=resend.value() success="The invite is on its way again."/>
            <ActionOutcome value=reschedule.value() success="Moved: the patient is told the new time."/>
            {move || match reissue.value().get() {
                Some(Ok(issued)) => view! {
                    <div class="notice success" role="status">
                        <p>"New link (the old one no longer works):"</p>
                        <LinkBox link=issued.link testid="reissued-link"/>
                    </div>
                }.into_any(),
                other => view! { <ActionOutcome value=Signal::stored(other) success=""/> }.into_any(),
            }}
            <Show
                when=move || list.with(|l| !l.is_empty())
                fallback=|| view! { <p class="empty" data-testid="no-consultations">"No consultations today."</p> }
            >
                <ul class="day-list" aria-live="polite">
                    <For
                        each=move || list.get()
                        key=|c| (c.id.clone(), format!("{:?}", c))
                        children=move |c| view! { <DayLine c now admit reissue auto cancel resend reschedule/> }
                    />
                </ul>
            </Show>
        </section>
    }
    .into_any()
}

#[component]
fn DayLine(
    c: ConsultationSummary,
    now: ReadSignal<i64>,
    admit: ServerAction<Admit>,
    reissue: ServerAction<ReissueLink>,
    auto: ServerAction<SetAutoAdmit>,
    cancel: ServerAction<CancelConsultation>,
    resend: ServerAction<ResendInvite>,
    reschedule: ServerAction<Reschedule>,
) -> impl IntoView {
    let when = c.scheduled_label.clone().unwrap_or_else(|| "Now".into());
    let status = status_label(c.status);
    let over = c.status.is_over();
    let waiting_people: Vec<_> = c
        .waiting()
        .map(|p| (p.id.0.clone(), p.name.clone(), p.waiting_since_ms))
        .collect();
    let waiting = waiting_people
        .into_iter()
        .map(|(participant, name, since)| {
            view! {
                <div class="waiting-person" data-testid="waiting">
                    <span>
                        {format!("{name} is waiting")}
                        {move || since.map(|s| format!(" ({})", waited(now.get() - s)))}
                    </span>
                    <ActionForm action=admit attr:class="inline">
                        <input type="hidden" name="participant" value=participant/>
                        <button type="submit" class="primary" data-testid="admit">{format!("Admit {name}")}</button>
                    </ActionForm>
                </div>
            }
        })
        .collect_view();
    let patient = c
        .participants
        .iter()
        .find(|p| p.role == crate::consultation::ParticipantRole::Patient)
        .cloned();
    let opened = patient.as_ref().map(|p| p.link_opened);
    let auto_on = c.auto_admit;
    let reply = c.patient_reply.as_deref().and_then(|r| match r {
        "confirmed" => Some("The patient confirmed by text message."),
        "cancelled" => Some("The patient cancelled by text message."),
        "arrived" => Some("The patient says they have arrived."),
        "joined" => Some("The patient says they have joined."),
        _ => None,
    });
    let messages = (!c.messages.is_empty()).then(|| {
        let lines = c
            .messages
            .iter()
            .map(|m| {
                view! {
                    <li
                        data-channel=format!("{:?}", m.channel).to_lowercase()
                        data-kind=m.kind.clone()
                        data-delivery=m.delivery.as_str()
                        class=format!("message-status {}", m.delivery.as_str())
                    >
                        {m.describe()}
                        {m.kept_text.clone().map(|text| view! {
                            <details><summary>"The text"</summary><pre class="kept">{text}</pre></details>
                        })}
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="messages" data-testid="messages" aria-label="Messages to the patient">{lines}</ul> }
    });
    view! {
        <li class="day-line" data-status=c.status.as_str() data-patient=c.patient_name.clone()>
            <div class="day-head">
                <strong>{c.patient_name.clone()}</strong>
                <span class="badge">{status}</span>
                <span class="when">{when}</span>
                <span class="queue">{c.queue_name.clone()}</span>
                <span class="hint">
                    {match opened {
                        Some(true) => "Link opened",
                        Some(false) => "Link not opened yet",
                        None => "",
                    }}
                </span>
            </div>
            {reply.map(|text| view! { <p class="notice" data-testid="patient-reply">{text}</p> })}
            {waiting}
            {messages}
            <div class="day-actions">
                <a href=format!("/room/{}", c.id)>"Open the room"</a>
                {(!over).then(|| patient.map(|p| view! {
                    <ActionForm action=reissue attr:class="inline">
                        <input type="hidden" name="participant" value=p.id.0.clone()/>
                        <button type="submit" class="secondary">"New link for the patient"</button>
                    </ActionForm>
                }))}
                {(!over && !c.messages.is_empty()).then(|| {
                    let key = c.id.0.clone();
                    view! {
                    <ActionForm action=resend attr:class="inline">
                        <input type="hidden" name="consultation" value=key/>
                        <button type="submit" class="secondary" data-testid="resend-invite">"Send the invite again"</button>
                    </ActionForm>
                    }
                })}
                {(c.status == ConsultationStatus::Scheduled).then(|| {
                    let key = c.id.0.clone();
                    let field = format!("move-{key}");
                    view! {
                        <ActionForm action=reschedule attr:class="inline move">
                            <input type="hidden" name="consultation" value=key/>
                            <input type="hidden" name="clinician_timezone" prop:value=browser_zone().unwrap_or_default()/>
                            <label for=field.clone()>"New time"</label>
                            <input id=field name="scheduled_for" type="datetime-local" required/>
                            <button type="submit" class="secondary" data-testid="reschedule">"Move"</button>
                        </ActionForm>
                    }
                })}
                {(!over && c.status != ConsultationStatus::Active).then(|| {
                    let key = c.id.0.clone();
                    view! {
                        <ActionForm action=cancel attr:class="inline">
                            <input type="hidden" name="consultation" value=key/>
                            <button type="submit" class="secondary" data-testid="cancel">"Cancel"</button>
                        </ActionForm>
                    }
                })}
                {(!over).then(|| view! {
                    <ActionForm action=auto attr:class="inline">
                        <input type="hidden" name="consultation" value=c.id.0.clone()/>
                        <input type="hidden" name="on" value=(!auto_on).to_string()/>
                        <button type="submit" class="secondary" aria-pressed=auto_on.to_string()>
                            {if auto_on { "Letting in automatically: on" } else { "Let in automatically: off" }}
                        </button>
                    </ActionForm>
                })}
            </div>
        </li>
    }
    .into_any()
}

fn status_label(status: ConsultationStatus) -> &'static str {
    match status {
        ConsultationStatus::Scheduled => "Scheduled",
        ConsultationStatus::Waiting => "Waiting",
        ConsultationStatus::Active => "In consultation",
        ConsultationStatus::Closed => "Closed",
        ConsultationStatus::Cancelled => "Cancelled",
    }
}

fn waited(ms: i64) -> String {
    let minutes = (ms.max(0) / 60_000) as u64;
    match minutes {
        0 => "less than a minute".into(),
        1 => "1 minute".into(),
        n => format!("{n} minutes"),
    }
}

/// Zones offered in the time-zone field; any IANA name may be typed.
const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Zurich",
    "Europe/Brussels",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Lisbon",
    "Europe/Kyiv",
    "Europe/Moscow",
    "Africa/Casablanca",
    "Africa/Dakar",
    "Africa/Abidjan",
    "Africa/Kinshasa",
    "America/Montreal",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Beirut",
    "Asia/Tokyo",
];

fn browser_zone() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let options =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                .resolved_options();
        js_sys::Reflect::get(&options, &"timeZone".into())
            .ok()
            .and_then(|v| v.as_string())
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// For translators: requests in their languages, live; the first to accept
/// joins the consultation.
#[component]
fn TranslationRequests(
    first: Resource<Result<Vec<crate::consultation::TranslationRequest>, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="translations-heading">
            <h2 id="translations-heading">"Translation requests"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(list) => view! { <LiveTranslationRequests first=list/> }.into_any(),
                        Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

#[island]
fn LiveTranslationRequests(first: Vec<crate::consultation::TranslationRequest>) -> impl IntoView {
    let list = RwSignal::new(first);
    use_live(
        || vec![ClientMsg::WatchTranslations],
        move |message| {
            if let ServerMsg::Translations { requests } = message {
                list.set(requests);
            }
        },
    );
    let accept = ServerAction::<AcceptTranslation>::new();
    view! {
        <ActionOutcome value=accept.value() success=""/>
        <Show
            when=move || list.with(|l| !l.is_empty())
            fallback=|| view! { <p class="empty" data-testid="no-translations">"No one needs a translator right now."</p> }
        >
            <ul class="day-list" aria-live="polite">
                <For
                    each=move || list.get()
                    key=|r| r.id.clone()
                    children=move |r| {
                        let label = format!("{} — {} (asked by {})", r.language, r.queue_name, r.requested_by);
                        view! {
                            <li class="day-line" data-testid="translation-request" data-language=r.language.clone()>
                                <span>{label}</span>
                                <ActionForm action=accept attr:class="inline">
                                    <input type="hidden" name="request" value=r.id.clone()/>
                                    <button type="submit" class="primary">"Accept and join"</button>
                                </ActionForm>
                            </li>
                        }
                    }
                />
            </ul>
        </Show>
    }
    .into_any()
}
