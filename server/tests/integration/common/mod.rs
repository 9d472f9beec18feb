//! Helpers shared by the router tests: an app on an in-memory database,
//! requests without a socket, sign-in.

#![allow(dead_code)]
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use server::accounts::AccountService;
use server::config::Config;
use server::db::Db;
use server::realtime::Hub;
use server::state::AppState;
use tower::ServiceExt;

pub const ADMIN_PASSWORD: &str = "admin password 123";

/// Files (attachments) of test routers go here, never into the source tree.
fn scratch_dir() -> String {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
        .path()
        .display()
        .to_string()
}

pub async fn app() -> (Router, Db) {
    app_with(&[]).await
}

/// The router with a first admin, with extra settings.
pub async fn app_with(extra: &[(&'static str, &'static str)]) -> (Router, Db) {
    let extra = extra.to_vec();
    let config = Config::from_sources(None, &move |name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_DATA_DIR" => Some(scratch_dir()),
        "VISITA_ADMIN_EMAIL" => Some("admin@h.org".into()),
        "VISITA_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.into()),
        other => extra
            .iter()
            .find(|(k, _)| *k == other)
            .map(|(_, v)| v.to_string())
            // Tests of other things sign the admin in by password alone.
            .or_else(|| (other == "VISITA_TOTP_ADMINS").then(|| "optional".into())),
    })
    .unwrap();
    let db = Db::in_memory().await.unwrap();
    AccountService::new(db.clone(), &config)
        .ensure_first_admin(&config.admin_email, Some(ADMIN_PASSWORD))
        .await
        .unwrap();
    (router_on(db.clone(), config), db)
}

/// The router over a given database, as `serve` builds it.
pub fn router_on(db: Db, config: Config) -> Router {
    let (_, stop) = tokio::sync::watch::channel(false);
    let state =
        AppState::new(config, db, Hub::idle(), stop, vec![7; 32]).expect("messaging set up");
    server::http::router(state)
}

/// A router whose database handle was never connected: every query fails.
pub fn router_without_database() -> Router {
    let config = Config::from_sources(None, &|_| None).unwrap();
    router_on(Db::from_handle(surrealdb::Surreal::init()), config)
}

pub async fn send(
    app: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

pub fn form(path: &str, body: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

/// Signs in and returns the `name=value` of the session cookie.
pub async fn sign_in(app: &Router, email: &str, password: &str) -> String {
    let body = format!(
        "email={}&password={}",
        email.replace('@', "%40"),
        password.replace(' ', "+")
    );
    let (status, headers, text) = send(app, form("/api/login", &body, None)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let cookie = headers
        .get(header::SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

/// "Dr House", a doctor of the default queue, created straight in `db`:
/// the clinician of the messaging tests.
pub async fn doctor(db: &Db, config: &Config) -> app::domain::Principal {
    use app::consultation::{DEFAULT_QUEUE, QueueId};
    use app::domain::{NewUser, Principal, Role, UserId};
    let summary = AccountService::new(db.clone(), config)
        .create_user_unchecked(
            NewUser {
                email: "house@h.org".into(),
                name: "Dr House".into(),
                roles: vec![Role::Doctor],
                password: "a long enough password".into(),
            },
            None,
            None,
        )
        .await
        .unwrap();
    Principal {
        user_id: UserId(summary.id.0),
        email: "house@h.org".into(),
        name: "Dr House".into(),
        roles: vec![Role::Doctor],
        queues: vec![QueueId(DEFAULT_QUEUE.into())],
        languages: Vec::new(),
    }
}
