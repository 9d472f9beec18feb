//! The whole router, called without a socket, on an in-memory database:
//! health, redirects, sign-in cookies, CSRF, roles on server functions, and
//! session expiry.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

#[tokio::test]
async fn an_admin_password_alone_opens_no_session_when_a_second_step_is_required() {
    let (app, _) = app_with(&[("VISITA_TOTP_ADMINS", "required")]).await;
    let body = format!(
        "email=admin%40h.org&password={}",
        ADMIN_PASSWORD.replace(' ', "+")
    );
    let (status, headers, text) = send(&app, form("/api/login", &body, None)).await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {text}"
    );
    let cookies: Vec<&str> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("visita_2fa=")),
        "{cookies:?}"
    );
    assert!(
        !cookies.iter().any(|c| c.starts_with("visita_session=")),
        "{cookies:?}"
    );
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(location, "/login/setup", "{headers:?}");
    // The pending sign-in's cookie is no session.
    let pending = cookies[0].split(';').next().unwrap();
    let dashboard = Request::get("/")
        .header(header::COOKIE, pending)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&app, dashboard).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");
    // A code that is not the authenticator's is refused, in words.
    let (status, _, text) = send(&app, form("/api/login/code", "code=000000", Some(pending))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("not right"), "{text}");
}

#[tokio::test]
async fn health_reports_the_database() {
    let (app, _) = app().await;
    let (status, _, body) = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["db"], "ok");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn health_says_503_when_the_database_does_not_answer() {
    let app = router_without_database();
    let (status, _, body) = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains(r#""db":"unreachable""#), "{body}");
}

#[tokio::test]
async fn a_database_outage_is_a_503_not_a_sign_out() {
    let app = router_without_database();
    let cookie = format!("visita_session={}", "ab".repeat(32));
    let request = Request::get("/")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        headers.get(header::SET_COOKIE).is_none(),
        "the session cookie is kept"
    );
    assert!(body.contains("cannot reach its database"), "{body}");
}

#[tokio::test]
async fn pages_answer_403_to_roles_they_are_not_for() {
    let (app, _) = app().await;
    let admin = sign_in(&app, "admin@h.org", ADMIN_PASSWORD).await;
    let create = "email=doc%40h.org&name=Doc&role=doctor&password=doctor+password+1";
    let (status, _, _) = send(&app, form("/api/users/create", create, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    let doctor = sign_in(&app, "doc@h.org", "doctor password 1").await;
    let request = Request::get("/admin/users")
        .header(header::COOKIE, &doctor)
        .body(Body::empty())
        .unwrap();
    let (status, _, html) = send(&app, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("You are not allowed to do this.") && !html.contains("First password"));
    let request = Request::get("/admin/users")
        .header(header::COOKIE, &admin)
        .body(Body::empty())
        .unwrap();
    let (status, _, html) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("doc@h.org"),
        "the admin sees the list rendered on the server"
    );
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_staff_see_their_dashboard() {
    let (app, _) = app().await;
    let (status, headers, _) = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");

    let cookie = sign_in(&app, "admin@h.org", ADMIN_PASSWORD).await;
    let request = Request::get("/")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let (status, _, html) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No consultations today."), "{html}");
    assert!(html.contains("Administrator"));
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let (app, _) = app().await;
    let (status, _, html) = send(
        &app,
        Request::get("/no/such/page").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_accounts_get_the_same_401() {
    let (app, _) = app().await;
    for body in [
        "email=admin%40h.org&password=wrong+password+x",
        "email=ghost%40h.org&password=wrong+password+x",
    ] {
        let (status, _, text) = send(&app, form("/api/login", body, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(text, r#""InvalidCredentials""#);
    }
}

#[tokio::test]
async fn every_user_server_function_checks_the_role() {
    let (app, _) = app().await;
    // Nobody signed in.
    let (status, _, _) = send(&app, form("/api/users/list", "", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let admin = sign_in(&app, "admin@h.org", ADMIN_PASSWORD).await;
    let create = "email=doc%40h.org&name=Doc&role=doctor&password=doctor+password+1";
    let (status, _, body) = send(&app, form("/api/users/create", create, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send(&app, form("/api/users/create", create, Some(&admin))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let bad = "email=not-an-email&name=X&role=doctor&password=doctor+password+1";
    let (status, _, body) = send(&app, form("/api/users/create", bad, Some(&admin))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Enter an email address"), "{body}");

    let doctor = sign_in(&app, "doc@h.org", "doctor password 1").await;
    for (path, body) in [
        ("/api/users/list", ""),
        (
            "/api/users/create",
            "email=x%40h.org&name=X&role=admin&password=xxxxxxxxxxxxxx",
        ),
        ("/api/users/set-disabled", "id=whatever&disabled=true"),
        (
            "/api/users/reset-password",
            "id=whatever&password=xxxxxxxxxxxxxx",
        ),
    ] {
        let (status, _, text) = send(&app, form(path, body, Some(&doctor))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {text}");
    }
    let (status, _, text) = send(&app, form("/api/users/list", "", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("doc@h.org") && !text.contains("argon2"),
        "no hashes leave the server: {text}"
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused_before_any_work() {
    let (app, _) = app().await;
    let request = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(format!(
            "email=admin%40h.org&password={}",
            ADMIN_PASSWORD.replace(' ', "+")
        )))
        .unwrap();
    let (status, headers, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn idle_sessions_end_and_the_browser_is_told_to_forget_them() {
    let (app, db) = app().await;
    let cookie = sign_in(&app, "admin@h.org", ADMIN_PASSWORD).await;
    db.surreal()
        .query("UPDATE session SET last_seen = time::now() - 31m")
        .await
        .unwrap()
        .check()
        .unwrap();
    let request = Request::get("/")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&app, request).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "an idle session no longer opens staff pages"
    );
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let remaining: Vec<serde_json::Value> = db
        .surreal()
        .query("SELECT * FROM session")
        .await
        .unwrap()
        .take(0)
        .unwrap();
    assert!(remaining.is_empty(), "the expired session row is deleted");
}

#[tokio::test]
async fn sign_in_and_account_changes_are_audited() {
    let (app, db) = app().await;
    let _ = send(
        &app,
        form(
            "/api/login",
            "email=admin%40h.org&password=wrong+password+x",
            None,
        ),
    )
    .await;
    let admin = sign_in(&app, "admin@h.org", ADMIN_PASSWORD).await;
    let create = "email=n%40h.org&name=N&role=nurse&password=nurse+password+12";
    send(&app, form("/api/users/create", create, Some(&admin))).await;
    let events = db.recent_audit(10).await.unwrap();
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.action.clone(), e.outcome.clone()))
        .collect();
    assert!(
        summary.contains(&("login".into(), "failed".into())),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("login".into(), "ok".into())),
        "{summary:?}"
    );
    let created = events
        .iter()
        .find(|e| e.action == "user.create")
        .expect("creation audited");
    assert_eq!(created.actor_email.as_deref(), Some("admin@h.org"));
    assert_eq!(created.target.as_deref(), Some("n@h.org"));
}
