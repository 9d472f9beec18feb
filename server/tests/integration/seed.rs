//! The seed-compatible session route through the whole router: the exact
//! answer's shape, JWTs that the links carry and that are checked on use
//! (a changed, foreign or unsigned one opens nothing), the company's name
//! and logo on the pages, the doctor hosting by link without an account;
//! and the REST API's booking by clinician name.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};
use server::config::Config;
use server::db::Db;
use server::realtime::Hub;
use server::rest::keys::{ApiKeys, DEFAULT_RATE_PER_MINUTE};
use server::state::AppState;

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

struct World {
    app: Router,
    key: String,
}

async fn world() -> World {
    let config = Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_PUBLIC_URL" => Some("https://visio.hospital.example".into()),
        "VISITA_WEBHOOK_ALLOW_NETWORKS" => Some("127.0.0.1".into()),
        _ => None,
    })
    .unwrap();
    let db = Db::in_memory().await.unwrap();
    db.migrate().await.unwrap();
    let (_, stop) = tokio::sync::watch::channel(false);
    let state = AppState::new(config, db.clone(), Hub::idle(), stop, vec![7; 32]).unwrap();
    let key = ApiKeys::new(db.clone())
        .create(
            "Seed integration",
            &["consultations:write".into(), "consultations:read".into()],
            DEFAULT_RATE_PER_MINUTE,
            "test",
        )
        .await
        .unwrap()
        .key;
    World {
        app: server::http::router(state),
        key,
    }
}

