//! The clinician's home: today's consultations. Consultations arrive with the
//! consultation-loop work; until then the list is honestly empty.

use crate::components::staff_shell::StaffShell;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard — Visita"/>
        <StaffShell children=|principal| {
            view! {
                <h1>"Today"</h1>
                <p class="lead">"Welcome, " {principal.name.clone()} "."</p>
                <section aria-labelledby="today-heading" class="card">
                    <h2 id="today-heading">"Today's consultations"</h2>
                    <p class="empty" data-testid="no-consultations">"No consultations today."</p>
                </section>
            }
        }/>
    }
}
