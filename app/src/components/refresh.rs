//! Keeping a list fresh inside an island after the island's own forms
//! change it: the list arrives with the page, and is fetched again each time
//! one of the given actions completes.

use crate::error::AppError;
use leptos::prelude::*;
use std::future::Future;

/// A signal holding `first`, re-fetched with `fetch` whenever `changed`
/// (typically the sum of some actions' versions) moves.
pub fn refreshed<T, F, Fut>(
    first: T,
    changed: impl Fn() -> usize + Send + Sync + 'static,
    fetch: F,
) -> RwSignal<T>
where
    T: Send + Sync + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AppError>> + 'static,
{
    let current = RwSignal::new(first);
    Effect::new(move |seen: Option<usize>| {
        let now = changed();
        if seen.is_some_and(|seen| seen != now) {
            let request = fetch();
            leptos::task::spawn_local(async move {
                if let Ok(fresh) = request.await {
                    current.set(fresh);
                }
            });
        }
        now
    });
    current
}
