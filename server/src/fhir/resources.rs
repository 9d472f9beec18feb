//! Visita's consultations as FHIR R4 resources (JSON): a consultation is an
//! `Appointment` (the booking) and an `Encounter` (the visit, virtual); its
//! patient a `Patient`, its host a `Practitioner`. Ids are Visita's own.

use crate::db::{ConsultationRow, ParticipantRow, UserRow, record_key};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// How long an appointment is shown to last (Visita books a time, not a
/// length).
pub const MINUTES: i64 = 30;
/// The system of the integrator's own identifiers (`externalId`).
pub const EXTERNAL_ID_SYSTEM: &str = "urn:visita:external-id";
/// The extensions that carry the join links back to whoever booked.
pub const PATIENT_LINK_URL: &str = "https://visita.health/fhir/StructureDefinition/patient-link";
pub const PRACTITIONER_LINK_URL: &str =
    "https://visita.health/fhir/StructureDefinition/practitioner-link";
/// The service type of a video consultation.
pub const SERVICE_SYSTEM: &str = "https://visita.health/fhir/CodeSystem/service-type";
pub const SERVICE_CODE: &str = "video-consultation";

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn meta(updated: DateTime<Utc>) -> Value {
    json!({ "lastUpdated": at_millis(updated) })
}

fn at_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Appointment.status of a consultation's status.
pub fn appointment_status(status: &str) -> &'static str {
    match status {
        "scheduled" => "booked",
        "waiting" => "arrived",
        "active" => "arrived",
        "closed" => "fulfilled",
        _ => "cancelled",
    }
}

/// The consultation statuses an Appointment.status stands for.
pub fn statuses_of_appointment(status: &str) -> Option<&'static [&'static str]> {
    Some(match status {
        "booked" => &["scheduled"],
        "arrived" => &["waiting", "active"],
        "fulfilled" => &["closed"],
        "cancelled" => &["cancelled"],
        "proposed" | "pending" | "noshow" | "entered-in-error" | "checked-in" | "waitlist" => &[],
        _ => return None,
    })
}

fn encounter_status(status: &str) -> &'static str {
    match status {
        "scheduled" => "planned",
        "waiting" => "arrived",
        "active" => "in-progress",
        "closed" => "finished",
        _ => "cancelled",
    }
}

pub fn patient_of(participants: &[ParticipantRow]) -> Option<&ParticipantRow> {
    participants.iter().find(|p| p.role == "patient")
}

pub fn host_of(participants: &[ParticipantRow]) -> Option<&ParticipantRow> {
    participants.iter().find(|p| p.role == "host")
}

/// The Practitioner id of a host: their account, or (hosting by link)
/// their place.
pub fn practitioner_id(host: &ParticipantRow) -> String {
    host.user.as_ref().map_or_else(|| host.key(), record_key)
}

fn service_type() -> Value {
    json!([{
        "coding": [{ "system": SERVICE_SYSTEM, "code": SERVICE_CODE, "display": "Video consultation" }],
        "text": "Video consultation"
    }])
}

fn when(row: &ConsultationRow) -> DateTime<Utc> {
    row.scheduled_at.unwrap_or(row.created_at)
}

pub fn appointment(row: &ConsultationRow, participants: &[ParticipantRow]) -> Value {
    let start = when(row);
    let mut people = Vec::new();
    if let Some(patient) = patient_of(participants) {
        people.push(json!({
            "actor": { "reference": format!("Patient/{}", patient.key()), "display": patient.name },
            "required": "required",
            "status": "accepted"
        }));
    }
    if let Some(host) = host_of(participants) {
        people.push(json!({
            "actor": { "reference": format!("Practitioner/{}", practitioner_id(host)), "display": host.name },
            "required": "required",
            "status": "accepted"
        }));
    }
    let mut resource = json!({
        "resourceType": "Appointment",
        "id": row.key(),
        "meta": meta(row.updated_at),
        "status": appointment_status(&row.status),
        "serviceType": service_type(),
        "description": format!("Video consultation with {}", row.patient_name),
        "start": instant(start),
        "end": instant(start + chrono::Duration::minutes(MINUTES)),
        "minutesDuration": MINUTES,
        "created": instant(row.created_at),
        "participant": people,
    });
    if let Some(id) = &row.external_id {
        resource["identifier"] = json!([{ "system": EXTERNAL_ID_SYSTEM, "value": id }]);
    }
    resource
}

