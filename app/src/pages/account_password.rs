//! Every staff member changes their own password here.

use crate::api::auth::BeginSecondFactor;
use crate::api::users::ChangeOwnPassword;
use crate::components::outcome::ActionOutcome;
use crate::components::staff_shell::StaffShell;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountPasswordPage() -> impl IntoView {
    view! {
        <Title text="My password — Visita"/>
        <StaffShell children=|_principal| view! {
            <h1>"Change my password"</h1>
            <p class="lead">"At least 12 characters. A few unrelated words make a strong password that is easy to remember."</p>
            <ChangePasswordForm/>
            <h2>"Two-step sign-in"</h2>
            <p>"With an authenticator app on your phone, your password alone is not enough to sign in as you. Setting one up replaces the one you had."</p>
            <TwoStepForm/>
        }/>
    }
}

#[island]
fn TwoStepForm() -> impl IntoView {
    let begin = ServerAction::<BeginSecondFactor>::new();
    view! {
        <ActionForm action=begin>
            <button type="submit" class="secondary">"Set up an authenticator app"</button>
        </ActionForm>
        <ActionOutcome value=begin.value() success="On to the set-up."/>
    }
}

#[island]
fn ChangePasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangeOwnPassword>::new();
    view! {
        <ActionForm action=change attr:class="card stack">
            <label for="current">"Current password"</label>
            <input id="current" name="current" type="password" autocomplete="current-password" required/>
            <label for="new">"New password"</label>
            <input id="new" name="new" type="password" autocomplete="new-password" minlength="12" required/>
            <label for="confirm">"New password again"</label>
            <input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="12" required/>
            <button type="submit" class="primary">"Change password"</button>
        </ActionForm>
        <ActionOutcome value=change.value() success="Your password has been changed. Your other sessions were signed out."/>
    }
}
