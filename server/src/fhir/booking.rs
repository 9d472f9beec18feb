//! `POST /fhir/Appointment`: a records system books a video consultation by
//! sending the Appointment it made. Only a telehealth one (its service or
//! appointment type says video, virtual or telehealth) is taken. The patient
//! comes from a contained `Patient` (name, phone, email, language) or the
//! participant's display; the clinician is a Visita account (a
//! `Practitioner/{id}` of ours, or a contained Practitioner whose email is
//! an account), else a clinician by name who gets a link of their own. The
//! answer is the Appointment as Visita keeps it, with both join links as
//! extensions.

use super::resources::{self, PATIENT_LINK_URL, PRACTITIONER_LINK_URL};
use super::{Fhir, Outcome, read_body};
use crate::consultations::api::{ApiBooking, ApiHost, Brand};
use crate::rest::keys::Scope;
use crate::rest::problem::Problem;
use crate::state::AppState;
use app::consultation::{DEFAULT_QUEUE, NewConsultation, QueueId};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};

/// The extension of an IANA time zone (FHIR's own).
const TIMEZONE_URL: &str = "http://hl7.org/fhir/StructureDefinition/timezone";

fn refused(expression: &str, detail: impl Into<String>) -> Outcome {
    Outcome(Problem::field(
        StatusCode::UNPROCESSABLE_ENTITY,
        expression,
        detail,
    ))
}

/// Words that make an Appointment a video consultation.
pub(super) fn is_telehealth(appointment: &Value) -> bool {
    let words = ["tele", "video", "virtual", "remote"];
    let says = |concept: &Value| {
        let mut texts = vec![concept["text"].as_str().unwrap_or_default().to_lowercase()];
        for coding in concept["coding"].as_array().into_iter().flatten() {
            texts.push(coding["code"].as_str().unwrap_or_default().to_lowercase());
            texts.push(
                coding["display"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase(),
            );
        }
        texts.iter().any(|t| words.iter().any(|w| t.contains(w)))
            || concept["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["system"] == resources::SERVICE_SYSTEM || c["code"] == "VR")
    };
    appointment["serviceType"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            appointment["serviceCategory"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .any(says)
        || says(&appointment["appointmentType"])
}

/// The resource a participant's actor points to: a contained one
/// (`#id`), or `None` for an outside reference.
pub(super) fn contained<'a>(appointment: &'a Value, reference: &str) -> Option<&'a Value> {
    let id = reference.strip_prefix('#')?;
    appointment["contained"]
        .as_array()?
        .iter()
        .find(|r| r["id"] == id)
}

pub(super) fn name_of(resource: &Value) -> Option<String> {
    let name = resource["name"].as_array()?.first()?;
    if let Some(text) = name["text"].as_str().filter(|t| !t.trim().is_empty()) {
        return Some(text.trim().to_string());
    }
    let mut parts: Vec<String> = name["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    if let Some(family) = name["family"].as_str() {
        parts.push(family.to_string());
    }
    let joined = parts.join(" ");
    (!joined.trim().is_empty()).then(|| joined.trim().to_string())
}

pub(super) fn telecom(resource: &Value, system: &str) -> Option<String> {
    resource["telecom"]
        .as_array()?
        .iter()
        .find(|t| t["system"] == system)
        .and_then(|t| t["value"].as_str())
        .map(str::to_string)
}

/// A participant whose actor is of `kind` (`Patient`, `Practitioner`):
/// the participant, and its contained resource if any.
pub(super) fn participant<'a>(
    appointment: &'a Value,
    kind: &str,
) -> Option<(&'a Value, Option<&'a Value>)> {
    appointment["participant"].as_array()?.iter().find_map(|p| {
        let reference = p["actor"]["reference"].as_str().unwrap_or_default();
        let inner = contained(appointment, reference);
        let matches = reference.starts_with(&format!("{kind}/"))
            || inner.is_some_and(|r| r["resourceType"] == kind)
            || (reference.is_empty()
                && p["type"].as_array().into_iter().flatten().any(|t| {
                    let code = t["coding"][0]["code"].as_str().unwrap_or_default();
                    match kind {
                        "Patient" => code == "SBJ",
                        _ => matches!(code, "PPRF" | "ATND" | "PART"),
                    }
                }));
        matches.then_some((p, inner))
    })
}

/// The integrator's identifier of an Appointment (its first one).
pub(super) fn external_id_of(appointment: &Value) -> Option<String> {
    appointment["identifier"][0]["value"]
        .as_str()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.chars().count() <= 200)
}

