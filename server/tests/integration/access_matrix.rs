//! Every caller × every consultation server function and route, through the
//! whole router: who is let through, who gets 401 (not signed in, or the
//! wrong kind of session) and who gets 403. One table, read top to bottom.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Admin,
    Doctor,
    Nurse,
    Scheduler,
    Translator,
    /// A doctor of another queue.
    OtherDoctor,
    /// The admitted patient of the consultation under test.
    Patient,
    /// The patient of another consultation.
    OtherPatient,
}

use Who::*;

const EVERYONE: [Who; 9] = [
    Anonymous,
    Admin,
    Doctor,
    Nurse,
    Scheduler,
    Translator,
    OtherDoctor,
    Patient,
    OtherPatient,
];

/// What a caller should get: through (any 2xx/3xx), or this refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Unauthorized,
    Forbidden,
}

struct World {
    app: Router,
    cookies: Vec<(Who, Option<String>)>,
    consultation: String,
    guest: String,
    attachment: String,
}

impl World {
    fn cookie(&self, who: Who) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(w, _)| *w == who)
            .and_then(|(_, c)| c.as_deref())
    }
}

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

fn set_cookie_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::SET_COOKIE)
        .expect("a cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn staff(app: &Router, admin: &str, email: &str, role: &str) -> String {
    let body = format!(
        "email={}&name={role}&role={role}&password=a+long+password+123",
        email.replace('@', "%40")
    );
    let (status, _, text) = send(app, form("/api/users/create", &body, Some(admin))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    sign_in(app, email, "a long password 123").await
}

/// Books a consultation as `doctor` and brings its patient in through the
/// link: returns (consultation id, patient's cookie, patient's participant id).
async fn book_and_join(app: &Router, doctor: &str, name: &str) -> (String, String) {
    let body = format!(
        "booking[queue]=default&booking[patient_name]={name}&booking[patient_email]=p@example.org&booking[language]=en&booking[timezone]=UTC"
    );
    let (status, _, text) = send(app, form("/api/consultations/create", &body, Some(doctor))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let created = json_of(&text);
    let link = created["patient_link"].as_str().unwrap();
    let token = link.rsplit('/').next().unwrap();
    let (status, headers, text) = send(
        app,
        form("/api/invite/join", &format!("token={token}"), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    (
        created["id"].as_str().unwrap().to_string(),
        set_cookie_of(&headers),
    )
}

async fn world() -> World {
    let (app, db) = app().await;
    let admin = sign_in(&app, "admin@h.org", ADMIN_PASSWORD).await;
    let doctor = staff(&app, &admin, "doc@h.org", "doctor").await;
    let nurse = staff(&app, &admin, "nurse@h.org", "nurse").await;
    let scheduler = staff(&app, &admin, "sched@h.org", "scheduler").await;
    let translator = staff(&app, &admin, "tr@h.org", "translator").await;
    // The translator belongs to an organisation that covers Arabic, set up
    // through the administrators' server functions as the admin page does.
    let (status, _, text) = send(
        &app,
        form(
            "/api/translators/create",
            "name=Arabic+desk&languages=ar",
            Some(admin.as_str()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let org = json_of(&text)["id"].as_str().unwrap().to_string();
    let (status, _, text) = send(&app, form("/api/users/list", "", Some(admin.as_str()))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let translator_id = json_of(&text)
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "tr@h.org")
        .expect("the translator is listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, text) = send(
        &app,
        form(
            "/api/translators/set-members",
            &format!("org={org}&members[0]={translator_id}"),
            Some(admin.as_str()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // A doctor who works in cardiology only.
    db.surreal()
        .query("CREATE queue:cardiology SET name = 'Cardiology'")
        .await
        .unwrap()
        .check()
        .unwrap();
    let other_doctor = staff(&app, &admin, "cardio@h.org", "doctor").await;
    db.surreal()
        .query("UPDATE user SET queues = [queue:cardiology] WHERE email = 'cardio@h.org'")
        .await
        .unwrap()
        .check()
        .unwrap();
    // Queues are read at sign-in: sign in again.
    let other_doctor = {
        let _ = other_doctor;
        sign_in(&app, "cardio@h.org", "a long password 123").await
    };

    let (consultation, patient) = book_and_join(&app, &doctor, "Ana").await;
    let (_, other_patient) = book_and_join(&app, &doctor, "Ben").await;

    // The doctor lets Ana in; Ana sends a photo; a guest is invited.
    let (status, _, text) = send(
        &app,
        form(
            "/api/room/state",
            &format!("consultation={consultation}"),
            Some(&doctor),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let room = json_of(&text);
    let waiting = room["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["state"] == "waiting")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, text) = send(
        &app,
        form(
            "/api/consultations/admit",
            &format!("participant={waiting}"),
            Some(&doctor),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let png = b"\x89PNG\r\n\x1a\n0000000000";
    let boundary = "XyZ";
    let mut upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    upload.extend_from_slice(png);
    upload.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::post(format!("/consultations/{consultation}/files"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::ACCEPT, "application/json")
        .header(header::COOKIE, &patient)
        .body(Body::from(upload))
        .unwrap();
    let (status, _, text) = send(&app, request).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let attachment = json_of(&text)["attachment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, text) = send(
        &app,
        form(
            "/api/consultations/invite-guest",
            &format!("consultation={consultation}&name=Guest&language=en"),
            Some(&doctor),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let guest = json_of(&text)["participant"].as_str().unwrap().to_string();

    World {
        app,
        cookies: vec![
            (Anonymous, None),
            (Admin, Some(admin)),
            (Doctor, Some(doctor)),
            (Nurse, Some(nurse)),
            (Scheduler, Some(scheduler)),
            (Translator, Some(translator)),
            (OtherDoctor, Some(other_doctor)),
            (Patient, Some(patient)),
            (OtherPatient, Some(other_patient)),
        ],
        consultation,
        guest,
        attachment,
    }
}

fn expected(who: Who, allowed: &[Who], staff_only: bool) -> Expect {
    if allowed.contains(&who) {
        Expect::Ok
    } else if who == Anonymous || (staff_only && matches!(who, Patient | OtherPatient)) {
        Expect::Unauthorized
    } else {
        Expect::Forbidden
    }
}

fn outcome(status: StatusCode) -> Expect {
    match status.as_u16() {
        // 409 and 429: let through, then refused by the consultation's
        // state (a waiting one cannot be moved) or a limit on how often.
        200..=399 | 409 | 429 => Expect::Ok,
        401 => Expect::Unauthorized,
        403 => Expect::Forbidden,
        other => panic!("unexpected status {other}"),
    }
}

#[tokio::test]
async fn every_caller_against_every_consultation_function_and_route() {
    let w = world().await;
    let c = &w.consultation;
    let staff_all = [Admin, Doctor, Nurse, Scheduler, Translator, OtherDoctor];
    let clinicians = [Doctor, Nurse];
    let booking = [Doctor, Nurse, Scheduler];
    // (what, request body, who gets through, staff-only function?)
    let functions: Vec<(&str, String, Vec<Who>, bool)> = vec![
        ("/api/consultations/booking-options", String::new(), staff_all.to_vec(), true),
        (
            "/api/consultations/create",
            "booking[queue]=default&booking[patient_name]=X&booking[language]=en&booking[timezone]=UTC".into(),
            booking.to_vec(),
            true,
        ),
        ("/api/consultations/today", String::new(), staff_all.to_vec(), true),
        (
            "/api/consultations/reissue-link",
            format!("participant={}", w.guest),
            booking.to_vec(),
            true,
        ),
        (
            "/api/consultations/reschedule",
            format!("consultation={c}&scheduled_for=2099-01-01T10:00&clinician_timezone=UTC"),
            booking.to_vec(),
            true,
        ),
        (
            "/api/consultations/resend-invite",
            format!("consultation={c}"),
            booking.to_vec(),
            true,
        ),
        (
            "/api/consultations/auto-admit",
            format!("consultation={c}&on=false"),
            clinicians.to_vec(),
            false,
        ),
        ("/api/consultations/notes", format!("consultation={c}"), clinicians.to_vec(), false),
        (
            "/api/consultations/save-notes",
            format!("consultation={c}&notes=n"),
            clinicians.to_vec(),
            false,
        ),
        (
            "/api/consultations/invite-guest",
            format!("consultation={c}&name=G&language=en"),
            clinicians.to_vec(),
            false,
        ),
        (
            "/api/consultations/request-translator",
            format!("consultation={c}&language=ar"),
            clinicians.to_vec(),
            true,
        ),
        ("/api/translations/open", String::new(), staff_all.to_vec(), true),
        ("/api/messaging/settings", String::new(), vec![Admin], true),
        ("/api/messaging/outbox", String::new(), vec![Admin], true),
        (
            "/api/messaging/setup",
            "values[sms_provider]=log".into(),
            vec![Admin],
            true,
        ),
        ("/api/messaging/setup/forget", String::new(), vec![Admin], true),
        ("/api/api-keys/list", String::new(), vec![Admin], true),
        (
            "/api/api-keys/create",
            "name=Matrix&read=on".into(),
            vec![Admin],
            true,
        ),
        // Revoking one that does not exist: let through, then 409.
        ("/api/api-keys/revoke", "id=nosuchkey1".into(), vec![Admin], true),
        ("/api/webhooks/list", String::new(), vec![Admin], true),
        // Ones that do not exist: let through, then 409.
        ("/api/webhooks/replay", "id=nosuchdelivery".into(), vec![Admin], true),
        ("/api/webhooks/delete", "id=nosuchhook".into(), vec![Admin], true),
        ("/api/translators/orgs", String::new(), vec![Admin], true),
        (
            "/api/translators/create",
            "name=Matrix+desk&languages=uk".into(),
            vec![Admin],
            true,
        ),
        (
            "/api/room/state",
            format!("consultation={c}"),
            vec![Doctor, Nurse, Scheduler, Patient],
            false,
        ),
        (
            "/api/chat/messages",
            format!("consultation={c}"),
            vec![Doctor, Nurse, Patient],
            false,
        ),
        (
            "/api/chat/send",
            format!("consultation={c}&body=hello"),
            vec![Doctor, Nurse, Patient],
            false,
        ),
        (
            "/api/consultations/remove",
            format!("participant={}", w.guest),
            clinicians.to_vec(),
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (path, body, allowed, staff_only) in &functions {
        for who in EVERYONE {
            let (status, _, text) = send(&w.app, form(path, body, w.cookie(who))).await;
            let want = expected(who, allowed, *staff_only);
            if outcome(status) != want {
                failures.push(format!(
                    "{path} as {who:?}: {status} ({text}), wanted {want:?}"
                ));
            }
        }
    }
    // Routes that are not server functions.
    let routes: Vec<(String, Vec<Who>, bool)> = vec![
        (
            format!("/room/{c}"),
            vec![Doctor, Nurse, Scheduler, Patient],
            false,
        ),
        (
            format!("/files/{}", w.attachment),
            vec![Doctor, Nurse, Patient],
            false,
        ),
        (
            format!("/consultations/{c}/report.pdf"),
            clinicians.to_vec(),
            false,
        ),
    ];
    for (path, allowed, staff_only) in &routes {
        for who in EVERYONE {
            let mut request = Request::get(path.as_str()).header(header::ACCEPT, "text/html");
            if let Some(cookie) = w.cookie(who) {
                request = request.header(header::COOKIE, cookie);
            }
            let (status, _, _) = send(&w.app, request.body(Body::empty()).unwrap()).await;
            let want = expected(who, allowed, *staff_only);
            if outcome(status) != want {
                failures.push(format!("GET {path} as {who:?}: {status}, wanted {want:?}"));
            }
        }
    }
    // Leaving is for people who came by link; closing for the clinicians.
    for who in EVERYONE {
        let (status, _, _) = send(&w.app, form("/api/room/leave", "", w.cookie(who))).await;
        let want = if matches!(who, Patient | OtherPatient) {
            Expect::Ok
        } else {
            Expect::Unauthorized
        };
        if outcome(status) != want {
            failures.push(format!(
                "/api/room/leave as {who:?}: {status}, wanted {want:?}"
            ));
        }
    }
    for who in EVERYONE.into_iter().filter(|w| !clinicians.contains(w)) {
        let (status, _, _) = send(
            &w.app,
            form(
                "/api/consultations/close",
                &format!("consultation={c}"),
                w.cookie(who),
            ),
        )
        .await;
        // Visitors may reach it (one who hosts by link runs the
        // consultation), so a patient is refused, not asked to sign in.
        let want = expected(who, &[], false);
        if outcome(status) != want {
            failures.push(format!(
                "/api/consultations/close as {who:?}: {status}, wanted {want:?}"
            ));
        }
    }
    let (status, _, text) = send(
        &w.app,
        form(
            "/api/consultations/close",
            &format!("consultation={c}"),
            w.cookie(Nurse),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
