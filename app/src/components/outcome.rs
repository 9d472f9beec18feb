//! How the result of a form is shown: errors in an alert that screen readers
//! announce at once, successes in a polite status line.

use crate::error::AppError;
use leptos::prelude::*;

/// Shows the last result of `action`: its error, or `success` when it went well.
#[component]
pub fn ActionOutcome<T>(
    #[prop(into)] value: Signal<Option<Result<T, AppError>>>,
    #[prop(into)] success: String,
) -> impl IntoView
where
    T: Send + Sync + 'static,
{
    move || {
        value.with(|result| match result {
            Some(Err(error)) => {
                view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any()
            }
            Some(Ok(_)) => {
                view! { <p class="notice success" role="status">{success.clone()}</p> }.into_any()
            }
            None => ().into_any(),
        })
    }
}
