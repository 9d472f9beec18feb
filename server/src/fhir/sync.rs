//! The FHIR client: how a practice system such as OpenEMR connects through
//! its standard FHIR R4 API. Every `poll_every`, one node (holding a lease
//! in the database) reads the Appointments changed since the last look
//! (`_lastUpdated`), books a consultation for each new telehealth one (the
//! patient and clinician read from their Patient and Practitioner; the
//! patient invited as for any booking), cancels the consultation of one
//! cancelled there, and writes back to each Appointment what happened: the
//! join links as extensions at once, `arrived` when the patient comes into
//! the waiting room, `fulfilled` when the consultation is closed
//! (`cancelled` when it was). Writes are updates of the Appointment read
//! just before, with its version (`If-Match`), so nothing written there in
//! the meantime is lost.

use super::booking::{booking_of, contained, host_of, is_telehealth, participant, telecom};
use super::resources::{PATIENT_LINK_URL, PRACTITIONER_LINK_URL, appointment_status};
use crate::accounts::AccountService;
use crate::config::fhir::{FhirAuth, FhirClientConfig};
use crate::consultations::ConsultationService;
use crate::consultations::api::{ApiBooking, ApiCaller, Brand};
use crate::db::{Db, DbError};
use app::consultation::ConsultationId;
use app::ssr::ClientInfo;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How far back the first look reaches.
const FIRST_LOOK: chrono::Duration = chrono::Duration::hours(24);
/// Pages of one look, at most (the rest waits for the next).
const MAX_PAGES: usize = 20;
const TIMEOUT: Duration = Duration::from_secs(20);
/// What the audit trail and the bookings name the sync as.
const CALLER_KEY: &str = "fhir-sync";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the practice system could not be reached: {0}")]
    Unreachable(String),
    #[error("the practice system answered {status} to {what}")]
    Refused { status: u16, what: String },
    #[error("the practice system's answer to {0} is not FHIR JSON")]
    NotFhir(String),
    #[error("the sign-in to the practice system failed: {0}")]
    Auth(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What one look did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub read: usize,
    pub booked: usize,
    pub cancelled: usize,
    pub written: usize,
}

pub struct FhirSync {
    db: Db,
    config: FhirClientConfig,
    http: reqwest::Client,
    consultations: Arc<ConsultationService>,
    accounts: Arc<AccountService>,
    node: String,
    timezone: String,
    token: Mutex<Option<(String, Instant)>>,
}

impl FhirSync {
    pub fn new(
        db: Db,
        config: FhirClientConfig,
        consultations: Arc<ConsultationService>,
        accounts: Arc<AccountService>,
        node: String,
        timezone: &str,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("Visita/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Self {
            db,
            config,
            http,
            consultations,
            accounts,
            node,
            timezone: timezone.to_string(),
            token: Mutex::new(None),
        }
    }

    fn caller() -> ApiCaller {
        ApiCaller {
            key: CALLER_KEY.into(),
            name: "FHIR sync".into(),
        }
    }

    /// Looks every `poll_every` until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.tick().await {
                Ok(Some(report)) if report != Report::default() => {
                    tracing::info!(?report, "FHIR sync")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "FHIR sync"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_every) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// One look, if this node holds the sync; `None` when another does.
    pub async fn tick(&self) -> Result<Option<Report>, SyncError> {
        let now = Utc::now();
        let lease =
            chrono::Duration::from_std(self.config.poll_every * 2 + Duration::from_secs(60))
                .unwrap_or(chrono::Duration::minutes(5));
        let Some(cursor) = self
            .db
            .claim_fhir_sync(&self.node, now, now + lease)
            .await?
        else {
            return Ok(None);
        };
        let mut report = Report::default();
        self.import(cursor.unwrap_or(now - FIRST_LOOK), &mut report)
            .await?;
        self.write_back(&mut report).await?;
        Ok(Some(report))
    }