pub fn encounter(row: &ConsultationRow, participants: &[ParticipantRow]) -> Value {
    let mut resource = json!({
        "resourceType": "Encounter",
        "id": row.key(),
        "meta": meta(row.updated_at),
        "status": encounter_status(&row.status),
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR",
            "display": "virtual"
        },
        "serviceType": service_type()[0].clone(),
        "appointment": [{ "reference": format!("Appointment/{}", row.key()) }],
    });
    if let Some(patient) = patient_of(participants) {
        resource["subject"] =
            json!({ "reference": format!("Patient/{}", patient.key()), "display": patient.name });
    }
    if let Some(host) = host_of(participants) {
        resource["participant"] = json!([{
            "type": [{ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "PPRF",
                "display": "primary performer"
            }] }],
            "individual": { "reference": format!("Practitioner/{}", practitioner_id(host)), "display": host.name }
        }]);
    }
    if let Some(started) = row.started_at {
        let mut period = json!({ "start": instant(started) });
        if let Some(closed) = row.closed_at {
            period["end"] = json!(instant(closed));
        }
        resource["period"] = period;
    }
    resource
}

pub fn patient(row: &ConsultationRow, participant: &ParticipantRow) -> Value {
    let mut telecom = Vec::new();
    if let Some(phone) = &row.patient_phone {
        telecom.push(json!({ "system": "phone", "value": phone, "use": "mobile" }));
    }
    if let Some(email) = &row.patient_email {
        telecom.push(json!({ "system": "email", "value": email }));
    }
    let mut resource = json!({
        "resourceType": "Patient",
        "id": participant.key(),
        "meta": meta(row.updated_at),
        "active": true,
        "name": [{ "text": participant.name }],
        "communication": [{
            "language": { "coding": [{ "system": "urn:ietf:bcp:47", "code": participant.language }] },
            "preferred": true
        }],
    });
    if !telecom.is_empty() {
        resource["telecom"] = Value::Array(telecom);
    }
    resource
}

/// A host with an account.
pub fn practitioner_of_user(user: &UserRow) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": user.key(),
        "active": !user.disabled,
        "name": [{ "text": user.name }],
        "telecom": [{ "system": "email", "value": user.email, "use": "work" }],
    })
}

/// A host by link (no account): their name only.
pub fn practitioner_of_place(host: &ParticipantRow) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": host.key(),
        "active": true,
        "name": [{ "text": host.name }],
    })
}

/// A search answer: the resources found, with the link to the next page.
pub fn bundle(base: &str, self_url: &str, entries: Vec<Value>, next: Option<String>) -> Value {
    let mut links = vec![json!({ "relation": "self", "url": self_url })];
    if let Some(next) = next {
        links.push(json!({ "relation": "next", "url": next }));
    }
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
        "link": links,
        "entry": entries.into_iter().map(|resource| json!({
            "fullUrl": format!("{base}/{}/{}", resource["resourceType"].as_str().unwrap_or_default(), resource["id"].as_str().unwrap_or_default()),
            "resource": resource,
            "search": { "mode": "match" }
        })).collect::<Vec<_>>(),
    })
}

/// What this server does, for `/fhir/metadata`.
pub fn capability_statement(base: &str, version: &str, published: DateTime<Utc>) -> Value {
    let read_search = |kind: &str, params: Value| {
        json!({
            "type": kind,
            "interaction": [{ "code": "read" }, { "code": "search-type" }],
            "searchParam": params
        })
    };
    let param = |name: &str, kind: &str, doc: &str| json!({ "name": name, "type": kind, "documentation": doc });
    let mut appointment = read_search(
        "Appointment",
        json!([
            param("_id", "token", "The consultation's id"),
            param("status", "token", "booked, arrived, fulfilled or cancelled"),
            param("date", "date", "The start, with ge/gt/le/lt"),
            param(
                "identifier",
                "token",
                "Your own identifier (externalId), system|value or value"
            ),
            param("_lastUpdated", "date", "Changed since (ge/gt)"),
            param("_count", "number", "Page size, 1 to 200")
        ]),
    );
    appointment["interaction"]
        .as_array_mut()
        .expect("an array")
        .push(json!({ "code": "create" }));
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(published),
        "publisher": "Visita",
        "kind": "instance",
        "software": { "name": "Visita", "version": version },
        "implementation": { "description": "Visita teleconsultation", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {
                "description": "An API key from `visita admin create-api-key` as Authorization: Bearer vk_… (consultations:read to read, consultations:write to create)."
            },
            "resource": [
                appointment,
                read_search("Encounter", json!([
                    param("_id", "token", "The consultation's id"),
                    param("appointment", "reference", "Appointment/{id}"),
                    param("_count", "number", "Page size, 1 to 200")
                ])),
                { "type": "Patient", "interaction": [{ "code": "read" }] },
                { "type": "Practitioner", "interaction": [{ "code": "read" }] }
            ]
        }]
    })
}
