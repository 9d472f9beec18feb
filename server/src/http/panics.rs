//! A last line of defence: a bug that panics while answering a request
//! must not drop the connection without a word (the browser would show
//! "empty response"). The person gets a plain 500 page; the panic itself is
//! logged by the panic hook with its location.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

pub async fn catch(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%path, "a request handler panicked; answered 500");
            (StatusCode::INTERNAL_SERVER_ERROR, Html(BROKEN_PAGE)).into_response()
        }
    }
}

const BROKEN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Something went wrong — Visita</title><link rel="stylesheet" href="/pkg/visita.css"></head>
<body><main id="main" class="narrow"><h1>Something went wrong</h1>
<p class="notice error" role="alert">Visita could not show this page because of an error on our side. Nothing you saved is lost.</p>
<p>Try again in a moment. If it keeps happening, tell your clinic or your Visita administrator.</p>
</main></body></html>"#;

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    async fn broken() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500() {
        let app = Router::new()
            .route("/boom", get(broken))
            .layer(axum::middleware::from_fn(super::catch));
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