    async fn import(&self, since: DateTime<Utc>, report: &mut Report) -> Result<(), SyncError> {
        let mut url = reqwest::Url::parse(&format!("{}/Appointment", self.config.base_url))
            .map_err(|e| SyncError::Unreachable(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair(
                "_lastUpdated",
                &format!("gt{}", since.to_rfc3339_opts(SecondsFormat::Millis, true)),
            )
            .append_pair("_count", "100");
        let mut next = Some(url.to_string());
        let mut newest = since;
        for _ in 0..MAX_PAGES {
            let Some(page) = next.take() else { break };
            let (bundle, _) = self.get(&page).await?;
            for entry in bundle["entry"].as_array().into_iter().flatten() {
                let appointment = &entry["resource"];
                if appointment["resourceType"] != "Appointment" {
                    continue;
                }
                report.read += 1;
                if let Some(updated) = appointment["meta"]["lastUpdated"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                {
                    newest = newest.max(updated.with_timezone(&Utc));
                }
                if let Err(reason) = self.import_one(appointment, report).await {
                    tracing::warn!(
                        appointment = appointment["id"].as_str().unwrap_or_default(),
                        %reason,
                        "FHIR sync: Appointment not taken"
                    );
                }
            }
            next = bundle["link"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["relation"] == "next")
                .and_then(|l| l["url"].as_str())
                .map(str::to_string);
        }
        if newest > since {
            self.db.set_fhir_cursor(&self.node, newest).await?;
        }
        Ok(())
    }

    /// Books (or cancels) for one Appointment; the reason in words when it
    /// is not taken.
    async fn import_one(&self, appointment: &Value, report: &mut Report) -> Result<(), String> {
        let id = appointment["id"].as_str().unwrap_or_default();
        if id.is_empty() || !is_telehealth(appointment) {
            return Ok(());
        }
        let reference = format!("Appointment/{id}");
        let existing = self
            .db
            .consultation_by_external_id(CALLER_KEY, &reference)
            .await
            .map_err(|e| e.to_string())?;
        let status = appointment["status"].as_str().unwrap_or_default();
        match (status, existing) {
            ("cancelled", Some(row)) if row.status == "scheduled" => {
                self.consultations
                    .api_cancel(
                        &Self::caller(),
                        &ConsultationId(row.key()),
                        &ClientInfo::default(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                report.cancelled += 1;
                Ok(())
            }
            ("booked" | "pending" | "proposed", None) => {
                self.book(appointment, &reference).await?;
                report.booked += 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn book(&self, appointment: &Value, reference: &str) -> Result<(), String> {
        let words = |o: super::Outcome| o.0.detail;
        let (patient_part, _) = participant(appointment, "Patient")
            .ok_or("the Appointment has no Patient participant")?;
        let patient = self.resolve(appointment, patient_part).await?;
        let booking = booking_of(appointment, patient_part, patient.as_ref(), &self.timezone)
            .map_err(words)?;
        let (practitioner_part, _) = participant(appointment, "Practitioner")
            .ok_or("the Appointment has no Practitioner participant")?;
        let practitioner = self.resolve(appointment, practitioner_part).await?;
        let email = practitioner.as_ref().and_then(|p| telecom(p, "email"));
        let host = host_of(
            &self.accounts,
            email,
            practitioner.as_ref(),
            practitioner_part,
        )
        .await
        .map_err(words)?;
        let extra = ApiBooking {
            key: CALLER_KEY.into(),
            external_id: Some(reference.to_string()),
            metadata: None,
            send_invite: true,
            host_by_link: false,
            auto_admit: false,
            brand: Brand::default(),
        };
        // The reference is the booking's external id, stored with it: a
        // crash after booking cannot make the next look book it again.
        self.consultations
            .api_create(
                &Self::caller(),
                host,
                booking,
                extra,
                &ClientInfo::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The resource a participant's actor points to: contained, or read
    /// from the practice system; `None` when it only has a display.
    async fn resolve(&self, appointment: &Value, part: &Value) -> Result<Option<Value>, String> {
        let reference = part["actor"]["reference"].as_str().unwrap_or_default();
        if let Some(inner) = contained(appointment, reference) {
            return Ok(Some(inner.clone()));
        }
        if reference.is_empty() || reference.starts_with('#') {
            return Ok(None);
        }
        let url = if reference.starts_with("http") {
            reference.to_string()
        } else {
            format!("{}/{reference}", self.config.base_url)
        };
        self.get(&url)
            .await
            .map(|(resource, _)| Some(resource))
            .map_err(|e| e.to_string())
    }

    /// Tells the practice system what it does not know yet.
    async fn write_back(&self, report: &mut Report) -> Result<(), SyncError> {
        for (key, reference) in self.db.fhir_write_backs(CALLER_KEY, 50).await? {
            let Some((view, _, _)) = self.consultations.api_view_of(&key).await? else {
                continue;
            };
            match self.write_one(&key, &reference, &view).await {
                Ok(()) => report.written += 1,
                // One the practice system refuses does not hold up the
                // others; it is tried again at the next look.
                Err(error) => tracing::warn!(%reference, %error, "FHIR sync: not written back"),
            }
        }
        Ok(())
    }

    async fn write_one(
        &self,
        key: &str,
        reference: &str,
        view: &crate::consultations::api::ApiConsultation,
    ) -> Result<(), SyncError> {
        {
            let url = format!("{}/{reference}", self.config.base_url);
            let (mut appointment, version) = self.get(&url).await?;
            let status = appointment_status(&view.status);
            // A booked one stays as the practice system has it (it may say
            // pending); the rest is what happened here.
            if view.status != "scheduled" {
                appointment["status"] = json!(status);
            }
            let mut extensions: Vec<Value> = appointment["extension"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|e| e["url"] != PATIENT_LINK_URL && e["url"] != PRACTITIONER_LINK_URL)
                .collect();
            if let Some(link) = &view.patient_link {
                extensions.push(json!({ "url": PATIENT_LINK_URL, "valueUrl": link }));
            }
            if let Some(link) = &view.doctor_link {
                extensions.push(json!({ "url": PRACTITIONER_LINK_URL, "valueUrl": link }));
            }
            appointment["extension"] = Value::Array(extensions);
            self.put(&url, &appointment, version.as_deref()).await?;
            self.db.fhir_written(key, &view.status).await?;
        }
        Ok(())
    }

    async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, SyncError> {
        Ok(match &self.config.auth {
            FhirAuth::None => request,
            FhirAuth::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
            FhirAuth::ClientCredentials { .. } => request.bearer_auth(self.access_token().await?),
        })
    }

    /// A bearer token of the client-credentials grant, kept until a little
    /// before it expires.
    async fn access_token(&self) -> Result<String, SyncError> {
        let FhirAuth::ClientCredentials {
            client_id,
            client_secret,
            token_url,
            scope,
        } = &self.config.auth
        else {
            return Err(SyncError::Auth("no client credentials".into()));
        };
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let token_url = match token_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!("{}/.well-known/smart-configuration", self.config.base_url);
                let response = self
                    .http
                    .get(&discovery)
                    .send()
                    .await
                    .map_err(|e| SyncError::Unreachable(e.without_url().to_string()))?;
                let answer = json_of(response)
                    .await
                    .ok_or_else(|| SyncError::NotFhir("the SMART configuration".into()))?;
                answer["token_endpoint"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| {
                        SyncError::Auth("the SMART configuration names no token endpoint".into())
                    })?
            }
        };
        let response = self
            .http
            .post(&token_url)
            .basic_auth(client_id, Some(client_secret.expose()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
            ])
            .send()
            .await
            .map_err(|e| SyncError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(SyncError::Auth(format!(
                "the token endpoint answered {}",
                response.status().as_u16()
            )));
        }
        let answer = json_of(response)
            .await
            .ok_or_else(|| SyncError::Auth("the token answer is not JSON".into()))?;
        let token = answer["access_token"]
            .as_str()
            .ok_or_else(|| SyncError::Auth("the token answer has no access_token".into()))?
            .to_string();
        let lifetime = answer["expires_in"]
            .as_u64()
            .unwrap_or(300)
            .saturating_sub(30);
        *cached = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(lifetime),
        ));
        Ok(token)
    }

    /// A FHIR read, with the resource's version (from `ETag` or its meta).
    async fn get(&self, url: &str) -> Result<(Value, Option<String>), SyncError> {
        let request = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/fhir+json");
        let response = self
            .authorize(request)
            .await?
            .send()
            .await
            .map_err(|e| SyncError::Unreachable(e.without_url().to_string()))?;
        let what = path_of(url);
        if !response.status().is_success() {
            return Err(SyncError::Refused {
                status: response.status().as_u16(),
                what,
            });
        }
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = json_of(response).await.ok_or(SyncError::NotFhir(what))?;
        let version = etag.or_else(|| {
            body["meta"]["versionId"]
                .as_str()
                .map(|v| format!("W/\"{v}\""))
        });
        Ok((body, version))
    }

    async fn put(
        &self,
        url: &str,
        resource: &Value,
        version: Option<&str>,
    ) -> Result<(), SyncError> {
        let mut request = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "application/fhir+json")
            .header(reqwest::header::ACCEPT, "application/fhir+json")
            .body(resource.to_string());
        if let Some(version) = version {
            request = request.header(reqwest::header::IF_MATCH, version);
        }
        let response = self
            .authorize(request)
            .await?
            .send()
            .await
            .map_err(|e| SyncError::Unreachable(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SyncError::Refused {
                status: response.status().as_u16(),
                what: format!("the update of {}", path_of(url)),
            })
        }
    }
}

/// A JSON answer's body (reqwest is built here without its `json` feature).
async fn json_of(response: reqwest::Response) -> Option<Value> {
    let bytes = response.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The part of a URL that names the resource (no host, no query): what the
/// log may show.
fn path_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}
