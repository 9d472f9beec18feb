//! Invites and reminders through the real scheduler on a real (in-memory)
//! SurrealDB, with the clock in the test's hand: a reminder across the
//! autumn clock change goes out at the right UTC instant, exactly once,
//! even when the node that claimed it dies; a cancellation calls off what
//! is queued and tells the patient. Messages go through the `log` gateway
//! (the outbox), which is a real, shipped gateway.

use app::consultation::{DEFAULT_QUEUE, InviteOutcome, NewConsultation, QueueId};
use app::domain::Principal;
use app::error::AppError;
use app::ssr::{ClientInfo, Consultations};
use chrono::{DateTime, Utc};
use server::config::Config;
use server::consultations::ConsultationService;
use server::db::{Db, NotificationRow};
use server::notify::Notifier;
use server::notify::clock::ManualClock;
use std::sync::Arc;

fn config() -> Config {
    Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_PUBLIC_URL" => Some("https://visio.example.org".into()),
        "VISITA_CLINIC_NAME" => Some("Clinique des Lilas".into()),
        "VISITA_TIMEZONE" => Some("Europe/Paris".into()),
        "VISITA_DEFAULT_COUNTRY" => Some("FR".into()),
        "VISITA_SMS_PROVIDER" => Some("log".into()),
        _ => None,
    })
    .unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

struct Node {
    notifier: Arc<Notifier>,
    service: ConsultationService,
}

fn node(db: &Db, clock: &ManualClock, installation: &[u8], name: &str) -> Node {
    let config = config();
    let notifier = Arc::new(
        Notifier::new(
            &config,
            db.clone(),
            Arc::new(clock.clone()),
            installation,
            name.into(),
        )
        .unwrap(),
    );
    let service = ConsultationService::new(db.clone(), &config).with_notifier(notifier.clone());
    Node { notifier, service }
}

async fn doctor(db: &Db) -> Principal {
    crate::common::doctor(db, &config()).await
}

fn booking(phone: &str, when: &str) -> NewConsultation {
    NewConsultation {
        queue: QueueId(DEFAULT_QUEUE.into()),
        patient_name: "Zoë Martin".into(),
        patient_email: String::new(),
        patient_phone: phone.into(),
        language: "fr".into(),
        timezone: "Europe/Paris".into(),
        scheduled_for: when.into(),
        clinician_timezone: "Europe/Paris".into(),
    }
}

async fn messages(db: &Db, consultation: &str) -> Vec<NotificationRow> {
    db.notifications_of(&[consultation.to_string()])
        .await
        .unwrap()
}

fn find<'a>(rows: &'a [NotificationRow], kind: &str, offset: Option<&str>) -> &'a NotificationRow {
    rows.iter()
        .find(|r| r.kind == kind && r.offset.as_deref() == offset)
        .unwrap_or_else(|| panic!("no {kind} {offset:?} in {rows:#?}"))
}

