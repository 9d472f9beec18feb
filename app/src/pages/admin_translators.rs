//! Administrators manage translator organisations: each has a name and the
//! languages it covers, and translators belong to one or more. A clinician's
//! request for a language reaches the members of every organisation that
//! covers it.

use crate::api::translators::{CreateTranslatorOrg, SetTranslatorOrgMembers, list_translator_orgs};
use crate::api::users::list_users;
use crate::components::members::MemberBoxes;
use crate::components::outcome::ActionOutcome;
use crate::components::refresh::refreshed;
use crate::components::staff_shell::StaffShell;
use crate::domain::{Role, TranslatorOrgSummary, UserSummary};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminTranslatorsPage() -> impl IntoView {
    // Above the shell's <Suspense>, like every page's data.
    let data = Resource::new(|| (), |_| orgs_and_translators());
    view! {
        <Title text="Translators — Visita"/>
        <StaffShell children=move |_| view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <TranslatorsAdmin data/> }.into_any(),
                        Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

type OrgsAndTranslators = (Vec<TranslatorOrgSummary>, Vec<UserSummary>);

/// The organisations, and the staff who can join one (translators only).
async fn orgs_and_translators() -> Result<OrgsAndTranslators, crate::error::AppError> {
    let translators = list_users()
        .await?
        .into_iter()
        .filter(|u| u.roles.contains(&Role::Translator))
        .collect();
    Ok((list_translator_orgs().await?, translators))
}

/// Live: a new organisation or new members show at once.
#[island]
fn TranslatorsAdmin(data: OrgsAndTranslators) -> impl IntoView {
    let create = ServerAction::<CreateTranslatorOrg>::new();
    let members = ServerAction::<SetTranslatorOrgMembers>::new();
    let data = refreshed(
        data,
        move || create.version().get() + members.version().get(),
        orgs_and_translators,
    );
    view! {
        <h1>"Translators"</h1>
        <section class="card" aria-labelledby="new-org-heading">
            <h2 id="new-org-heading">"Add a translator organisation"</h2>
            <ActionForm action=create attr:class="stack">
                <label for="org-name">"Name (an interpreting service, a team)"</label>
                <input id="org-name" name="name" type="text" required maxlength="80"/>
                <label for="org-languages">"Languages it covers (codes like ar, uk, pt-br)"</label>
                <input id="org-languages" name="languages" type="text" required autocomplete="off"/>
                <button type="submit" class="primary">"Add the organisation"</button>
            </ActionForm>
            <ActionOutcome value=create.value() success="The organisation has been added."/>
        </section>
        <ActionOutcome value=members.value() success="Saved."/>
        {move || {
            let (orgs, translators) = data.get();
            if orgs.is_empty() {
                return view! {
                    <p class="empty" data-testid="no-orgs">"No translator organisation yet: requests for a translator reach no one."</p>
                }
                    .into_any();
            }
            orgs.into_iter()
                .map(|org| view! { <OrgCard org translators=translators.clone() members/> })
                .collect_view()
                .into_any()
        }}
    }
    .into_any()
}

#[component]
fn OrgCard(
    org: TranslatorOrgSummary,
    translators: Vec<UserSummary>,
    members: ServerAction<SetTranslatorOrgMembers>,
) -> impl IntoView {
    let heading = format!("org-{}", org.id);
    let labelled_by = heading.clone();
    let boxes = if translators.is_empty() {
        view! { <p class="empty">"No translator accounts yet: add them on the Users page."</p> }
            .into_any()
    } else {
        let people = translators
            .into_iter()
            .map(|user| {
                let belongs = user.translator_orgs.contains(&org.id);
                (user.id.0, user.name, belongs)
            })
            .collect();
        view! { <MemberBoxes group=format!("o-{}", org.id) people/> }.into_any()
    };
    view! {
        <section class="card" aria-labelledby=labelled_by data-org=org.name.clone()>
            <h2 id=heading>{org.name.clone()}</h2>
            <p class="hint">{format!("Languages: {}", org.languages.join(", "))}</p>
            <ActionForm action=members attr:class="stack">
                <input type="hidden" name="org" value=org.id.clone()/>
                <fieldset>
                    <legend>"Who belongs to it"</legend>
                    {boxes}
                </fieldset>
                <button type="submit" class="secondary">"Save the members"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}
