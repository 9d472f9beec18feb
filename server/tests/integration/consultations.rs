//! The consultation loop on a real (in-memory) SurrealDB, through the same
//! service the server functions call: booking, links, waiting room, admit,
//! chat, close — and the live changes the hub reads back from the database.

use app::authz::Caller;
use app::consultation::{
    ConsultationStatus, DEFAULT_QUEUE, DeadLink, InviteOutcome, NewConsultation, ParticipantState,
    QueueId,
};
use app::domain::{NewUser, Principal, Role, UserId};
use app::error::AppError;
use app::ssr::{ClientInfo, Consultations};
use server::accounts::AccountService;
use server::config::Config;
use server::consultations::ConsultationService;
use server::db::Db;
use server::realtime::{Change, Hub};
use std::time::Duration;

fn config() -> Config {
    Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_DATA_DIR" => Some(
            std::env::temp_dir()
                .join("visita-tests")
                .display()
                .to_string(),
        ),
        "VISITA_PUBLIC_URL" => Some("https://visio.example.org".into()),
        "VISITA_CLINIC_NAME" => Some("Clinique des Lilas".into()),
        "VISITA_TIMEZONE" => Some("Europe/Paris".into()),
        _ => None,
    })
    .unwrap()
}

async fn staff(db: &Db, email: &str, roles: &[Role], queues: &[&str]) -> Principal {
    let summary = AccountService::new(db.clone(), &config())
        .create_user_unchecked(
            NewUser {
                email: email.into(),
                name: format!("Dr {email}"),
                roles: roles.to_vec(),
                password: "a long enough password".into(),
            },
            None,
            None,
        )
        .await
        .unwrap();
    Principal {
        user_id: UserId(summary.id.0),
        email: email.into(),
        name: format!("Dr {email}"),
        roles: roles.to_vec(),
        queues: queues.iter().map(|q| QueueId((*q).into())).collect(),
        languages: Vec::new(),
    }
}

fn booking(name: &str) -> NewConsultation {
    NewConsultation {
        queue: QueueId(DEFAULT_QUEUE.into()),
        patient_name: name.into(),
        patient_email: "patient@example.org".into(),
        patient_phone: String::new(),
        language: "fr".into(),
        timezone: "America/Montreal".into(),
        scheduled_for: String::new(),
        clinician_timezone: String::new(),
    }
}

