//! The email and text-message set-up saved from the administrators'
//! console.
//!
//! It is one database row (`setting:messaging`) that every node reads: when
//! it exists, its values replace the email and text-message keys of the
//! node's file and environment (the other messaging keys stay theirs). Each
//! save writes a new random revision, which the scheduler of every node
//! watches, so a change reaches all nodes within seconds without a restart.
//! Secrets in the row are sealed (ChaCha20-Poly1305) under a key derived
//! from `VISITA_SECRETS_KEY` when it is set, else from the installation
//! secret; bound to their field's name, so one cannot stand in for another.

use super::{Channels, Notifier, Origin, SetupError};
use crate::config::{ConfigError, Secret};
use crate::db::{AuditEntry, SettingRow};
use app::channel_setup::{self, FIELDS};
use app::domain::Principal;
use app::error::AppError;
use app::ssr::ClientInfo;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The console's row in `setting`.
const PART: &str = "messaging";
/// How often each node looks for a new revision of it.
pub const LOOK_EVERY: Duration = Duration::from_secs(3);

impl Notifier {
    /// Starts using the console's set-up when its revision is not the one in
    /// use (saved on another node, or dropped); at start, before serving,
    /// and every [`LOOK_EVERY`] after.
    pub async fn follow_console(&self) {
        let revision = match self.db.setting_revision(PART).await {
            Ok(revision) => revision,
            Err(error) => {
                tracing::error!(%error, "could not read the console's messaging set-up");
                return;
            }
        };
        if revision == self.channels().revision {
            return;
        }
        let next = match revision {
            None => Channels::new(
                self.file_channels.clone(),
                Origin::File { problem: None },
                None,
            ),
            Some(_) => match self.db.setting(PART).await {
                Ok(Some(row)) => self.console_channels(row),
                // Dropped between the two reads: the next look sees it.
                Ok(None) => return,
                Err(error) => {
                    tracing::error!(%error, "could not read the console's messaging set-up");
                    return;
                }
            },
        };
        match next {
            Ok(channels) => {
                tracing::info!(origin = ?channels.origin, "messaging set-up in use");
                self.use_channels(channels);
            }
            Err(error) => {
                tracing::error!(%error, "the messaging set-up is unusable; the previous one stays")
            }
        }
    }

    /// The senders of a saved row, or the file's with the reason they are
    /// not used.
    fn console_channels(&self, row: SettingRow) -> Result<Channels, SetupError> {
        let revision = Some(row.revision.clone());
        let origin = Origin::Console {
            by: row.updated_by.clone(),
            at: row.updated_at,
        };
        let built = ChannelValues::join(row.values, &row.sealed, &self.secrets)
            .map_err(|e| e.to_string())
            .and_then(|values| {
                crate::config::channels_from_console(&values, &self.public_url)
                    .map_err(|e| e.to_string())
            })
            .and_then(|config| {
                Channels::new(config, origin, revision.clone()).map_err(|e| e.to_string())
            });
        built.or_else(|problem| {
            tracing::error!(%problem, "the messaging set-up saved in the console is unusable; this node uses its file's");
            Channels::new(
                self.file_channels.clone(),
                Origin::File {
                    problem: Some(problem),
                },
                revision,
            )
        })
    }

    /// Checks and saves what the console's form sent, and uses it at once.
    pub(super) async fn save_console(
        &self,
        who: &Principal,
        form: BTreeMap<String, String>,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let values = self.channels().config.values.edited(&form);
        let checked = crate::config::channels_from_console(&values, &self.public_url)
            .map_err(field_error)
            .and_then(|config| {
                Channels::new(config, Origin::File { problem: None }, None).map_err(|e| match e {
                    SetupError::Smtp(problem) => {
                        let field = if values.get("smtp_ca_file").is_some() {
                            "smtp_ca_file"
                        } else {
                            "smtp_host"
                        };
                        AppError::invalid(field, capitalised(&problem))
                    }
                    other => AppError::invalid("smtp_host", capitalised(&other.to_string())),
                })
            });
        let mut channels = match checked {
            Ok(channels) => channels,
            Err(error) => {
                self.audit(who, "messaging.setup", PART.into(), client, "refused")
                    .await;
                return Err(error);
            }
        };
        let (plain, sealed) = values.split(&self.secrets);
        let row = SettingRow {
            values: plain,
            sealed,
            revision: crate::auth::token::generate(),
            updated_by: who.email.clone(),
            updated_at: self.now(),
        };
        channels.revision = Some(row.revision.clone());
        channels.origin = Origin::Console {
            by: row.updated_by.clone(),
            at: row.updated_at,
        };
        self.db.save_setting(PART, row).await.map_err(|error| {
            tracing::error!(%error, "could not save the messaging set-up");
            AppError::Internal
        })?;
        tracing::info!(by = %who.email, values = ?values, "messaging set-up saved in the console");
        self.use_channels(channels);
        self.audit(who, "messaging.setup", PART.into(), client, "ok")
            .await;
        Ok(())
    }

