//! Administrators manage queues (departments) and who works in each.

use crate::api::queues::{CreateQueue, SetQueueMembers, list_queues};
use crate::api::users::list_users;
use crate::components::members::MemberBoxes;
use crate::components::outcome::ActionOutcome;
use crate::components::refresh::refreshed;
use crate::components::staff_shell::StaffShell;
use crate::consultation::QueueSummary;
use crate::domain::UserSummary;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminQueuesPage() -> impl IntoView {
    // Above the shell's <Suspense>, like every page's data.
    let data = Resource::new(|| (), |_| queues_and_staff());
    view! {
        <Title text="Queues — Visita"/>
        <StaffShell children=move |_| view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <QueuesAdmin data/> }.into_any(),
                        Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

type QueuesAndStaff = (Vec<QueueSummary>, Vec<UserSummary>);

async fn queues_and_staff() -> Result<QueuesAndStaff, crate::error::AppError> {
    Ok((list_queues().await?, list_users().await?))
}

/// Live: a new queue or new members show at once.
#[island]
fn QueuesAdmin(data: QueuesAndStaff) -> impl IntoView {
    let create = ServerAction::<CreateQueue>::new();
    let members = ServerAction::<SetQueueMembers>::new();
    let data = refreshed(
        data,
        move || create.version().get() + members.version().get(),
        queues_and_staff,
    );
    view! {
        <h1>"Queues"</h1>
        <section class="card" aria-labelledby="new-queue-heading">
            <h2 id="new-queue-heading">"Add a queue"</h2>
            <ActionForm action=create attr:class="stack">
                <label for="queue-name">"Name (a department or a service)"</label>
                <input id="queue-name" name="name" type="text" required maxlength="80"/>
                <button type="submit" class="primary">"Add the queue"</button>
            </ActionForm>
            <ActionOutcome value=create.value() success="The queue has been added."/>
        </section>
        <ActionOutcome value=members.value() success="Saved."/>
        {move || {
            let (queues, users) = data.get();
            queues
                .into_iter()
                .map(|queue| view! { <QueueCard queue users=users.clone() members/> })
                .collect_view()
        }}
    }
    .into_any()
}

#[component]
fn QueueCard(
    queue: QueueSummary,
    users: Vec<UserSummary>,
    members: ServerAction<SetQueueMembers>,
) -> impl IntoView {
    let heading = format!("queue-{}", queue.id);
    let labelled_by = heading.clone();
    let key = queue.id.0.clone();
    let key_for_form = queue.id.0.clone();
    let people = users
        .into_iter()
        .map(|user| {
            let roles = user
                .roles
                .iter()
                .map(|r| r.label())
                .collect::<Vec<_>>()
                .join(", ");
            let label = format!("{} ({roles})", user.name);
            (user.id.0, label, user.queues.contains(&queue.id))
        })
        .collect();
    view! {
        <section class="card" aria-labelledby=labelled_by data-queue=key>
            <h2 id=heading>{queue.name.clone()}</h2>
            <ActionForm action=members attr:class="stack">
                <input type="hidden" name="queue" value=key_for_form/>
                <fieldset>
                    <legend>"Who works in this queue"</legend>
                    <MemberBoxes group=format!("q-{}", queue.id) people/>
                </fieldset>
                <button type="submit" class="secondary">"Save who works here"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}