fn secret_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn a_consultation_from_booking_to_close() {
    let db = Db::in_memory().await.unwrap();
    let service = ConsultationService::new(db.clone(), &config());
    let client = ClientInfo::default();
    let doctor = staff(&db, "house@h.org", &[Role::Doctor], &[DEFAULT_QUEUE]).await;

    let created = service
        .create(&doctor, booking("Zoë Ñúñez"), &client)
        .await
        .unwrap();
    assert!(
        created
            .patient_link
            .starts_with("https://visio.example.org/j/")
    );
    let secret = secret_of(&created.patient_link);

    // The link shows the clinic and the clinician, in the patient's language.
    let InviteOutcome::Open(preview) = service.open_invite(&secret).await.unwrap() else {
        panic!("a fresh link opens");
    };
    assert_eq!(preview.clinic, "Clinique des Lilas");
    assert_eq!(preview.clinician, "Dr house@h.org");
    assert_eq!(preview.language.code(), "fr");

    // Joining opens a visitor session and puts the patient in the waiting room.
    let (id, cookie) = service.join(&secret, None, &client).await.unwrap();
    assert_eq!(id, created.id);
    let cookie_secret = cookie.0.split(['=', ';']).nth(1).unwrap().to_string();
    let visitor = service
        .resolve_visitor(&cookie_secret)
        .await
        .unwrap()
        .expect("the cookie resolves")
        .visitor;
    let room = service
        .room(Caller::Visitor(&visitor), &id, &client)
        .await
        .unwrap();
    assert_eq!(room.status, ConsultationStatus::Waiting);
    assert_eq!(room.my_state, Some(ParticipantState::Waiting));
    assert_eq!(room.position, Some(1));
    assert!(!room.can_chat, "no chat before being let in");

    // Before admission the patient may not chat.
    let refused = service
        .send_message(Caller::Visitor(&visitor), &id, "hello?", &client)
        .await;
    assert_eq!(refused.unwrap_err(), AppError::Forbidden);

    // The doctor sees the patient waiting and admits them.
    let day = service.day_list(&doctor).await.unwrap();
    let line = day.iter().find(|c| c.id == id).expect("listed today");
    let waiting = line.waiting().next().expect("the patient waits").id.clone();
    service
        .admit(Caller::Staff(&doctor), &waiting, &client)
        .await
        .unwrap();
    let room = service
        .room(Caller::Visitor(&visitor), &id, &client)
        .await
        .unwrap();
    assert_eq!(room.status, ConsultationStatus::Active);
    assert!(room.can_chat);

    // Chat both ways, in order.
    service
        .send_message(Caller::Visitor(&visitor), &id, "Bonjour docteur", &client)
        .await
        .unwrap();
    service
        .send_message(Caller::Staff(&doctor), &id, "Bonjour Zoë", &client)
        .await
        .unwrap();
    let chat = service
        .messages(Caller::Staff(&doctor), &id, None, &client)
        .await
        .unwrap();
    let bodies: Vec<&str> = chat.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["Bonjour docteur", "Bonjour Zoë"]);
    let after_first = service
        .messages(Caller::Visitor(&visitor), &id, Some(&chat[0].id), &client)
        .await
        .unwrap();
    assert_eq!(after_first.len(), 1);

    // Closing ends the link.
    service
        .close(Caller::Staff(&doctor), &id, &client)
        .await
        .unwrap();
    assert_eq!(
        service.open_invite(&secret).await.unwrap(),
        InviteOutcome::Dead {
            reason: DeadLink::Ended,
            language: Some(preview.language)
        }
    );
    let history: Vec<String> = db
        .consultation_events(&id.0)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, to, _)| to)
        .collect();
    assert_eq!(history, ["scheduled", "waiting", "active", "closed"]);
}

#[tokio::test]
async fn links_are_single_purpose_and_die_when_replaced() {
    let db = Db::in_memory().await.unwrap();
    let service = ConsultationService::new(db.clone(), &config());
    let client = ClientInfo::default();
    let doctor = staff(&db, "a@h.org", &[Role::Doctor], &[DEFAULT_QUEUE]).await;
    let created = service
        .create(&doctor, booking("Ivan Petrov"), &client)
        .await
        .unwrap();
    let old = secret_of(&created.patient_link);
    let room = service
        .room(Caller::Staff(&doctor), &created.id, &client)
        .await
        .unwrap();
    let patient = room
        .participants
        .iter()
        .find(|p| p.name == "Ivan Petrov")
        .unwrap()
        .id
        .clone();
    let fresh = service
        .reissue_link(&doctor, &patient, &client)
        .await
        .unwrap();
    assert_ne!(fresh.link, created.patient_link);
    assert_eq!(
        service.open_invite(&old).await.unwrap(),
        InviteOutcome::Dead {
            reason: DeadLink::Unknown,
            language: None
        }
    );
    assert!(matches!(
        service.open_invite(&secret_of(&fresh.link)).await.unwrap(),
        InviteOutcome::Open(_)
    ));
    for forged in ["", "abc", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "../../etc/passwd"] {
        assert!(matches!(
            service.open_invite(forged).await.unwrap(),
            InviteOutcome::Dead {
                reason: DeadLink::Unknown,
                ..
            }
        ));
        assert!(service.join(forged, None, &client).await.is_err());
    }
}

