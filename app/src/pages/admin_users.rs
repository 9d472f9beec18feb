//! Administrators manage staff accounts: list, create, disable or enable,
//! and set a new password for someone who lost theirs.

use crate::api::users::{CreateUser, ResetPassword, SetUserDisabled, list_users};
use crate::components::outcome::ActionOutcome;
use crate::components::refresh::refreshed;
use crate::components::staff_shell::StaffShell;
use crate::domain::{Role, UserSummary};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    // Loaded here, above the shell's <Suspense>: a resource created inside a
    // suspended child can stall server rendering.
    let users = Resource::new(|| (), |_| list_users());
    view! {
        <Title text="Users — Visita"/>
        <StaffShell children=move |principal| {
            let my_id = principal.user_id.0.clone();
            view! {
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || {
                        let my_id = my_id.clone();
                        Suspend::new(async move {
                            match users.await {
                                Ok(users) => view! { <UsersAdmin my_id users/> }.into_any(),
                                Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                            }
                        })
                    }}
                </Suspense>
            }
        }/>
    }
}

/// The whole page is live: the table follows the forms' changes.
#[island]
fn UsersAdmin(my_id: String, users: Vec<UserSummary>) -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let users = refreshed(
        users,
        move || create.version().get() + set_disabled.version().get() + reset.version().get(),
        list_users,
    );
    view! {
        <h1>"Users"</h1>
        <section class="card" aria-labelledby="new-user-heading">
            <h2 id="new-user-heading">"Add a staff member"</h2>
            <ActionForm action=create attr:class="stack">
                <label for="new-email">"Email address"</label>
                <input id="new-email" name="email" type="email" required/>
                <label for="new-name">"Full name"</label>
                <input id="new-name" name="name" type="text" required maxlength="120"/>
                <label for="new-role">"Role"</label>
                <select id="new-role" name="role" required>
                    {Role::ALL
                        .into_iter()
                        .map(|role| view! { <option value=role.as_str()>{role.label()}</option> })
                        .collect_view()}
                </select>
                <label for="new-password">"First password (they can change it)"</label>
                <input id="new-password" name="password" type="text" minlength="12" required autocomplete="off"/>
                <button type="submit" class="primary">"Add user"</button>
            </ActionForm>
            <ActionOutcome value=create.value() success="The user has been added."/>
        </section>

        <section class="card" aria-labelledby="users-heading">
            <h2 id="users-heading">"Staff accounts"</h2>
            <ActionOutcome value=set_disabled.value() success="Saved."/>
            <ActionOutcome value=reset.value() success="The new password is set. Their sessions were signed out."/>
            {move || view! { <UsersTable users=users.get() my_id=my_id.clone() set_disabled reset/> }}
        </section>
    }
}

#[component]
fn UsersTable(
    users: Vec<UserSummary>,
    my_id: String,
    set_disabled: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    let rows = users
        .into_iter()
        .map(|user| {
            let is_me = user.id.0 == my_id;
            let roles = user.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
            let status = if user.disabled { "Disabled" } else { "Active" };
            let toggle_label = if user.disabled { "Enable" } else { "Disable" };
            let reset_input_id = format!("reset-{}", user.id.0);
            let id = user.id.0.clone();
            view! {
                <tr data-email=user.email.clone()>
                    <td>{user.name.clone()}</td>
                    <td>{user.email.clone()}</td>
                    <td>{roles}</td>
                    <td class="status">{status}</td>
                    <td class="actions">
                        {(!is_me)
                            .then(|| {
                                view! {
                                    <ActionForm action=set_disabled>
                                        <input type="hidden" name="id" value=id/>
                                        <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                                        <button type="submit" class="secondary">{toggle_label}</button>
                                    </ActionForm>
                                }
                            })}
                        {if is_me {
                            view! { <a href="/account/password">"Change my password"</a> }.into_any()
                        } else {
                            view! {
                                <ActionForm action=reset attr:class="inline">
                                    <input type="hidden" name="id" value=user.id.0.clone()/>
                                    <label class="visually-hidden" for=reset_input_id.clone()>
                                        {format!("New password for {}", user.name)}
                                    </label>
                                    <input
                                        id=reset_input_id
                                        name="password"
                                        type="text"
                                        minlength="12"
                                        placeholder="New password"
                                        autocomplete="off"
                                        required
                                    />
                                    <button type="submit" class="secondary">"Set password"</button>
                                </ActionForm>
                            }
                                .into_any()
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