/// Serves the PNG at `/logo.png` and a page at `/page.html`.
async fn logo_server() -> String {
    let app = axum::Router::new()
        .route(
            "/logo.png",
            axum::routing::get(|| async { ([(header::CONTENT_TYPE, "image/png")], PNG) }),
        )
        .route(
            "/page.html",
            axum::routing::get(|| async { "<html>not an image</html>" }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn post(
    app: &Router,
    path: &str,
    key: Option<(&str, &str)>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some((name, value)) = key {
        request = request.header(name, value);
    }
    let (status, _, text) = send(app, request.body(Body::from(body.to_string())).unwrap()).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(app: &Router, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

fn claims_of(jwt: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(i).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (part(0), part(1))
}

/// The path and query of one of our absolute links.
fn local(link: &str) -> String {
    link.strip_prefix("https://visio.hospital.example")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_seed_route_answers_its_shape_and_its_links_open_branded_pages() {
    let w = world().await;
    let logos = logo_server().await;
    let bearer = format!("Bearer {}", w.key);
    let (status, session) = post(
        &w.app,
        "/v1/abm/video/sessions/create/simple",
        // Integrations of the seed service send their key as X-API-Key.
        Some(("x-api-key", &w.key)),
        json!({
            "doctorFullName": "Dr Claire Martin",
            "patientFullName": "Zoë Lambert",
            "companyName": "Clinique des Lilas",
            "companyLogoUrl": format!("{logos}/logo.png"),
            "displayMode": "embedded",
            "somethingElse": "ignored, as the seed service did"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let mut keys: Vec<&str> = session
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "doctorJwt",
            "doctorLink",
            "patientJwt",
            "patientLink",
            "room",
            "sessionId",
            "status"
        ]
    );
    assert_eq!(session["status"], "OPEN");
    let room = session["room"].as_str().unwrap();
    assert_eq!(session["sessionId"], room);
    for who in ["doctor", "patient"] {
        let jwt = session[format!("{who}Jwt")].as_str().unwrap();
        assert_eq!(
            session[format!("{who}Link")],
            format!("https://visio.hospital.example/session/{room}?jwt={jwt}")
        );
        let (header, claims) = claims_of(jwt);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(claims["role"], who);
        assert_eq!(claims["room"], room);
        assert_eq!(claims["iss"], "https://visio.hospital.example");
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    }
    assert_eq!(
        claims_of(session["doctorJwt"].as_str().unwrap()).1["name"],
        "Dr Claire Martin"
    );

    // The doctor's link leads to their invite page: the company, its logo,
    // and that they run it.
    let (status, headers, _) = get(&w.app, &local(session["doctorLink"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let invite = headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(invite.starts_with("/j/"), "{invite}");
    let (status, _, page) = get(&w.app, &invite).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Clinique des Lilas"), "{page}");
    assert!(
        page.contains("You run this consultation, Dr Claire Martin."),
        "{page}"
    );
    let logo = page
        .split("src=\"/brand/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the logo on the page");
    let (status, headers, _) = get(&w.app, &format!("/brand/{logo}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    let (status, _, page) = get(&w.app, &local(session["patientLink"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");

    // A JWT changed, made for another room, or unsigned opens nothing.
    let doctor_jwt = session["doctorJwt"].as_str().unwrap();
    let (head, sig) = doctor_jwt.rsplit_once('.').unwrap();
    let flipped = format!(
        "{head}.{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    let (_, claims) = claims_of(doctor_jwt);
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let mut patient_claims = claims.clone();
    patient_claims["role"] = json!("patient");
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let resigned_elsewhere = format!(
        "{}.{}.{sig}",
        b64(&json!({"alg": "HS256", "typ": "JWT"})),
        b64(&patient_claims)
    );
    for (jwt, room) in [
        (flipped.as_str(), room),
        (doctor_jwt, "anotherroom"),
        (unsigned.as_str(), room),
        (resigned_elsewhere.as_str(), room),
        ("", room),
    ] {
        let (status, _, page) = get(&w.app, &format!("/session/{room}?jwt={jwt}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{jwt}");
        assert!(page.contains("This link does not work"));
    }

    // The REST API shows the doctor's own link (they have no account).
    let api = Request::get(format!("/api/v1/consultations/{room}"))
        .header(header::AUTHORIZATION, &bearer)
        .body(Body::empty())
        .unwrap();
    let (status, _, text) = send(&w.app, api).await;
    assert_eq!(status, StatusCode::OK);
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["clinicianName"], "Dr Claire Martin");
    assert_eq!(
        format!(
            "/j/{}",
            shown["doctorLink"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
        ),
        invite
    );
}

#[tokio::test]
async fn bad_session_requests_are_refused_in_plain_words() {
    let w = world().await;
    let logos = logo_server().await;
    let route = "/v1/abm/video/sessions/create/simple";
    let body = json!({"doctorFullName": "Dr A", "patientFullName": "P B"});
    let (status, problem) = post(&w.app, route, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let key = Some(("authorization", format!("Bearer {}", w.key)));
    let key = key.as_ref().map(|(n, v)| (*n, v.as_str()));
    let (status, problem) = post(&w.app, route, key, json!({"patientFullName": "P B"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "doctorFullName", "{problem}");
    let (status, problem) = post(
        &w.app,
        route,
        key,
        json!({"doctorFullName": " ", "patientFullName": "P"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "doctorFullName", "{problem}");
    // A logo that is not an image, or is internal, is left out: the session
    // is made all the same.
    for url in [
        format!("{logos}/page.html"),
        "http://10.0.0.1/logo.png".into(),
    ] {
        let (status, session) = post(
            &w.app,
            route,
            key,
            json!({"doctorFullName": "Dr A", "patientFullName": "P B", "companyLogoUrl": url}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{session}");
        let (_, headers, _) = get(&w.app, &local(session["patientLink"].as_str().unwrap())).await;
        let (_, _, page) = get(&w.app, headers[header::LOCATION].to_str().unwrap()).await;
        assert!(!page.contains("/brand/"), "no logo for {url}");
    }
}

#[tokio::test]
async fn the_api_books_for_a_clinician_by_name() {
    let w = world().await;
    let bearer = format!("Bearer {}", w.key);
    let key = Some(("authorization", bearer.as_str()));
    let booking = |host: Value| {
        let mut body =
            json!({"patientName": "Noor Haddad", "timezone": "Europe/Paris", "sendInvite": false});
        for (k, v) in host.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let (status, created) = post(
        &w.app,
        "/api/v1/consultations",
        key,
        booking(json!({"clinicianName": "Dr Omar Khan"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["clinicianName"], "Dr Omar Khan");
    let doctor = created["doctorLink"].as_str().unwrap();
    assert!(
        doctor.starts_with("https://visio.hospital.example/j/"),
        "{doctor}"
    );
    assert_ne!(doctor, created["patientLink"].as_str().unwrap());
    let (status, _, page) = get(&w.app, &local(doctor)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("You run this consultation, Dr Omar Khan."),
        "{page}"
    );
    // The key still acts on it (in the clinician's name).
    let (status, cancelled) = post(
        &w.app,
        &format!(
            "/api/v1/consultations/{}/cancel",
            created["id"].as_str().unwrap()
        ),
        key,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert!(
        cancelled["doctorLink"].is_null(),
        "a cancelled one opens for nobody: {cancelled}"
    );

    for host in [
        json!({}),
        json!({"clinicianName": "Dr X", "clinicianEmail": "x@h.org"}),
    ] {
        let (status, problem) = post(&w.app, "/api/v1/consultations", key, booking(host)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["field"], "clinicianEmail");
    }
    let (status, problem) = post(
        &w.app,
        "/api/v1/consultations",
        key,
        booking(json!({"clinicianName": "  "})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "clinicianName");
}