fn secret_of(text: &str) -> String {
    let link = text.split_whitespace().last().unwrap();
    assert!(link.starts_with("https://visio.example.org/j/"), "{text}");
    link.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn a_reminder_across_the_autumn_clock_change_goes_out_at_the_right_instant_exactly_once() {
    let db = Db::in_memory().await.unwrap();
    let clock = ManualClock::at(at("2027-10-20T08:00:00Z"));
    let links = b"installation secret".as_slice();
    let a = node(&db, &clock, links, "node-a");
    let client = ClientInfo::default();
    let doctor = doctor(&db).await;

    // Sunday 31 October 2027, 10:00 in Paris: the clocks went back that
    // night (UTC+2 → UTC+1), so it is 09:00 UTC.
    let created = a
        .service
        .create(
            &doctor,
            booking("06 12 34 56 78", "2027-10-31T10:00"),
            &client,
        )
        .await
        .unwrap();
    let rows = messages(&db, &created.id.0).await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert!(
        rows.iter()
            .all(|r| r.recipient == "+33612345678" && r.channel == "sms")
    );
    assert_eq!(
        find(&rows, "invite", None).due_at,
        at("2027-10-20T08:00:00Z")
    );
    // The day before at 10:00 was still summer time: 08:00 UTC, 25 hours
    // before — not 09:00 UTC, which would be 11:00 on the patient's clock.
    assert_eq!(
        find(&rows, "reminder", Some("1d")).due_at,
        at("2027-10-30T08:00:00Z")
    );
    assert_eq!(
        find(&rows, "reminder", Some("15m")).due_at,
        at("2027-10-31T08:45:00Z")
    );

    // The invite goes at once, in French, with the link last; the link opens.
    assert_eq!(a.notifier.tick().await.unwrap(), 1);
    let rows = messages(&db, &created.id.0).await;
    let invite = find(&rows, "invite", None);
    assert_eq!(invite.status, "sent");
    let text = invite.outbox.clone().unwrap();
    assert!(
        text.starts_with(
            "Clinique des Lilas : consultation vidéo avec Dr House le 31/10/2027 10:00"
        ),
        "{text}"
    );
    assert_eq!(secret_of(&text), secret_of(&created.patient_link));
    assert!(matches!(
        a.service.open_invite(&secret_of(&text)).await.unwrap(),
        InviteOutcome::Open(_)
    ));

    // A second before the reminder: nothing.
    clock.set(at("2027-10-30T07:59:59Z"));
    assert_eq!(a.notifier.tick().await.unwrap(), 0);

    // Node A claims the reminder at its time and dies before sending it.
    clock.set(at("2027-10-30T08:00:00Z"));
    let claimed = db
        .claim_due_notifications("node-a", clock_now(&clock), at("2027-10-30T08:02:00Z"), 20)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    drop(a);

    // Node B starts: the lease holds it back, then it sends it once.
    let b = node(&db, &clock, links, "node-b");
    clock.set(at("2027-10-30T08:01:00Z"));
    assert_eq!(
        b.notifier.tick().await.unwrap(),
        0,
        "still leased to node A"
    );
    clock.set(at("2027-10-30T08:02:01Z"));
    assert_eq!(b.notifier.tick().await.unwrap(), 1);
    assert_eq!(b.notifier.tick().await.unwrap(), 0);
    let rows = messages(&db, &created.id.0).await;
    let reminder = find(&rows, "reminder", Some("1d"));
    assert_eq!(reminder.status, "sent");
    assert_eq!(reminder.attempts, 2, "claimed by A, then by B");
    assert!(reminder.outbox.as_deref().unwrap().contains("rappel"));

    // The clinician gives the patient a new link: the last reminder carries
    // the new one, and two nodes ticking at once send it once.
    let patient = a_patient(&b.service, &doctor, &created.id).await;
    let issued = b
        .service
        .reissue_link(&doctor, &patient, &client)
        .await
        .unwrap();
    let c = node(&db, &clock, links, "node-c");
    clock.set(at("2027-10-31T08:45:00Z"));
    let (x, y) = tokio::join!(b.notifier.tick(), c.notifier.tick());
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    let rows = messages(&db, &created.id.0).await;
    let last = find(&rows, "reminder", Some("15m"));
    assert_eq!(last.status, "sent");
    assert_eq!(
        secret_of(last.outbox.as_deref().unwrap()),
        secret_of(&issued.link)
    );
    assert_eq!(rows.iter().filter(|r| r.status == "sent").count(), 3);
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    use server::notify::clock::Clock;
    clock.now()
}

async fn a_patient(
    service: &ConsultationService,
    doctor: &Principal,
    id: &app::consultation::ConsultationId,
) -> app::consultation::ParticipantId {
    let summary = service.summary(id).await.unwrap();
    let _ = doctor;
    summary
        .participants
        .iter()
        .find(|p| p.role == app::consultation::ParticipantRole::Patient)
        .unwrap()
        .id
        .clone()
}

#[tokio::test]
async fn cancelling_calls_off_the_reminders_and_tells_the_patient() {
    let db = Db::in_memory().await.unwrap();
    let clock = ManualClock::at(at("2027-03-20T08:00:00Z"));
    let links = b"installation".as_slice();
    let n = node(&db, &clock, links, "node-a");
    let client = ClientInfo::default();
    let doctor = doctor(&db).await;
    let created = n
        .service
        .create(
            &doctor,
            booking("+41 79 123 45 67", "2027-03-29T09:30"),
            &client,
        )
        .await
        .unwrap();
    assert_eq!(n.notifier.tick().await.unwrap(), 1);
    n.service
        .cancel(&doctor, &created.id, &client)
        .await
        .unwrap();
    let rows = messages(&db, &created.id.0).await;
    assert!(
        rows.iter()
            .filter(|r| r.kind == "reminder")
            .all(|r| r.status == "cancelled"),
        "{rows:#?}"
    );
    assert_eq!(n.notifier.tick().await.unwrap(), 1);
    let rows = messages(&db, &created.id.0).await;
    let notice = find(&rows, "cancellation", None);
    assert_eq!(notice.status, "sent");
    let text = notice.outbox.as_deref().unwrap();
    assert!(text.contains("annulée") && !text.contains("/j/"), "{text}");
    // The summary the clinician sees lists all of it.
    let summary = n.service.summary(&created.id).await.unwrap();
    let lines: Vec<String> = summary.messages.iter().map(|m| m.describe()).collect();
    assert!(
        lines[0].starts_with(
            "Invitation by text message to +41791234567: kept, not sent (log gateway)"
        ),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Reminder") && l.contains("called off")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_impossible_number_is_refused_when_typed() {
    let db = Db::in_memory().await.unwrap();
    let clock = ManualClock::at(Utc::now());
    let n = node(&db, &clock, b"installation", "node-a");
    let doctor = doctor(&db).await;
    let refused = n
        .service
        .create(
            &doctor,
            booking("+41 12 345 67 89", ""),
            &ClientInfo::default(),
        )
        .await
        .unwrap_err();
    match refused {
        AppError::Invalid(error) => {
            assert_eq!(error.field, "patient_phone");
            assert!(
                error.message.contains("No phone can have this number"),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn without_a_gateway_the_clinician_sees_why_nothing_was_sent() {
    let db = Db::in_memory().await.unwrap();
    let config = Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_DEFAULT_COUNTRY" => Some("CH".into()),
        _ => None,
    })
    .unwrap();
    let clock = ManualClock::at(Utc::now());
    let notifier = Arc::new(
        Notifier::new(
            &config,
            db.clone(),
            Arc::new(clock),
            b"installation",
            "n".into(),
        )
        .unwrap(),
    );
    let service = ConsultationService::new(db.clone(), &config).with_notifier(notifier);
    let doctor = doctor(&db).await;
    let mut b = booking("079 123 45 67", "");
    b.patient_email = "zoe@example.org".into();
    let created = service
        .create(&doctor, b, &ClientInfo::default())
        .await
        .unwrap();
    let summary = service.summary(&created.id).await.unwrap();
    let lines: Vec<String> = summary.messages.iter().map(|m| m.describe()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("email to zoe@example.org: not sent — Not sent: email is not set up"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("text message to +41791234567: not sent"),
        "{lines:?}"
    );
}

/// A hospital's own gateway, played by an HTTP server on loopback: it gets
/// the number and the text in the JSON body the administrator described,
/// with their header; a 500 is retried later, a 400 fails for good.
#[tokio::test]
async fn a_hospital_gateway_over_http_gets_the_message_and_its_refusals_show() {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use std::sync::Mutex;

    type Seen = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;
    async fn gateway(
        State(seen): State<Seen>,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, &'static str) {
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = match json["to"].as_str() {
            Some("+41791111111") => StatusCode::INTERNAL_SERVER_ERROR,
            Some("+41792222222") => StatusCode::BAD_REQUEST,
            _ => StatusCode::ACCEPTED,
        };
        seen.lock().unwrap().push((key, json));
        (status, "gateway says: number blocked")
    }
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/send", axum::routing::post(gateway))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_CLINIC_NAME" => Some("Clinique des Lilas".into()),
        "VISITA_DEFAULT_COUNTRY" => Some("CH".into()),
        "VISITA_SMS_PROVIDER" => Some("http".into()),
        "VISITA_SMS_HTTP_URL" => Some(url.clone()),
        "VISITA_SMS_HTTP_HEADERS" => Some("X-Api-Key: s3cret | X-Sender: Lilas".into()),
        _ => None,
    })
    .unwrap();
    let db = Db::in_memory().await.unwrap();
    let clock = ManualClock::at(Utc::now());
    let notifier = Arc::new(
        Notifier::new(
            &config,
            db.clone(),
            Arc::new(clock.clone()),
            b"installation",
            "n".into(),
        )
        .unwrap(),
    );
    let service = ConsultationService::new(db.clone(), &config).with_notifier(notifier.clone());
    let doctor = doctor(&db).await;
    let client = ClientInfo::default();
    let mut ids = Vec::new();
    for phone in ["079 123 45 67", "079 111 11 11", "079 222 22 22"] {
        let created = service
            .create(&doctor, booking(phone, ""), &client)
            .await
            .unwrap();
        ids.push(created.id.0);
    }
    assert_eq!(notifier.tick().await.unwrap(), 3);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        let (key, json) = seen
            .iter()
            .find(|(_, json)| json["to"] == "+41791234567")
            .expect("the first patient's message");
        assert_eq!(key.as_deref(), Some("s3cret"));
        let text = json["text"].as_str().unwrap();
        assert!(
            text.starts_with("Clinique des Lilas : Dr House est prêt"),
            "{text}"
        );
        assert!(text.contains("/j/"), "{text}");
    }
    let status_of = |rows: &[NotificationRow]| (rows[0].status.clone(), rows[0].error.clone());
    assert_eq!(
        status_of(&messages(&db, &ids[0]).await),
        ("sent".into(), None)
    );
    // 500: queued again, a minute later, with the gateway's words.
    let (status, error) = status_of(&messages(&db, &ids[1]).await);
    assert_eq!(status, "queued");
    assert_eq!(
        error.as_deref(),
        Some("the text-message gateway answered HTTP 500: gateway says: number blocked")
    );
    // 400: failed for good.
    let (status, error) = status_of(&messages(&db, &ids[2]).await);
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("HTTP 400"));
    // The retry comes after its backoff, not before.
    assert_eq!(notifier.tick().await.unwrap(), 0);
    clock.set(Utc::now() + chrono::Duration::seconds(61));
    assert_eq!(notifier.tick().await.unwrap(), 1);
    assert_eq!(seen.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn moving_a_consultation_tells_the_patient_and_moves_the_reminders() {
    let db = Db::in_memory().await.unwrap();
    let clock = ManualClock::at(at("2027-05-03T08:00:00Z"));
    let n = node(&db, &clock, b"installation", "node-a");
    let client = ClientInfo::default();
    let doctor = doctor(&db).await;
    let created = n
        .service
        .create(
            &doctor,
            booking("06 12 34 56 78", "2027-05-10T10:00"),
            &client,
        )
        .await
        .unwrap();
    assert_eq!(n.notifier.tick().await.unwrap(), 1);
    n.service
        .reschedule(
            &doctor,
            &created.id,
            "2027-05-12T15:30",
            "Europe/Paris",
            &client,
        )
        .await
        .unwrap();
    let rows = messages(&db, &created.id.0).await;
    // The old reminders are called off; new ones follow the new time
    // (15:30 Paris in May is 13:30 UTC).
    let old: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "reminder" && r.status == "cancelled")
        .collect();
    assert_eq!(old.len(), 2, "{rows:#?}");
    let new_day = rows
        .iter()
        .find(|r| r.kind == "reminder" && r.status == "queued" && r.offset.as_deref() == Some("1d"))
        .unwrap();
    assert_eq!(new_day.due_at, at("2027-05-11T13:30:00Z"));
    // The patient is told at once, with the link that still opens.
    assert_eq!(n.notifier.tick().await.unwrap(), 1);
    let rows = messages(&db, &created.id.0).await;
    let told = find(&rows, "reschedule", None);
    let text = told.outbox.as_deref().unwrap();
    assert!(text.contains("déplacée au 12/05/2027 15:30"), "{text}");
    assert_eq!(secret_of(text), secret_of(&created.patient_link));
    // Once the patient is in, it can no longer be moved.
    n.service
        .join(&secret_of(text), None, &client)
        .await
        .unwrap();
    let refused = n
        .service
        .reschedule(
            &doctor,
            &created.id,
            "2027-05-13T15:30",
            "Europe/Paris",
            &client,
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, AppError::Conflict(_)), "{refused:?}");
}