#[tokio::test]
async fn staff_outside_the_queue_and_admins_see_nothing() {
    let db = Db::in_memory().await.unwrap();
    let service = ConsultationService::new(db.clone(), &config());
    let client = ClientInfo::default();
    let doctor = staff(&db, "a@h.org", &[Role::Doctor], &[DEFAULT_QUEUE]).await;
    let elsewhere = staff(&db, "b@h.org", &[Role::Doctor], &["cardiology"]).await;
    let admin = staff(&db, "c@h.org", &[Role::Admin], &[DEFAULT_QUEUE]).await;
    let created = service
        .create(&doctor, booking("Ana"), &client)
        .await
        .unwrap();
    for who in [&elsewhere, &admin] {
        assert_eq!(
            service
                .room(Caller::Staff(who), &created.id, &client)
                .await
                .unwrap_err(),
            AppError::Forbidden
        );
        assert_eq!(
            service
                .messages(Caller::Staff(who), &created.id, None, &client)
                .await
                .unwrap_err(),
            AppError::Forbidden
        );
        assert!(service.day_list(who).await.unwrap().is_empty());
    }
    assert!(
        service.create(&admin, booking("X"), &client).await.is_err(),
        "an admin alone does not book"
    );
}

#[tokio::test]
async fn bookings_are_validated_with_plain_errors() {
    let db = Db::in_memory().await.unwrap();
    let service = ConsultationService::new(db.clone(), &config());
    let client = ClientInfo::default();
    let doctor = staff(&db, "a@h.org", &[Role::Doctor], &[DEFAULT_QUEUE]).await;
    let field = |e: AppError| match e {
        AppError::Invalid(f) => f.field,
        other => panic!("expected a field error, got {other:?}"),
    };
    let bad_zone = NewConsultation {
        timezone: "Mars/Olympus".into(),
        ..booking("A")
    };
    assert_eq!(
        field(
            service
                .create(&doctor, bad_zone, &client)
                .await
                .unwrap_err()
        ),
        "timezone"
    );
    let past = NewConsultation {
        scheduled_for: "2001-01-01T10:00".into(),
        ..booking("A")
    };
    assert_eq!(
        field(service.create(&doctor, past, &client).await.unwrap_err()),
        "scheduled_for"
    );
    let impossible = NewConsultation {
        scheduled_for: "2030-02-30T10:00".into(),
        ..booking("A")
    };
    assert_eq!(
        field(
            service
                .create(&doctor, impossible, &client)
                .await
                .unwrap_err()
        ),
        "scheduled_for"
    );
    let unknown_queue = NewConsultation {
        queue: QueueId("nope".into()),
        ..booking("A")
    };
    assert_eq!(
        service
            .create(&doctor, unknown_queue, &client)
            .await
            .unwrap_err(),
        AppError::Forbidden,
        "a queue one does not work in is refused before it is looked up"
    );
}

#[tokio::test]
async fn the_hub_reports_changes_read_back_from_the_database() {
    let db = Db::in_memory().await.unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (hub, task) = Hub::start(db.clone(), stop);
    let mut changes = hub.subscribe();
    // Give the live queries a moment to register.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let service = ConsultationService::new(db.clone(), &config());
    let client = ClientInfo::default();
    let doctor = staff(&db, "a@h.org", &[Role::Doctor], &[DEFAULT_QUEUE]).await;
    let created = service
        .create(&doctor, booking("Ana"), &client)
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Change::Consultation(id)) = changes.recv().await
                && id == created.id
            {
                return;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "the new consultation was reported");

    let (id, _) = service
        .join(&secret_of(&created.patient_link), None, &client)
        .await
        .unwrap();
    let waiting = service.day_list(&doctor).await.unwrap()[0]
        .waiting()
        .next()
        .unwrap()
        .id
        .clone();
    service
        .admit(Caller::Staff(&doctor), &waiting, &client)
        .await
        .unwrap();
    service
        .send_message(Caller::Staff(&doctor), &id, "live line", &client)
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Change::Message(m)) = changes.recv().await {
                return m;
            }
        }
    })
    .await
    .expect("the chat line was reported");
    assert_eq!(message.body, "live line");
    assert_eq!(message.consultation, id);

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the hub stops when told")
        .unwrap();
}
