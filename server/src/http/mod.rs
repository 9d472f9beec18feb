//! The HTTP face of Visita: one axum router for pages, server functions,
//! static files and operations endpoints, wrapped in the layers every request
//! passes (session, CSRF, security headers, tracing).

pub mod assets;
pub mod client_ip;
pub mod csrf;
pub mod files;
pub mod health;
pub mod metrics;
pub mod panics;
pub mod portal;
pub mod saml;
pub mod session;
pub mod sso;
pub mod webhooks;

use crate::state::AppState;
use app::ssr::Services;
use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware;
use axum::routing::get;
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body accepted; server-function forms are tiny.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Builds the whole application. Tests call this without a socket.
pub fn router(state: AppState) -> Router {
    let options = state.leptos.clone();
    let routes = generate_route_list(app::App);
    let services = Services {
        accounts: state.accounts.clone(),
        consultations: state.consultations.clone(),
        messaging: state.notifier.clone(),
        api_keys: state.api_keys.clone(),
        webhooks: state.webhooks.clone(),
    };
    let version = state.assets.clone();
    let provide = move || {
        provide_context(services.clone());
        provide_context(version.clone());
    };

    let pages = Router::new()
        .route("/healthz", get(health::healthz).with_state(state.clone()))
        .route(
            webhooks::INBOUND_PATH,
            axum::routing::post(webhooks::twilio_inbound).with_state(state.clone()),
        )
        .route(
            webhooks::STATUS_PATH,
            axum::routing::post(webhooks::twilio_status).with_state(state.clone()),
        )
        .route("/metrics", get(metrics::metrics).with_state(state.clone()))
        .merge(crate::rest::router(state.clone()))
        .merge(crate::fhir::router(state.clone()))
        .route(
            "/consultations/{id}/files",
            axum::routing::post(files::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    state.config.attachment_max_bytes as usize + 64 * 1024,
                ))
                .with_state(state.clone()),
        )
        .route(
            "/files/{id}",
            get(files::download).with_state(state.clone()),
        )
        .route("/auth/jwt", get(portal::sign_in).with_state(state.clone()))
        .route(
            "/auth/oidc/{id}",
            get(sso::oidc_start).with_state(state.clone()),
        )
        .route(
            "/auth/oidc/{id}/callback",
            get(sso::oidc_callback).with_state(state.clone()),
        )
        .route("/auth/saml", get(saml::start).with_state(state.clone()))
        .route(
            "/auth/saml/metadata",
            get(saml::metadata).with_state(state.clone()),
        )
        .route(
            "/auth/saml/acs",
            axum::routing::post(saml::acs)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::auth::saml::MAX_RESPONSE_CHARS + 8 * 1024,
                ))
                .with_state(state.clone()),
        )
        .route(
            "/session/{room}",
            get(crate::rest::seed::open).with_state(state.clone()),
        )
        .route(
            "/brand/{key}",
            get(crate::branding::logo).with_state(state.clone()),
        )
        .route(
            "/consultations/{id}/report.pdf",
            get(files::report).with_state(state.clone()),
        )
        .route(
            app::realtime::PATH,
            get(crate::realtime::socket::upgrade).with_state(state.clone()),
        )
        .leptos_routes_with_context(&options, routes, provide.clone(), {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            LeptosOptions,
            _,
        >(provide, app::shell))
        .with_state(options);

    let trusted = Arc::new(csrf::TrustedOrigin(
        state.config.public_origin().to_string(),
    ));
    pages
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::gate_staff_pages,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::attach,
        ))
        .layer(middleware::from_fn_with_state(trusted, csrf::guard))
        .layer(middleware::from_fn_with_state(
            state.assets.clone(),
            assets::cache_control,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(security_header("x-frame-options", "DENY"))
        .layer(security_header("referrer-policy", "same-origin"))
        .layer(middleware::from_fn_with_state(
            state.config.is_https(),
            strict_transport,
        ))
        // Pages and JSON are compressed on the fly (brotli or gzip, as the
        // browser offers); static files are already stored compressed.
        .layer(middleware::from_fn(panics::catch))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Under https, tell browsers never to come back over plain http.
async fn strict_transport(
    axum::extract::State(https): axum::extract::State<bool>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if https {
        response.headers_mut().insert(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

fn security_header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}
