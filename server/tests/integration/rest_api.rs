//! The REST API through the whole router, with keys made as the command
//! line makes them: what each kind of key is let do, the problem documents
//! of every refusal, booking for a clinician with the links back, reading,
//! listing page by page, cancelling.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use server::config::Config;
use server::db::Db;
use server::rest::keys::{ApiKeys, DEFAULT_RATE_PER_MINUTE};

struct World {
    app: Router,
    db: Db,
    writer: String,
    reader: String,
}

async fn world() -> World {
    let (app, db) = app().await;
    let config = Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        _ => None,
    })
    .unwrap();
    doctor(&db, &config).await;
    let keys = ApiKeys::new(db.clone());
    let writer = keys
        .create(
            "Agenda",
            &["consultations:write".into(), "consultations:read".into()],
            DEFAULT_RATE_PER_MINUTE,
            "test",
        )
        .await
        .unwrap()
        .key;
    let reader = keys
        .create(
            "Reports",
            &["consultations:read".into()],
            DEFAULT_RATE_PER_MINUTE,
            "test",
        )
        .await
        .unwrap()
        .key;
    World {
        app,
        db,
        writer,
        reader,
    }
}

fn request(method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (status, headers, text) = send(app, request).await;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

fn booking() -> Value {
    json!({
        "patientName": "Zoë Lambert",
        "patientPhone": "+41 79 123 45 67",
        "language": "fr",
        "timezone": "Europe/Zurich",
        "scheduledAt": "2099-03-01T09:30:00+01:00",
        "clinicianEmail": "house@h.org",
        "sendInvite": false,
        "externalId": "EMR-42",
        "metadata": {"ward": "B", "priority": 2}
    })
}

/// A problem document with this status (and field).
fn assert_problem(
    (status, headers, body): &(StatusCode, axum::http::HeaderMap, Value),
    expected: StatusCode,
    field: Option<&str>,
) {
    assert_eq!(*status, expected, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(body["status"], expected.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    match field {
        Some(field) => assert_eq!(body["field"], field, "{body}"),
        None => assert!(body.get("field").is_none(), "{body}"),
    }
}

#[tokio::test]
async fn keys_are_checked_and_refusals_are_problem_documents() {
    let w = world().await;
    let path = "/api/v1/consultations";
    let none = call(&w.app, request("POST", path, None, Some(booking()))).await;
    assert_problem(&none, StatusCode::UNAUTHORIZED, None);
    assert!(none.1.contains_key(header::WWW_AUTHENTICATE));
    // The same key with its last digit changed.
    let (head, last) = w.writer.split_at(w.writer.len() - 1);
    let forged = format!("{head}{}", if last == "0" { "1" } else { "0" });
    let wrong = call(
        &w.app,
        request("POST", path, Some(&forged), Some(booking())),
    )
    .await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED, None);
    let garbage = call(&w.app, request("GET", path, Some("not-a-key"), None)).await;
    assert_problem(&garbage, StatusCode::UNAUTHORIZED, None);
    let scope = call(
        &w.app,
        request("POST", path, Some(&w.reader), Some(booking())),
    )
    .await;
    assert_problem(&scope, StatusCode::FORBIDDEN, None);
    assert!(
        scope.2["detail"]
            .as_str()
            .unwrap()
            .contains("consultations:write")
    );
    let listed = call(&w.app, request("GET", path, Some(&w.reader), None)).await;
    assert_eq!(listed.0, StatusCode::OK, "{}", listed.2);
    let (status, _, queues) = call(
        &w.app,
        request("GET", "/api/v1/queues", Some(&w.reader), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        queues
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["id"] == "default"),
        "{queues}"
    );

    // Revoked: refused at once.
    let keys = ApiKeys::new(w.db.clone());
    let id = w.reader.split('_').nth(1).unwrap();
    keys.revoke(id, chrono::Utc::now()).await.unwrap();
    let revoked = call(&w.app, request("GET", path, Some(&w.reader), None)).await;
    assert_problem(&revoked, StatusCode::UNAUTHORIZED, None);
    assert!(revoked.2["detail"].as_str().unwrap().contains("revoked"));
    assert!(keys.revoke(id, chrono::Utc::now()).await.is_err(), "twice");

    let unknown_route = call(
        &w.app,
        request("GET", "/api/v1/nothing", Some(&w.writer), None),
    )
    .await;
    assert_problem(&unknown_route, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn bad_bodies_name_their_field() {
    let w = world().await;
    let post = |body: Value| request("POST", "/api/v1/consultations", Some(&w.writer), Some(body));
    let with = |key: &str, value: Value| {
        let mut body = booking();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = booking();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with("patientName", json!(5)),
            StatusCode::BAD_REQUEST,
            "patientName",
        ),
        (
            without("clinicianEmail"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "clinicianEmail",
        ),
        (
            with("surname", json!("x")),
            StatusCode::BAD_REQUEST,
            "surname",
        ),
        (
            with("scheduledAt", json!("tomorrow")),
            StatusCode::BAD_REQUEST,
            "scheduledAt",
        ),
        (
            with("patientPhone", json!("12")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "patientPhone",
        ),
        (
            with("patientName", json!("  ")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "patientName",
        ),
        (
            with("timezone", json!("Mars/Olympus")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "timezone",
        ),
        (
            with("scheduledAt", json!("2001-01-01T10:00:00Z")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "scheduledAt",
        ),
        (
            with("scheduledAt", json!("2099-01-01T10:00:30Z")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "scheduledAt",
        ),
        (
            with("clinicianEmail", json!("nobody@h.org")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "clinicianEmail",
        ),
        (
            with("queue", json!("nowhere")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue",
        ),
        (
            with("externalId", json!("")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "externalId",
        ),
    ];
    for (body, status, field) in cases {
        let answer = call(&w.app, post(body.clone())).await;
        assert_problem(&answer, status, Some(field));
    }
    let not_json = Request::post("/api/v1/consultations")
        .header(header::AUTHORIZATION, format!("Bearer {}", w.writer))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hello"))
        .unwrap();
    assert_problem(
        &call(&w.app, not_json).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
    );
    let broken = Request::post("/api/v1/consultations")
        .header(header::AUTHORIZATION, format!("Bearer {}", w.writer))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"patientName\": "))
        .unwrap();
    assert_eq!(call(&w.app, broken).await.0, StatusCode::BAD_REQUEST);
    // Nothing was booked by any of these.
    let listed = call(
        &w.app,
        request("GET", "/api/v1/consultations", Some(&w.writer), None),
    )
    .await;
    assert_eq!(listed.2["items"], json!([]));
}

#[tokio::test]
async fn a_key_books_reads_lists_and_cancels() {
    let w = world().await;
    let (status, headers, created) = call(
        &w.app,
        request(
            "POST",
            "/api/v1/consultations",
            Some(&w.writer),
            Some(booking()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        headers[header::LOCATION],
        format!("/api/v1/consultations/{id}")
    );
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["patientPhone"], "+41791234567");
    assert_eq!(created["scheduledAt"], "2099-03-01T08:30:00Z");
    assert_eq!(created["clinicianName"], "Dr House");
    assert_eq!(created["externalId"], "EMR-42");
    assert_eq!(created["metadata"], json!({"ward": "B", "priority": 2}));
    let patient_link = created["patientLink"].as_str().unwrap().to_string();
    assert!(patient_link.contains("/j/"), "{patient_link}");
    assert!(
        created["doctorLink"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/room/{id}"))
    );

    // Read back: the same, the link included (it still opens).
    let (status, _, read) = call(
        &w.app,
        request(
            "GET",
            &format!("/api/v1/consultations/{id}"),
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);
    // The link opens the invite page.
    let page = send(
        &w.app,
        Request::get(
            patient_link
                .split_once("/j/")
                .map(|(_, s)| format!("/j/{s}"))
                .unwrap(),
        )
        .body(Body::empty())
        .unwrap(),
    )
    .await;
    assert_eq!(page.0, StatusCode::OK);
    assert!(
        page.2.contains("Zoë Lambert"),
        "the invite page names the patient"
    );

    // Two more, then pages of one.
    for n in 0..2 {
        let mut body = booking();
        body["externalId"] = json!(format!("EMR-{n}"));
        let (status, _, _) = call(
            &w.app,
            request("POST", "/api/v1/consultations", Some(&w.writer), Some(body)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/v1/consultations?limit=1".to_string(),
            Some(c) => format!("/api/v1/consultations?limit=1&cursor={c}"),
        };
        let (status, _, page) = call(&w.app, request("GET", &path, Some(&w.writer), None)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["externalId"].as_str().unwrap().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(seen.len() <= 3, "pages end");
    }
    assert_eq!(seen, vec!["EMR-42", "EMR-0", "EMR-1"]);
    let (_, _, filtered) = call(
        &w.app,
        request(
            "GET",
            "/api/v1/consultations?externalId=EMR-0",
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let bad_cursor = call(
        &w.app,
        request(
            "GET",
            "/api/v1/consultations?cursor=xyz",
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_problem(&bad_cursor, StatusCode::BAD_REQUEST, Some("cursor"));
    let bad_param = call(
        &w.app,
        request(
            "GET",
            "/api/v1/consultations?colour=red",
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_problem(&bad_param, StatusCode::BAD_REQUEST, Some("colour"));
    let empty_queue = call(
        &w.app,
        request("GET", "/api/v1/consultations?queue=", Some(&w.writer), None),
    )
    .await;
    assert_problem(&empty_queue, StatusCode::BAD_REQUEST, Some("queue"));
    let bad_status = call(
        &w.app,
        request(
            "GET",
            "/api/v1/consultations?status=lost",
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_problem(&bad_status, StatusCode::BAD_REQUEST, Some("status"));

    // Cancel: once.
    let cancel = format!("/api/v1/consultations/{id}/cancel");
    let (status, _, cancelled) =
        call(&w.app, request("POST", &cancel, Some(&w.writer), None)).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["patientLink"],
        Value::Null,
        "a cancelled consultation's link is dead"
    );
    let again = call(&w.app, request("POST", &cancel, Some(&w.writer), None)).await;
    assert_problem(&again, StatusCode::CONFLICT, None);
    let missing = call(
        &w.app,
        request(
            "GET",
            "/api/v1/consultations/nosuchone",
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_problem(&missing, StatusCode::NOT_FOUND, None);
    let odd = call(
        &w.app,
        request("GET", "/api/v1/consultations/a'b", Some(&w.writer), None),
    )
    .await;
    assert_eq!(odd.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_key_past_its_rate_waits() {
    let w = world().await;
    let slow = ApiKeys::new(w.db.clone())
        .create("Slow", &["consultations:read".into()], 2, "test")
        .await
        .unwrap()
        .key;
    for _ in 0..2 {
        let ok = call(
            &w.app,
            request("GET", "/api/v1/consultations", Some(&slow), None),
        )
        .await;
        assert_eq!(ok.0, StatusCode::OK);
    }
    let limited = call(
        &w.app,
        request("GET", "/api/v1/consultations", Some(&slow), None),
    )
    .await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS, None);
    assert!(
        limited.1[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Another key is not held back by this one.
    let other = call(
        &w.app,
        request("GET", "/api/v1/consultations", Some(&w.writer), None),
    )
    .await;
    assert_eq!(other.0, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_and_its_page_need_no_key() {
    let w = world().await;
    let (status, headers, doc) =
        call(&w.app, request("GET", "/api/v1/openapi.json", None, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(doc["openapi"], "3.1.0");
    let (status, _, page) = send(
        &w.app,
        Request::get("/api/v1/docs").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<code>POST /api/v1/consultations</code>"),
        "{page}"
    );
    assert!(page.contains("id=\"schema-NewConsultation\""));
    assert!(
        page.contains("<strong>401</strong> No valid API key"),
        "shared answers are spelled out"
    );
}

#[tokio::test]
async fn a_key_moves_relinks_adds_a_guest_and_gets_the_report() {
    let w = world().await;
    let (_, _, created) = call(
        &w.app,
        request(
            "POST",
            "/api/v1/consultations",
            Some(&w.writer),
            Some(booking()),
        ),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let old_link = created["patientLink"].as_str().unwrap().to_string();

    let moved = call(
        &w.app,
        request(
            "POST",
            &format!("/api/v1/consultations/{id}/reschedule"),
            Some(&w.writer),
            Some(json!({"scheduledAt": "2099-04-01T14:00:00+02:00"})),
        ),
    )
    .await;
    assert_eq!(moved.0, StatusCode::OK, "{}", moved.2);
    assert_eq!(moved.2["scheduledAt"], "2099-04-01T12:00:00Z");
    let past = call(
        &w.app,
        request(
            "POST",
            &format!("/api/v1/consultations/{id}/reschedule"),
            Some(&w.writer),
            Some(json!({"scheduledAt": "2001-04-01T14:00:00Z"})),
        ),
    )
    .await;
    assert_problem(&past, StatusCode::UNPROCESSABLE_ENTITY, Some("scheduledAt"));

    let relinked = call(
        &w.app,
        request(
            "POST",
            &format!("/api/v1/consultations/{id}/patient-link"),
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_eq!(relinked.0, StatusCode::OK, "{}", relinked.2);
    let new_link = relinked.2["patientLink"].as_str().unwrap();
    assert_ne!(new_link, old_link);
    let path = |link: &str| format!("/j/{}", link.split_once("/j/").unwrap().1);
    let dead = send(
        &w.app,
        Request::get(path(&old_link)).body(Body::empty()).unwrap(),
    )
    .await;
    assert!(
        !dead.2.contains("Zoë Lambert"),
        "the old link opens nothing"
    );

    let guest = call(
        &w.app,
        request(
            "POST",
            &format!("/api/v1/consultations/{id}/guests"),
            Some(&w.writer),
            Some(json!({"name": "Samir Lambert", "language": "fr"})),
        ),
    )
    .await;
    assert_eq!(guest.0, StatusCode::CREATED, "{}", guest.2);
    assert!(guest.2["link"].as_str().unwrap().contains("/j/"));
    let nameless = call(
        &w.app,
        request(
            "POST",
            &format!("/api/v1/consultations/{id}/guests"),
            Some(&w.writer),
            Some(json!({"name": " "})),
        ),
    )
    .await;
    assert_eq!(
        nameless.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nameless.2
    );
    // An interpreter the clinic books itself: their link, their role.
    let translator = call(
        &w.app,
        request(
            "POST",
            &format!("/api/v1/consultations/{id}/guests"),
            Some(&w.writer),
            Some(json!({"name": "Amal Haddad", "language": "fr", "role": "translator"})),
        ),
    )
    .await;
    assert_eq!(translator.0, StatusCode::CREATED, "{}", translator.2);
    let (_, _, page) = send(
        &w.app,
        Request::get(path(translator.2["link"].as_str().unwrap()))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(page.contains("Amal Haddad"), "their invite page");
    let participant =
        w.db.participant(translator.2["participantId"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(participant.role, "translator");
    let odd_role = call(
        &w.app,
        request(
            "POST",
            &format!("/api/v1/consultations/{id}/guests"),
            Some(&w.writer),
            Some(json!({"name": "X", "role": "surgeon"})),
        ),
    )
    .await;
    assert_eq!(odd_role.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(odd_role.2["field"], "role");

    let (status, headers, pdf) = send(
        &w.app,
        request(
            "GET",
            &format!("/api/v1/consultations/{id}/report.pdf"),
            Some(&w.writer),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert!(pdf.starts_with("%PDF-"));
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_books_once() {
    let w = world().await;
    let post = |key: &str, body: Value, idem: &str| {
        let mut r = request("POST", "/api/v1/consultations", Some(key), Some(body));
        r.headers_mut()
            .insert("idempotency-key", idem.parse().unwrap());
        r
    };
    let first = call(&w.app, post(&w.writer, booking(), "9b2f6c1e-retry")).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    assert!(!first.1.contains_key("idempotent-replayed"));
    let again = call(&w.app, post(&w.writer, booking(), "9b2f6c1e-retry")).await;
    assert_eq!(again.0, StatusCode::CREATED);
    assert_eq!(again.1["idempotent-replayed"], "true");
    assert_eq!(again.1[header::LOCATION], first.1[header::LOCATION]);
    assert_eq!(again.2, first.2, "the first answer, word for word");

    // The same key with another request is refused.
    let mut other = booking();
    other["patientName"] = json!("Someone Else");
    let misuse = call(&w.app, post(&w.writer, other.clone(), "9b2f6c1e-retry")).await;
    assert_problem(
        &misuse,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("Idempotency-Key"),
    );
    // A refused booking is kept too: the retry gets the same refusal.
    let mut bad = booking();
    bad["patientPhone"] = json!("12");
    let refused = call(&w.app, post(&w.writer, bad.clone(), "bad-phone")).await;
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY);
    let refused_again = call(&w.app, post(&w.writer, bad, "bad-phone")).await;
    assert_eq!(refused_again.1["idempotent-replayed"], "true");
    // Without a valid key nothing is kept: the right key then goes through.
    let unauthorised = call(&w.app, post("vk_nope", other.clone(), "fresh")).await;
    assert_eq!(unauthorised.0, StatusCode::UNAUTHORIZED);
    let fresh = call(&w.app, post(&w.writer, other, "fresh")).await;
    assert_eq!(fresh.0, StatusCode::CREATED, "{}", fresh.2);
    let odd = call(&w.app, post(&w.writer, booking(), "")).await;
    assert_problem(&odd, StatusCode::BAD_REQUEST, Some("Idempotency-Key"));

    let (_, _, listed) = call(
        &w.app,
        request("GET", "/api/v1/consultations", Some(&w.writer), None),
    )
    .await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        2,
        "booked once, plus the fresh one"
    );
}

#[tokio::test]
async fn pages_of_allowed_origins_may_call_the_api_and_others_may_not() {
    let db = Db::in_memory().await.unwrap();
    let config = Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_API_CORS_ORIGINS" => {
            Some("https://Agenda.Hospital.example, http://localhost:8080".into())
        }
        _ => None,
    })
    .unwrap();
    doctor(&db, &config).await;
    let key = ApiKeys::new(db.clone())
        .create(
            "Agenda",
            &["consultations:write".into()],
            DEFAULT_RATE_PER_MINUTE,
            "test",
        )
        .await
        .unwrap()
        .key;
    let app = router_on(db, config);
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/v1/consultations")
            .header(header::ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, _) = send(&app, preflight("https://agenda.hospital.example")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://agenda.hospital.example"
    );
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("idempotency-key")
    );
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    // The seed-compatible session route follows the same list, with the
    // header its integrations send their key in.
    let seed = Request::builder()
        .method("OPTIONS")
        .uri("/v1/abm/video/sessions/create/simple")
        .header(header::ORIGIN, "https://agenda.hospital.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    let (status, seed_headers, _) = send(&app, seed).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        seed_headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("x-api-key")
    );
    let (status, headers, _) = send(&app, preflight("https://evil.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    // The booking itself, from the allowed page: through (no cookie, so no
    // forgery to fear), with the header the browser needs.
    let mut post = request("POST", "/api/v1/consultations", Some(&key), Some(booking()));
    post.headers_mut().insert(
        header::ORIGIN,
        "https://agenda.hospital.example".parse().unwrap(),
    );
    post.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let (status, headers, body) = send(&app, post).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://agenda.hospital.example"
    );
    // From another origin the API still answers (the key is the authority),
    // but the browser is not allowed to read it.
    let mut other = request("GET", "/api/v1/consultations/x", Some(&key), None);
    other
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let (_, headers, _) = send(&app, other).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    // The staff's own server functions are still guarded against forgery.
    let forged = Request::post("/api/login")
        .header(header::ORIGIN, "https://agenda.hospital.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("email=a%40b.c&password=x"))
        .unwrap();
    assert_eq!(send(&app, forged).await.0, StatusCode::FORBIDDEN);
}
