//! Twilio's webhooks through the whole router: a patient's signed YES
//! confirms, NO cancels; a wrongly signed or unsigned request is refused
//! with 403 and changes nothing; a number with no consultation coming gets
//! no answer at all; delivery reports update the message's status.

use crate::common::{router_on, send};
use app::consultation::{DEFAULT_QUEUE, NewConsultation, QueueId};
use app::domain::Principal;
use app::ssr::{ClientInfo, Consultations};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use server::config::Config;
use server::consultations::ConsultationService;
use server::db::Db;
use server::notify::sms::twilio_signature;

const TOKEN: &str = "twilio-auth-token-for-tests";
const PUBLIC: &str = "https://visio.example.org";

fn config() -> Config {
    Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_PUBLIC_URL" => Some(PUBLIC.into()),
        "VISITA_CLINIC_NAME" => Some("Clinique des Lilas".into()),
        "VISITA_DEFAULT_COUNTRY" => Some("FR".into()),
        "VISITA_SMS_PROVIDER" => Some("twilio".into()),
        "VISITA_TWILIO_ACCOUNT_SID" => Some(format!("AC{}", "0".repeat(32))),
        "VISITA_TWILIO_AUTH_TOKEN" => Some(TOKEN.into()),
        "VISITA_TWILIO_FROM" => Some("+41225550100".into()),
        "VISITA_TWILIO_API_BASE" => Some("http://127.0.0.1:9".into()),
        _ => None,
    })
    .unwrap()
}

async fn setup() -> (Router, Db, ConsultationService, Principal) {
    let db = Db::in_memory().await.unwrap();
    let doctor = crate::common::doctor(&db, &config()).await;
    let service = ConsultationService::new(db.clone(), &config());
    (router_on(db.clone(), config()), db, service, doctor)
}

fn booking(phone: &str) -> NewConsultation {
    NewConsultation {
        queue: QueueId(DEFAULT_QUEUE.into()),
        patient_name: "Zoë Martin".into(),
        patient_email: String::new(),
        patient_phone: phone.into(),
        language: "fr".into(),
        timezone: "Europe/Paris".into(),
        scheduled_for: "2099-06-01T10:00".into(),
        clinician_timezone: "Europe/Paris".into(),
    }
}

fn params(from: &str, body: &str) -> Vec<(String, String)> {
    [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", from),
        ("To", "+41225550100"),
        ("Body", body),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn post(path: &str, params: &[(String, String)], signature: Option<String>) -> Request<Body> {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut request =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        request = request.header("X-Twilio-Signature", signature);
    }
    request.body(Body::from(body)).unwrap()
}

fn signed(path: &str, params: &[(String, String)]) -> Request<Body> {
    let signature = twilio_signature(TOKEN, &format!("{PUBLIC}{path}"), params);
    post(path, params, Some(signature))
}

async fn reply_of(db: &Db, id: &str) -> (String, Option<String>) {
    let row = db.consultation(id).await.unwrap().unwrap();
    (row.status, row.patient_reply)
}

#[tokio::test]
async fn a_signed_yes_confirms_and_a_forged_one_changes_nothing() {
    let (app, db, service, doctor) = setup().await;
    let created = service
        .create(&doctor, booking("06 12 34 56 78"), &ClientInfo::default())
        .await
        .unwrap();
    let path = "/webhooks/sms/twilio";

    // Unsigned, and signed with another key: 403, nothing recorded.
    let (status, _, _) = send(&app, post(path, &params("+33612345678", "YES"), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let forged = twilio_signature(
        "not the token",
        &format!("{PUBLIC}{path}"),
        &params("+33612345678", "YES"),
    );
    let (status, _, _) = send(
        &app,
        post(path, &params("+33612345678", "YES"), Some(forged)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Signed, but the body changed on the way.
    let good = twilio_signature(
        TOKEN,
        &format!("{PUBLIC}{path}"),
        &params("+33612345678", "YES"),
    );
    let (status, _, _) = send(&app, post(path, &params("+33612345678", "NO"), Some(good))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply_of(&db, &created.id.0).await,
        ("scheduled".into(), None)
    );

    // Signed YES: confirmed, and the patient is told in French.
    let (status, headers, body) = send(&app, signed(path, &params("+33612345678", "oui"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    assert!(body.contains("<Message>Clinique des Lilas : merci, votre consultation du 01/06/2099 10:00 est confirmée.</Message>"), "{body}");
    assert_eq!(
        reply_of(&db, &created.id.0).await,
        ("scheduled".into(), Some("confirmed".into()))
    );

    // Something else: a short help text, nothing changes.
    let (_, _, body) = send(&app, signed(path, &params("+33612345678", "who is this?"))).await;
    assert!(
        body.contains("répondez OUI pour confirmer ou NON pour annuler"),
        "{body}"
    );

    // NO: cancelled, as the clinician's list will show.
    let (_, _, body) = send(&app, signed(path, &params("+33612345678", "NO"))).await;
    assert!(body.contains("est annulée"), "{body}");
    assert_eq!(
        reply_of(&db, &created.id.0).await,
        ("cancelled".into(), Some("cancelled".into()))
    );
    let summary = service.summary(&created.id).await.unwrap();
    assert_eq!(summary.patient_reply.as_deref(), Some("cancelled"));
}

#[tokio::test]
async fn a_number_with_no_consultation_gets_no_answer() {
    let (app, _, _, _) = setup().await;
    let (status, _, body) = send(
        &app,
        signed("/webhooks/sms/twilio", &params("+33699999999", "YES")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("<Message>"), "{body}");
}

#[tokio::test]
async fn delivery_reports_are_signed_and_recorded() {
    let (app, db, _, _) = setup().await;
    let path = "/webhooks/sms/twilio/status";
    let report: Vec<(String, String)> = [
        ("MessageSid", "SMdeadbeef"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30005"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (status, _, _) = send(&app, post(path, &report, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A report about a message we never sent changes nothing, quietly.
    let (status, _, _) = send(&app, signed(path, &report)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(db.outbox(10).await.unwrap().is_empty());
}
