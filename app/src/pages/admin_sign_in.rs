//! Administrators see every configured way to sign in (never a secret),
//! Visita's SAML metadata, and try each method: "Try sign-in" shows what
//! the method says about someone and which roles Visita would give.

use crate::api::sign_in_admin::{TryDirectoryLogin, load_sign_in_methods};
use crate::components::staff_shell::StaffShell;
use crate::domain::SignInMethodInfo;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminSignInPage() -> impl IntoView {
    let methods = Resource::new(|| (), |_| load_sign_in_methods());
    view! {
        <Title text="Sign-in methods — Visita"/>
        <StaffShell children=move |_| view! {
            <h1>"Sign-in methods"</h1>
            <p class="lead">"How staff sign in, as set in visita.toml or the environment. Try each one before telling staff: you see what it sends and which roles it gives, and nobody is signed in."</p>
            <p><a href="/admin/audit?action=login">"See the sign-in events in the audit log"</a></p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match methods.await {
                        Ok(methods) => methods.into_iter().map(|m| view! { <MethodCard method=m/> }).collect_view().into_any(),
                        Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

#[component]
fn MethodCard(method: SignInMethodInfo) -> impl IntoView {
    let try_directory = method.try_directory;
    let kind = method.kind.clone();
    let try_link = method.try_href.clone().map(|href| {
        view! {
            <a class="button" href=href>"Try sign-in"</a>
        }
    });
    view! {
        <section class="card stack" data-testid="sign-in-method" data-kind=kind>
            <h2>{method.kind}": "{method.name}</h2>
            <table class="list"><tbody>
                {method.details.into_iter().map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{v}</td></tr> }).collect_view()}
            </tbody></table>
            {try_link}
            {try_directory.then(|| view! { <TryDirectory/> })}
        </section>
    }
}

#[island]
fn TryDirectory() -> impl IntoView {
    let attempt = ServerAction::<TryDirectoryLogin>::new();
    view! {
        <ActionForm action=attempt attr:class="stack" attr:aria-label="Try a directory sign-in">
            <label for="try-login">"Directory login"</label>
            <input id="try-login" name="login" autocomplete="off" required/>
            <label for="try-password">"Its password"</label>
            <input id="try-password" name="password" type="password" autocomplete="off" required/>
            <button type="submit" class="secondary">"Try sign-in"</button>
        </ActionForm>
        {move || attempt.value().get().map(|outcome| match outcome {
            Ok(lines) => view! {
                <table class="list" data-testid="try-report"><tbody>
                    {lines.into_iter().map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{v}</td></tr> }).collect_view()}
                </tbody></table>
            }.into_any(),
            Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
        })}
    }
}
