//! The pages an invite link opens, through the whole router: an open link
//! shows the appointment; an expired, replaced or unknown one shows a plain
//! page in the person's language with 410/404 and nothing about the
//! consultation.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

async fn get_page(app: &axum::Router, path: &str, language: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header(header::ACCEPT, "text/html")
        .header(header::ACCEPT_LANGUAGE, language)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(app, request).await;
    (status, body)
}

#[tokio::test]
async fn open_expired_and_unknown_links() {
    let (app, db) = app().await;
    let admin = sign_in(&app, "admin@h.org", ADMIN_PASSWORD).await;
    let create = "email=doc%40h.org&name=Dr+Mirela+Ionescu&role=doctor&password=doctor+password+1";
    let (status, _, text) = send(&app, form("/api/users/create", create, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let doctor = sign_in(&app, "doc@h.org", "doctor password 1").await;
    let booking = "booking[queue]=default&booking[patient_name]=Olga+Smirnova&booking[language]=fr&booking[timezone]=Europe%2FParis";
    let (status, _, text) = send(
        &app,
        form("/api/consultations/create", booking, Some(&doctor)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let created: serde_json::Value = serde_json::from_str(&text).unwrap();
    let link = created["patient_link"].as_str().unwrap();
    let path = &link[link.find("/j/").unwrap()..];

    // Open: the clinician's name, in the patient's language.
    let (status, html) = get_page(&app, path, "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Avec Dr Mirela Ionescu"), "{html}");
    assert!(html.contains("lang=\"fr\""), "the page says its language");

    // Expired: 410, in French, and nothing about whom or when.
    db.surreal()
        .query("UPDATE participant SET token_expires_at = time::now() - 1h WHERE role = 'patient'")
        .await
        .unwrap()
        .check()
        .unwrap();
    let (status, html) = get_page(&app, path, "en").await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("Ce lien a expiré"), "{html}");
    assert!(
        !html.contains("Mirela") && !html.contains("Olga"),
        "no names leak: {html}"
    );
    let join = form("/api/invite/join", &format!("token={}", &path[3..]), None);
    let (status, _, _) = send(&app, join).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an expired link opens no session"
    );

    // Unknown or forged: 404, in the browser's language.
    for forged in [
        "/j/aaaaaaaaaaaaaaaaaaaaaaaaaa",
        "/j/..%2F..%2Fetc",
        "/j/%3Cscript%3E",
    ] {
        let (status, html) = get_page(&app, forged, "fr-CH,fr;q=0.9").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{forged}");
        assert!(
            html.contains("Ce lien ne fonctionne pas"),
            "{forged}: {html}"
        );
        assert!(!html.contains("<script>alert"), "nothing is echoed");
    }
}
