use leptos::prelude::*;

/// Any address we do not know. Answers 404 during server rendering.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <leptos_meta::Html {..} lang="en"/>
        <main id="main" class="narrow">
            <h1>"Page not found"</h1>
            <p>"This address does not exist in Visita. Check the link, or go to the "<a href="/">"start page"</a>"."</p>
        </main>
        <crate::islands::PageScripts live=crate::islands::Live::Static/>
    }
}
