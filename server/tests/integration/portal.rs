//! Sign-in from the hospital portal by a signed JWT, through the whole
//! router: a good token opens the doctor's dashboard once; the attacks that
//! matter are refused with a plain page and an audit event each — `alg:
//! none`, HS256 signed with the RSA public key as secret, `exp` given as a
//! string, expired, replayed, another audience, no `jti`, an email with no
//! account.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use server::config::Config;
use server::db::Db;
use server::realtime::Hub;
use server::state::AppState;

const PRIVATE: &[u8] = include_bytes!("fixtures/portal_rsa_private.pem");
const PUBLIC: &[u8] = include_bytes!("fixtures/portal_rsa_public.pem");
const ISSUER: &str = "https://portal.hospital.example";
const AUDIENCE: &str = "visita";

struct World {
    app: Router,
    db: Db,
}

async fn world() -> World {
    let key_file = std::env::temp_dir().join(format!("visita-portal-{}.pem", std::process::id()));
    std::fs::write(&key_file, PUBLIC).unwrap();
    world_with((
        "VISITA_PORTAL_JWT_PUBLIC_KEY_FILE",
        key_file.display().to_string(),
    ))
    .await
}

/// The portal's key given as `key` (a PEM file, or a JWKS URL).
async fn world_with(key: (&'static str, String)) -> World {
    let config = Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_PORTAL_JWT_ALGORITHM" => Some("RS256".into()),
        name if name == key.0 => Some(key.1.clone()),
        "VISITA_PORTAL_JWT_ISSUER" => Some(ISSUER.into()),
        "VISITA_PORTAL_JWT_AUDIENCE" => Some(AUDIENCE.into()),
        _ => None,
    })
    .unwrap();
    let db = Db::in_memory().await.unwrap();
    doctor(&db, &config).await;
    let (_, stop) = tokio::sync::watch::channel(false);
    let state = AppState::new(config, db.clone(), Hub::idle(), stop, vec![7; 32]).unwrap();
    World {
        app: server::http::router(state),
        db,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(jti: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "house", "email": "house@h.org",
        "iat": now(), "exp": now() + 300, "jti": jti
    })
}

fn rs256(claims: &Value) -> String {
    rs256_kid(claims, None)
}

fn rs256_kid(claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(PRIVATE).unwrap(),
    )
    .unwrap()
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn open(app: &Router, token: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    send(
        app,
        Request::get(format!("/auth/jwt?token={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_portal_token_opens_the_dashboard_once() {
    let w = world().await;
    let token = rs256(&claims("one-time-1"));
    let (status, headers, _) = open(&w.app, &token).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let (status, _, page) = send(
        &w.app,
        Request::get("/")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Dr House"), "the doctor's dashboard");

    let (status, _, page) = open(&w.app, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("already used"), "{page}");
}

#[tokio::test]
async fn forged_expired_and_replayed_tokens_are_refused_and_audited() {
    let w = world().await;
    let public_as_secret = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("hs-1"),
        &EncodingKey::from_secret(PUBLIC),
    )
    .unwrap();
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims("none-1"))
    );
    let mut string_exp = claims("str-1");
    string_exp["exp"] = json!((now() + 300).to_string());
    let mut expired = claims("old-1");
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    let mut other_audience = claims("aud-1");
    other_audience["aud"] = json!("another-app");
    let mut no_jti = claims("x");
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut stranger = claims("who-1");
    stranger["email"] = json!("nobody@h.org");
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned, "not signed as this server expects"),
        (
            "HS256 with the public key",
            public_as_secret,
            "not signed as this server expects",
        ),
        ("exp as a string", rs256(&string_exp), "wrong type"),
        ("expired", rs256(&expired), "expired"),
        (
            "another audience",
            rs256(&other_audience),
            "not for this server",
        ),
        ("no jti", rs256(&no_jti), "required claim"),
        ("no account", rs256(&stranger), "no active staff account"),
        ("garbage", "not.a.token".into(), "no valid token"),
    ];
    for (what, token, says) in &cases {
        let (status, headers, page) = open(&w.app, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(!headers.contains_key(header::SET_COOKIE), "{what}");
        assert!(page.contains("sign-in-refused"), "{what}");
        assert!(page.contains(says), "{what}: {page}");
    }
    let denied =
        w.db.recent_audit(50)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "login.portal" && e.outcome == "denied")
            .count();
    assert_eq!(denied, cases.len(), "one audit event per refusal");
}

#[tokio::test]
async fn the_portal_key_may_come_from_its_jwks_url() {
    let jwks = include_str!("fixtures/portal_jwks.json");
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(
            move || async move { ([(header::CONTENT_TYPE, "application/json")], jwks) },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let w = world_with((
        "VISITA_PORTAL_JWT_JWKS_URL",
        format!("http://{addr}/jwks.json"),
    ))
    .await;
    let (status, headers, _) =
        open(&w.app, &rs256_kid(&claims("kid-1"), Some("portal-2026"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers.contains_key(header::SET_COOKIE));
    // A key id the set does not have: refused.
    let (status, _, page) = open(&w.app, &rs256_kid(&claims("kid-2"), Some("rotated-away"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("not signed as this server expects"), "{page}");

    // A key set that cannot be fetched: a plain refusal, not an error page.
    let gone = world_with((
        "VISITA_PORTAL_JWT_JWKS_URL",
        "http://127.0.0.1:9/jwks.json".into(),
    ))
    .await;
    let (status, _, page) =
        open(&gone.app, &rs256_kid(&claims("kid-3"), Some("portal-2026"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("cannot be fetched"), "{page}");
}