    /// Drops the console's set-up: the file's applies again, on every node.
    pub(super) async fn forget_console(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let channels = Channels::new(
            self.file_channels.clone(),
            Origin::File { problem: None },
            None,
        )
        .map_err(|e| AppError::Conflict(format!("The server's own set-up is unusable: {e}.")))?;
        self.db.forget_setting(PART).await.map_err(|error| {
            tracing::error!(%error, "could not drop the messaging set-up");
            AppError::Internal
        })?;
        self.use_channels(channels);
        self.audit(who, "messaging.setup.forget", PART.into(), client, "ok")
            .await;
        Ok(())
    }

    pub(super) async fn audit(
        &self,
        who: &Principal,
        action: &'static str,
        target: String,
        client: &ClientInfo,
        outcome: &'static str,
    ) {
        self.db
            .audit_or_log(AuditEntry::by_staff(who, action, target, client, outcome))
            .await;
    }
}

/// A configuration error about one of the console's fields, for the form.
fn field_error(error: ConfigError) -> AppError {
    let field = channel_setup::field(&error.key).map_or("values", |f| f.key);
    AppError::invalid(field, capitalised(&error.problem))
}

/// "is missing: …" reads as a sentence under its field's label.
fn capitalised(problem: &str) -> String {
    let mut chars = problem.chars();
    let first = chars
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let sentence = format!("{first}{}", chars.as_str());
    if sentence.ends_with('.') {
        sentence
    } else {
        format!("{sentence}.")
    }
}

/// The raw values of the email and text-message keys, as an operator typed
/// them (secrets included: never printed).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChannelValues(BTreeMap<String, String>);

impl ChannelValues {
    /// Keeps the known, non-empty values.
    pub fn from_pairs<K: Into<String>>(pairs: impl IntoIterator<Item = (K, String)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.trim().to_string()))
                .filter(|(k, v)| !v.is_empty() && channel_setup::field(k).is_some())
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// What a form sent, over these (the current) values: a secret left
    /// empty keeps its value unless `forget_<key>` is there; every other
    /// field takes what was sent (empty: not set).
    pub fn edited(&self, form: &BTreeMap<String, String>) -> Self {
        let mut next = BTreeMap::new();
        for field in FIELDS {
            let sent = form.get(field.key).map_or("", |v| v.trim());
            let value = if channel_setup::is_secret(field.key) && sent.is_empty() {
                let forget = form.contains_key(&channel_setup::forget_key(field.key));
                if forget { None } else { self.get(field.key) }
            } else {
                Some(sent)
            };
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                next.insert(field.key.to_string(), value.to_string());
            }
        }
        Self(next)
    }

    /// The values the console form shows (no secrets) and which secrets are
    /// set.
    pub fn for_form(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let mut values = BTreeMap::new();
        let mut secrets = Vec::new();
        for (key, value) in self.iter() {
            if channel_setup::is_secret(key) {
                secrets.push(key.to_string());
            } else {
                values.insert(key.to_string(), value.to_string());
            }
        }
        (values, secrets)
    }

    /// Splits into plain values and secrets sealed with `seal`.
    pub fn split(&self, seal: &SecretBox) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let mut plain = BTreeMap::new();
        let mut sealed = BTreeMap::new();
        for (key, value) in self.iter() {
            if channel_setup::is_secret(key) {
                sealed.insert(key.to_string(), seal.seal(key, value));
            } else {
                plain.insert(key.to_string(), value.to_string());
            }
        }
        (plain, sealed)
    }

    /// Joins what `split` made; fails on a secret that does not open.
    pub fn join(
        plain: BTreeMap<String, String>,
        sealed: &BTreeMap<String, String>,
        seal: &SecretBox,
    ) -> Result<Self, Unreadable> {
        let mut values = Self::from_pairs(
            plain
                .into_iter()
                .filter(|(k, _)| !channel_setup::is_secret(k)),
        );
        for (key, value) in sealed {
            if channel_setup::is_secret(key) {
                values.0.insert(key.clone(), seal.open(key, value)?);
            }
        }
        Ok(values)
    }
}

