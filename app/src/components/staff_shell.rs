//! The frame around every staff page: who is signed in, where they can go,
//! and the sign-out button. Pages render inside it only for a signed-in user;
//! anyone else is sent to the sign-in page.

use crate::api::auth::{Logout, current_user};
use crate::domain::{Principal, Role};
use crate::error::AppError;
use crate::islands::{Bundle, Live, PageScripts};
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Renders `children` with the signed-in principal, or redirects to `/login`.
#[component]
pub fn StaffShell<F, V>(children: F) -> impl IntoView
where
    F: Fn(Principal) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    let me = Resource::new(|| (), |_| current_user());
    let logout = ServerAction::<Logout>::new();

    view! {
        <leptos_meta::Html {..} lang="en"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match me.await {
                        Ok(Some(principal)) => {
                            let is_admin = principal.has_role(Role::Admin);
                            let roles = principal
                                .roles
                                .iter()
                                .map(|r| r.label())
                                .collect::<Vec<_>>()
                                .join(", ");
                            view! {
                                <header class="topbar">
                                    <a class="brand" href="/">"Visita"</a>
                                    <nav aria-label="Main">
                                        <a href="/">"Dashboard"</a>
                                        <Show when=move || is_admin>
                                            <a href="/admin/users">"Users"</a>
                                            <a href="/admin/queues">"Queues"</a>
                                            <a href="/admin/translators">"Translators"</a>
                                            <a href="/admin/messages">"Messages"</a>
                                            <a href="/admin/api-keys">"API keys"</a>
                                            <a href="/admin/webhooks">"Webhooks"</a>
                                            <a href="/admin/sign-in">"Sign-in"</a>
                                            <a href="/admin/audit">"Audit log"</a>
                                        </Show>
                                        <a href="/account/password">"My password"</a>
                                    </nav>
                                    <div class="who">
                                        <span class="who-name">{principal.name.clone()}</span>
                                        <span class="who-roles">{roles}</span>
                                        <ActionForm action=logout>
                                            <button type="submit" class="secondary">"Sign out"</button>
                                        </ActionForm>
                                    </div>
                                </header>
                                <main id="main">{children(principal)}</main>
                                <PageScripts live=Live::Islands(Bundle::Staff)/>
                            }
                                .into_any()
                        }
                        Ok(None) | Err(AppError::NotSignedIn) => {
                            view! { <Redirect path="/login"/> }.into_any()
                        }
                        Err(error) => {
                            view! {
                                <main id="main">
                                    <p class="notice error" role="alert">{error.to_string()}</p>
                                </main>
                            }
                                .into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}
