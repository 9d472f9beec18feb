//! Webhooks end to end on one node: a key subscribes through the API, a
//! booking and a cancellation through the API become signed POSTs to a
//! receiver on loopback (allowed by configuration), the first of which is
//! refused with a 500 and tried again; the delivery log shows every try;
//! a replay sends the same event again; a deleted subscription gets nothing
//! more; internal addresses and unknown events are refused.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use server::config::Config;
use server::db::Db;
use server::realtime::Hub;
use server::rest::keys::{ApiKeys, DEFAULT_RATE_PER_MINUTE};
use server::state::AppState;
use std::sync::{Arc, Mutex};

/// What the receiver was sent: headers and raw body.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver on loopback that answers 500 to its first request when
/// `fail_first`, and 200 otherwise; returns its URL.
async fn receiver(received: Received, fail_first: bool) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let received = received.clone();
            async move {
                let mut all = received.lock().unwrap();
                all.push((headers, body));
                if fail_first && all.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

struct World {
    app: Router,
    state: AppState,
    db: Db,
    key: String,
    reader: String,
}

async fn world() -> World {
    let config = Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_WEBHOOK_ALLOW_NETWORKS" => Some("127.0.0.1/32".into()),
        "VISITA_WEBHOOK_RETRY_SECONDS" => Some("1".into()),
        _ => None,
    })
    .unwrap();
    let db = Db::in_memory().await.unwrap();
    doctor(&db, &config).await;
    let (_, stop) = tokio::sync::watch::channel(false);
    let state = AppState::new(config, db.clone(), Hub::idle(), stop, vec![7; 32]).unwrap();
    let keys = ApiKeys::new(db.clone());
    let key = keys
        .create(
            "Agenda",
            &[
                "consultations:write".into(),
                "consultations:read".into(),
                "webhooks:manage".into(),
            ],
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
        app: server::http::router(state.clone()),
        state,
        db,
        key,
        reader,
    }
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    let request = match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    };
    let (status, _, text) = send(app, request).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn booking() -> Value {
    json!({
        "patientName": "Zoë Lambert",
        "patientEmail": "zoe@example.org",
        "timezone": "Europe/Zurich",
        "scheduledAt": "2099-03-01T09:30:00+01:00",
        "clinicianEmail": "house@h.org",
        "sendInvite": false,
        "externalId": "EMR-7"
    })
}

/// Checks `Visita-Signature` the way a receiver would.
fn signed_by(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    use hmac::{Hmac, Mac};
    let value = headers["visita-signature"].to_str().unwrap();
    let (t, v1) = value.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    (0..60).contains(&age) && hex::encode(mac.finalize().into_bytes()) == v1
}

