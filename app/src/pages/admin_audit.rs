//! The audit trail for administrators: a plain filter form (it works
//! without JavaScript: the filter is in the address) and the events, newest
//! first.

use crate::api::audit::load_audit;
use crate::components::staff_shell::StaffShell;
use crate::domain::AuditFilter;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.get();
        AuditFilter {
            action: q.get("action").unwrap_or_default(),
            outcome: q.get("outcome").unwrap_or_default(),
        }
    };
    let events = Resource::new(filter, load_audit);
    view! {
        <Title text="Audit log — Visita"/>
        <StaffShell children=move |_| {
            let current = filter();
            view! {
                <h1>"Audit log"</h1>
                <p class="lead">"Every sign-in (and every refused one), and who saw or changed what. Newest first; at most 200."</p>
                <form method="get" action="/admin/audit" class="card inline-form" aria-label="Filter the audit log">
                    <label for="audit-action">"Action starts with"</label>
                    <input id="audit-action" name="action" value=current.action.clone() placeholder="login"/>
                    <label for="audit-outcome">"Outcome"</label>
                    <select id="audit-outcome" name="outcome">
                        {["", "ok", "denied", "failed"]
                            .into_iter()
                            .map(|o| {
                                let label = if o.is_empty() { "any" } else { o };
                                view! { <option value=o selected=current.outcome == o>{label}</option> }
                            })
                            .collect_view()}
                    </select>
                    <button type="submit" class="primary">"Show"</button>
                </form>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match events.await {
                            Ok(events) if events.is_empty() => view! { <p>"No event matches."</p> }.into_any(),
                            Ok(events) => view! {
                                <table class="list" data-testid="audit-events">
                                    <thead><tr>
                                        <th scope="col">"When (UTC)"</th>
                                        <th scope="col">"Action"</th>
                                        <th scope="col">"Outcome"</th>
                                        <th scope="col">"Who"</th>
                                        <th scope="col">"What"</th>
                                        <th scope="col">"From"</th>
                                    </tr></thead>
                                    <tbody>
                                        {events.into_iter().map(|e| {
                                            let (action, outcome) = (e.action.clone(), e.outcome.clone());
                                            view! {
                                            <tr data-action=action data-outcome=outcome>
                                                <td>{e.at.replace('T', " ").chars().take(19).collect::<String>()}</td>
                                                <td>{e.action}</td>
                                                <td>{e.outcome}</td>
                                                <td>{e.actor}</td>
                                                <td>{e.target}</td>
                                                <td>{e.ip}</td>
                                            </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                            Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            }
        }/>
    }
}
