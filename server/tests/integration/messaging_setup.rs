//! The email and text-message set-up saved in the console, across nodes of
//! one installation on a real (in-memory) SurrealDB: saved on one node, used
//! by another as soon as it looks (no restart); the secret sealed in the
//! database; a node that cannot open it (another `VISITA_SECRETS_KEY`) keeps
//! its file's set-up and says why; dropped, each node is back on its file.

use app::error::AppError;
use app::ssr::{ClientInfo, Messaging};
use server::config::Config;
use server::db::Db;
use server::notify::Notifier;
use server::notify::clock::ManualClock;
use std::collections::BTreeMap;
use std::sync::Arc;

const INSTALLATION: &[u8] = b"installation secret";

fn config(secrets_key: Option<&'static str>) -> Config {
    Config::from_sources(None, &|name| match name {
        "VISITA_DATABASE" => Some("mem://".into()),
        "VISITA_PUBLIC_URL" => Some("https://visio.example.org".into()),
        "VISITA_SMS_PROVIDER" => Some("log".into()),
        "VISITA_SECRETS_KEY" => secrets_key.map(String::from),
        _ => None,
    })
    .unwrap()
}

fn node(db: &Db, config: &Config, name: &str) -> Notifier {
    Notifier::new(
        config,
        db.clone(),
        Arc::new(ManualClock::at(chrono::Utc::now())),
        INSTALLATION,
        name.into(),
    )
    .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn gateway(node: &Notifier) -> String {
    node.settings()
        .sms
        .into_iter()
        .find(|(label, _)| label == "Gateway")
        .map(|(_, value)| value)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_set_up_saved_on_one_node_reaches_the_others_sealed() {
    let db = Db::in_memory().await.unwrap();
    let file = config(None);
    let a = node(&db, &file, "a");
    let b = node(&db, &file, "b");
    let admin = crate::common::doctor(&db, &file).await;
    let client = ClientInfo::default();
    assert!(gateway(&a).starts_with("log"));
    assert!(!a.settings().setup.from_console);

    // Refused, naming the field; nothing saved.
    let refused = a
        .save_setup(&admin, form(&[("sms_provider", "carrier-pigeon")]), &client)
        .await
        .unwrap_err();
    match refused {
        AppError::Invalid(e) => {
            assert_eq!(e.field, "sms_provider");
            assert_eq!(
                e.message,
                "\"carrier-pigeon\" is none of none, log, twilio, http."
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(db.setting("messaging").await.unwrap().is_none());

    a.save_setup(
        &admin,
        form(&[
            ("sms_provider", "http"),
            ("sms_http_url", "https://sms.hospital.example/send"),
            (
                "sms_http_headers",
                "Authorization: Bearer s3cret-gateway-key",
            ),
        ]),
        &client,
    )
    .await
    .unwrap();
    assert_eq!(gateway(&a), "your HTTP gateway");
    assert!(a.settings().setup.from_console);

    // Node b uses its file's until it looks, then the saved one.
    assert!(gateway(&b).starts_with("log"));
    b.follow_console().await;
    assert_eq!(gateway(&b), "your HTTP gateway");
    let setup = b.settings().setup;
    assert_eq!(setup.secrets_set, vec!["sms_http_headers".to_string()]);
    assert!(!setup.values.contains_key("sms_http_headers"));
    assert_eq!(
        setup.value("sms_http_url"),
        "https://sms.hospital.example/send"
    );

    // Stored sealed: the value is nowhere in the row.
    let row = db.setting("messaging").await.unwrap().unwrap();
    assert!(!row.values.contains_key("sms_http_headers"));
    let sealed = &row.sealed["sms_http_headers"];
    assert!(!sealed.contains("s3cret"), "{sealed}");

    // A node with another secrets key cannot open it: it keeps its file's
    // set-up and says why.
    let other_key = config(Some("another key of at least thirty-two characters"));
    let c = node(&db, &other_key, "c");
    c.follow_console().await;
    assert!(gateway(&c).starts_with("log"));
    let problem = c.settings().setup.problem.unwrap();
    assert!(problem.contains("cannot be read"), "{problem}");

    // Dropped: back to each node's file.
    a.forget_setup(&admin, &client).await.unwrap();
    assert!(gateway(&a).starts_with("log"));
    b.follow_console().await;
    assert!(gateway(&b).starts_with("log"));
    assert!(!b.settings().setup.from_console);
    c.follow_console().await;
    assert_eq!(c.settings().setup.problem, None);
}