#[tokio::test]
async fn events_are_signed_retried_logged_and_replayed() {
    let w = world().await;
    let received: Received = Arc::default();
    let url = receiver(received.clone(), true).await;

    let (status, created) = call(
        &w.app,
        "POST",
        "/api/v1/webhooks",
        &w.key,
        Some(json!({
            "url": url,
            "events": ["consultation.created", "consultation.cancelled"],
            "description": "the agenda"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let hook = created["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let (_, listed) = call(&w.app, "GET", "/api/v1/webhooks", &w.key, None).await;
    assert_eq!(listed[0]["id"], hook.as_str());
    assert!(listed[0].get("secret").is_none(), "{listed}");
    assert!(
        !w.db.webhooks(None).await.unwrap()[0]
            .secret_sealed
            .contains(&secret[6..]),
        "the secret is sealed"
    );

    let (status, booked) = call(
        &w.app,
        "POST",
        "/api/v1/consultations",
        &w.key,
        Some(booking()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    let consultation = booked["id"].as_str().unwrap();

    // First try: the receiver answers 500.
    assert_eq!(w.state.webhooks.tick().await.unwrap(), 1);
    assert_eq!(received.lock().unwrap().len(), 1);
    let (_, log) = call(
        &w.app,
        "GET",
        &format!("/api/v1/webhooks/{hook}/deliveries"),
        &w.key,
        None,
    )
    .await;
    assert_eq!(log[0]["status"], "pending", "{log}");
    assert_eq!(log[0]["lastStatus"], 500, "{log}");
    assert_eq!(log[0]["tries"].as_array().unwrap().len(), 1);
    // Not before the backoff (1 s here).
    assert_eq!(w.state.webhooks.tick().await.unwrap(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(w.state.webhooks.tick().await.unwrap(), 1);

    let (first, second) = {
        let all = received.lock().unwrap();
        assert_eq!(all.len(), 2);
        (all[0].clone(), all[1].clone())
    };
    assert_eq!(first.1, second.1, "a retry carries the same body");
    assert_eq!(first.0["visita-event-id"], second.0["visita-event-id"]);
    for (headers, body) in [&first, &second] {
        assert!(signed_by(&secret, headers, body), "signature of {body}");
        assert!(!signed_by("whsec_other", headers, body));
        assert_eq!(headers["visita-event"], "consultation.created");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    }
    let event: Value = serde_json::from_str(&second.1).unwrap();
    assert_eq!(event["type"], "consultation.created");
    assert_eq!(event["data"]["consultation"]["id"], consultation);
    assert_eq!(event["data"]["consultation"]["externalId"], "EMR-7");
    assert!(
        event["data"]["consultation"]["patientLink"].is_null(),
        "no link in webhooks"
    );
    // A body altered on the way no longer matches.
    assert!(!signed_by(
        &secret,
        &second.0,
        &second.1.replace("Zoë", "Zoe")
    ));

    let (_, log) = call(
        &w.app,
        "GET",
        &format!("/api/v1/webhooks/{hook}/deliveries"),
        &w.key,
        None,
    )
    .await;
    assert_eq!(log[0]["status"], "delivered", "{log}");
    let tries: Vec<Value> = log[0]["tries"].as_array().unwrap().clone();
    assert_eq!(
        tries
            .iter()
            .map(|t| t["status"].clone())
            .collect::<Vec<_>>(),
        vec![json!(500), json!(200)]
    );

    // Cancelled: its own event, delivered at once.
    let (status, _) = call(
        &w.app,
        "POST",
        &format!("/api/v1/consultations/{consultation}/cancel"),
        &w.key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(w.state.webhooks.tick().await.unwrap(), 1);
    {
        let all = received.lock().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].0["visita-event"], "consultation.cancelled");
        let body: Value = serde_json::from_str(&all[2].1).unwrap();
        assert_eq!(body["data"]["consultation"]["status"], "cancelled");
    }

    // Replay the first delivery: the same event again.
    let delivery = log[0]["id"].as_str().unwrap();
    let (status, replayed) = call(
        &w.app,
        "POST",
        &format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/replay"),
        &w.key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replayed}");
    assert_eq!(replayed["replayOf"], delivery);
    assert_eq!(w.state.webhooks.tick().await.unwrap(), 1);
    {
        let all = received.lock().unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[3].1, first.1);
        assert_eq!(all[3].0["visita-event-id"], first.0["visita-event-id"]);
        assert_ne!(all[3].0["visita-delivery"], first.0["visita-delivery"]);
    }

    // Another key cannot see or delete it.
    let (status, _) = call(
        &w.app,
        "GET",
        &format!("/api/v1/webhooks/{hook}"),
        &w.reader,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no webhooks:manage scope");

    // Deleted: nothing more.
    let (status, _) = call(
        &w.app,
        "DELETE",
        &format!("/api/v1/webhooks/{hook}"),
        &w.key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &w.app,
        "GET",
        &format!("/api/v1/webhooks/{hook}"),
        &w.key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &w.app,
        "POST",
        "/api/v1/consultations",
        &w.key,
        Some(booking()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(w.state.webhooks.tick().await.unwrap(), 0);
    assert_eq!(received.lock().unwrap().len(), 4);

    // The log is kept for a while, then forgotten with its tries.
    assert_eq!(w.db.deliveries(None, 100).await.unwrap().len(), 3);
    assert_eq!(
        w.db.purge_webhooks(chrono::Utc::now() - chrono::Duration::days(1))
            .await
            .unwrap(),
        0,
        "nothing is old yet"
    );
    let purged =
        w.db.purge_webhooks(chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap();
    assert_eq!(purged, 3);
    assert!(w.db.deliveries(None, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn subscriptions_are_checked() {
    let w = world().await;
    let subscribe = |body: Value| call(&w.app, "POST", "/api/v1/webhooks", &w.key, Some(body));
    for (url, why) in [
        ("http://10.1.2.3/hook", "internal"),
        ("http://169.254.169.254/latest/meta-data", "internal"),
        ("http://[::1]:9/hook", "internal"),
        ("ftp://example.org/", "https://"),
        ("https://user:pw@example.org/", "password"),
        ("nonsense", "not a URL"),
    ] {
        let (status, body) =
            subscribe(json!({"url": url, "events": ["consultation.created"]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["field"], "url", "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains(why),
            "{url}: {body}"
        );
    }
    let (status, body) =
        subscribe(json!({"url": "http://127.0.0.1:9/h", "events": ["consultation.eaten"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "events");
    let (status, body) = subscribe(json!({"url": "http://127.0.0.1:9/h", "events": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = subscribe(json!({"url": "http://127.0.0.1:9/h", "event": ["x"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "event");

    // The key's scope decides; revoking the key turns its subscriptions off.
    let (status, _) = call(
        &w.app,
        "POST",
        "/api/v1/webhooks",
        &w.reader,
        Some(json!({"url": "http://127.0.0.1:9/h", "events": ["patient.waiting"]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = subscribe(
        json!({"url": "http://127.0.0.1:9/h", "events": ["patient.waiting"], "ownOnly": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = w.key.split('_').nth(1).unwrap();
    ApiKeys::new(w.db.clone())
        .revoke(id, chrono::Utc::now())
        .await
        .unwrap();
    assert!(!w.db.webhooks(None).await.unwrap()[0].active);
}

#[tokio::test]
async fn a_message_that_cannot_go_is_reported() {
    let w = world().await;
    let received: Received = Arc::default();
    let url = receiver(received.clone(), false).await;
    let (status, _) = call(
        &w.app,
        "POST",
        "/api/v1/webhooks",
        &w.key,
        Some(json!({"url": url, "events": ["notification.failed"], "ownOnly": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // No email server here: the invite is known at once never to go.
    let mut body = booking();
    body["sendInvite"] = json!(true);
    let (status, booked) = call(&w.app, "POST", "/api/v1/consultations", &w.key, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!(w.state.webhooks.tick().await.unwrap(), 1);
    let all = received.lock().unwrap();
    assert_eq!(all.len(), 1);
    let event: Value = serde_json::from_str(&all[0].1).unwrap();
    assert_eq!(event["type"], "notification.failed", "{event}");
    assert_eq!(event["data"]["consultation"]["id"], booked["id"]);
    assert_eq!(event["data"]["notification"]["channel"], "email", "{event}");
    assert_eq!(event["data"]["participant"]["role"], "patient", "{event}");
    assert!(
        event["data"]["notification"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{event}"
    );
}