impl fmt::Debug for ChannelValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.iter() {
            if channel_setup::is_secret(key) {
                map.entry(&key, &"…");
            } else {
                map.entry(&key, &value);
            }
        }
        map.finish()
    }
}

/// A secret of the console's row did not open: sealed under another key
/// (`VISITA_SECRETS_KEY` changed) or altered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {field} saved in the console cannot be read with this server's key (was VISITA_SECRETS_KEY changed?): enter it again"
)]
pub struct Unreadable {
    pub field: String,
}

/// Seals and opens the console's secrets.
pub struct SecretBox(LessSafeKey);

impl SecretBox {
    /// The key from `VISITA_SECRETS_KEY` when set, else from the
    /// installation secret (then a copy of the whole database holds both).
    pub fn new(secrets_key: Option<&Secret>, installation_secret: &[u8]) -> Self {
        let material = secrets_key.map_or(installation_secret, |k| k.expose().as_bytes());
        let key = crate::auth::token::mac(material, b"visita/console-secrets/v1");
        Self(LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &key).expect("a 32-byte key"),
        ))
    }

    /// `value` sealed for `field`: base64 of nonce and ciphertext.
    pub fn seal(&self, field: &str, value: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut data = value.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(field.as_bytes()),
                &mut data,
            )
            .expect("a message far below the cipher's limit");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        B64.encode(out)
    }

    pub fn open(&self, field: &str, sealed: &str) -> Result<String, Unreadable> {
        let unreadable = || Unreadable {
            field: channel_setup::field(field)
                .map_or(field, |f| f.label)
                .to_lowercase(),
        };
        let bytes = B64.decode(sealed).map_err(|_| unreadable())?;
        if bytes.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(field.as_bytes()), &mut data)
            .map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_secret_left_empty_stays_unless_forgotten() {
        let current = ChannelValues::from_pairs([
            ("smtp_host", "mail.example".to_string()),
            ("smtp_password", "hunter22".to_string()),
            ("unknown", "dropped".to_string()),
        ]);
        assert_eq!(current.get("unknown"), None);
        let kept = current.edited(&form(&[
            ("smtp_host", " relay.example "),
            ("smtp_password", ""),
        ]));
        assert_eq!(kept.get("smtp_host"), Some("relay.example"));
        assert_eq!(kept.get("smtp_password"), Some("hunter22"));
        let replaced = current.edited(&form(&[("smtp_password", "new one")]));
        assert_eq!(replaced.get("smtp_password"), Some("new one"));
        assert_eq!(replaced.get("smtp_host"), None, "an empty field is unset");
        let forgotten = current.edited(&form(&[("forget_smtp_password", "on")]));
        assert_eq!(forgotten.get("smtp_password"), None);
        let (values, secrets) = kept.for_form();
        assert_eq!(secrets, vec!["smtp_password".to_string()]);
        assert!(!values.contains_key("smtp_password"));
        assert!(!format!("{kept:?}").contains("hunter22"));
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_field() {
        let seal = SecretBox::new(None, b"installation");
        let values = ChannelValues::from_pairs([
            ("smtp_host", "mail.example".to_string()),
            ("twilio_auth_token", "tok".to_string()),
        ]);
        let (plain, sealed) = values.split(&seal);
        assert!(!sealed["twilio_auth_token"].contains("tok"));
        assert_eq!(plain.get("twilio_auth_token"), None);
        assert_eq!(
            ChannelValues::join(plain.clone(), &sealed, &seal).unwrap(),
            values
        );
        let other = SecretBox::new(Some(&Secret::new("operator key")), b"installation");
        let error = ChannelValues::join(plain, &sealed, &other).unwrap_err();
        assert_eq!(error.field, "auth token");
        let moved = seal.seal("smtp_password", "x");
        assert!(seal.open("twilio_auth_token", &moved).is_err());
        assert!(seal.open("smtp_password", "not base64!").is_err());
        assert!(seal.open("smtp_password", "").is_err());
    }
}