/// The booking an Appointment asks for: the patient from `patient` (a
/// Patient resource, contained or fetched) or the participant's display;
/// the start to the minute; the zone from the timezone extension.
pub(super) fn booking_of(
    appointment: &Value,
    patient_part: &Value,
    patient: Option<&Value>,
    default_zone: &str,
) -> Result<NewConsultation, Outcome> {
    let patient_name = patient
        .and_then(name_of)
        .or_else(|| {
            patient_part["actor"]["display"]
                .as_str()
                .map(|s| s.trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            refused(
                "Appointment.participant.actor",
                "Give the patient's name: a contained Patient with a name, or the actor's display.",
            )
        })?;
    let language = patient
        .and_then(|p| p["communication"][0]["language"]["coding"][0]["code"].as_str())
        .map(|code| code.split('-').next().unwrap_or(code).to_lowercase())
        .unwrap_or_else(|| "en".into());
    let zone = appointment["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            patient
                .and_then(|p| p["extension"].as_array())
                .into_iter()
                .flatten(),
        )
        .find(|e| e["url"] == TIMEZONE_URL)
        .and_then(|e| e["valueCode"].as_str())
        .map_or_else(|| default_zone.to_string(), str::to_string);
    let scheduled_for = match appointment["start"].as_str() {
        None => String::new(),
        Some(start) => {
            let at = DateTime::parse_from_rfc3339(start).map_err(|_| {
                refused(
                    "Appointment.start",
                    "The start is not an instant like 2030-05-04T09:30:00+02:00.",
                )
            })?;
            if at.second() != 0 || at.nanosecond() != 0 {
                return Err(refused(
                    "Appointment.start",
                    "Give the start to the minute (seconds 00).",
                ));
            }
            at.with_timezone(&Utc).format("%Y-%m-%dT%H:%M").to_string()
        }
    };
    Ok(NewConsultation {
        queue: QueueId(DEFAULT_QUEUE.to_string()),
        patient_email: patient
            .and_then(|p| telecom(p, "email"))
            .unwrap_or_default(),
        patient_phone: patient
            .and_then(|p| telecom(p, "phone"))
            .unwrap_or_default(),
        patient_name,
        language,
        timezone: zone,
        scheduled_for,
        clinician_timezone: "UTC".into(),
    })
}

/// Who runs it: the account with `account_email` when there is one, else a
/// clinician by the name the Practitioner (or the participant) gives.
pub(super) async fn host_of(
    accounts: &crate::accounts::AccountService,
    account_email: Option<String>,
    practitioner: Option<&Value>,
    part: &Value,
) -> Result<ApiHost, Outcome> {
    let principal = match account_email {
        Some(email) => accounts
            .principal_by_email(&email)
            .await
            .map_err(|e| Outcome(Problem::from(e)))?,
        None => None,
    };
    Ok(match principal {
        Some(p) => ApiHost::Account(p),
        None => ApiHost::ByLink(
            practitioner
                .and_then(name_of)
                .or_else(|| part["actor"]["display"].as_str().map(str::to_string))
                .ok_or_else(|| {
                    refused(
                        "Appointment.participant.actor",
                        "Give the clinician as Practitioner/{id} of a Visita account, or with a name (display or a contained Practitioner).",
                    )
                })?,
        ),
    })
}

pub async fn create(
    State(state): State<AppState>,
    client: crate::rest::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Outcome> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsWrite)
        .await?;
    let appointment = read_body(&headers, &body)?;
    if appointment["resourceType"] != "Appointment" {
        return Err(Outcome(Problem::field(
            StatusCode::BAD_REQUEST,
            "resourceType",
            "Send an Appointment here.",
        )));
    }
    match appointment["status"].as_str() {
        Some("booked" | "pending" | "proposed") => {}
        _ => {
            return Err(refused(
                "Appointment.status",
                "Only a booked, pending or proposed Appointment can be made a consultation.",
            ));
        }
    }
    if !is_telehealth(&appointment) {
        return Err(refused(
            "Appointment.serviceType",
            "This Appointment is not a video consultation: give it a service type that says so (for example text \"Video consultation\").",
        ));
    }
    let (patient_part, patient) = participant(&appointment, "Patient").ok_or_else(|| {
        refused(
            "Appointment.participant",
            "The Appointment has no Patient participant.",
        )
    })?;
    let booking = booking_of(&appointment, patient_part, patient, &state.config.timezone)?;
    let (practitioner_part, practitioner) =
        participant(&appointment, "Practitioner").ok_or_else(|| {
            refused(
                "Appointment.participant",
                "The Appointment has no Practitioner participant: say who runs it.",
            )
        })?;
    // `Practitioner/{id}` here is one of ours: a Visita account.
    let ours = practitioner_part["actor"]["reference"]
        .as_str()
        .and_then(|r| r.strip_prefix("Practitioner/"))
        .filter(|id| crate::rest::looks_like_id(id));
    let account_email = match ours {
        Some(id) => state
            .db
            .user_by_key(id)
            .await
            .map_err(super::db_error)?
            .map(|u| u.email),
        None => practitioner.and_then(|p| telecom(p, "email")),
    };
    let host = host_of(
        &state.accounts,
        account_email,
        practitioner,
        practitioner_part,
    )
    .await?;
    let extra = ApiBooking {
        key: who.caller.key.clone(),
        external_id: external_id_of(&appointment),
        metadata: None,
        send_invite: true,
        host_by_link: false,
        auto_admit: false,
        brand: Brand::default(),
    };
    let created = state
        .consultations
        .api_create(
            &who.caller,
            host,
            booking,
            extra,
            &crate::rest::client_of(client),
        )
        .await
        .map_err(|e| {
            // The booking's own field names, as FHIR paths.
            let mut problem = Problem::from(e);
            problem.field = problem.field.map(|f| match f.as_str() {
                "scheduledAt" => "Appointment.start".into(),
                "patientPhone" | "patientEmail" => "Appointment.contained.telecom".into(),
                "timezone" => "Appointment.extension".into(),
                "language" => "Appointment.contained.communication".into(),
                _ => "Appointment.participant".into(),
            });
            Outcome(problem)
        })?;
    let (row, participants) = super::loaded(&state, &created.id).await?;
    let mut resource = resources::appointment(&row, &participants);
    let mut links = Vec::new();
    if let Some(link) = &created.patient_link {
        links.push(json!({ "url": PATIENT_LINK_URL, "valueUrl": link }));
    }
    if let Some(link) = &created.doctor_link {
        links.push(json!({ "url": PRACTITIONER_LINK_URL, "valueUrl": link }));
    }
    resource["extension"] = Value::Array(links);
    let mut response = Fhir(StatusCode::CREATED, resource).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!(
        "{}/fhir/Appointment/{}",
        state.config.public_url, created.id
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
