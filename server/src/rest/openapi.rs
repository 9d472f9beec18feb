//! The API's OpenAPI 3.1 document, made from the handlers' and types' own
//! annotations (`utoipa`), at `/api/v1/openapi.json`; and `/api/v1/docs`, a
//! page that reads the same document for people.

use super::{consultations, problem, seed, webhooks};
use axum::Json;
use axum::response::Html;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Visita REST API",
        description = "Book video consultations and get their links back. Every request carries an API key (`visita admin create-api-key`) as `Authorization: Bearer vk_…`. Errors are `application/problem+json`.",
    ),
    paths(
        consultations::create,
        consultations::list,
        consultations::get_one,
        consultations::cancel,
        consultations::reschedule,
        consultations::new_patient_link,
        consultations::add_guest,
        consultations::report,
        consultations::queues,
        webhooks::create,
        webhooks::list,
        webhooks::get_one,
        webhooks::delete,
        webhooks::deliveries,
        webhooks::replay,
        seed::create
    ),
    components(schemas(problem::Body, crate::webhooks::events::EventBody), responses(
        problem::BadRequest,
        problem::Unauthorized,
        problem::Forbidden,
        problem::NotFound,
        problem::Conflict,
        problem::NotJson,
        problem::Refused,
        problem::TooManyRequests
    )),
    modifiers(&BearerKey),
    tags(
        (name = "consultations", description = "Consultations and their links"),
        (name = "compatibility", description = "The session route of the Jitsi-based service Visita replaces, so its integrations work unchanged. The key may also come as `X-API-Key`."),
        (name = "webhooks", description = "Events sent to your server as they happen. Each request is a POST of a `WebhookEvent` with the headers `Visita-Event` (its type), `Visita-Event-Id`, `Visita-Delivery` and `Visita-Signature: t=<unix time>,v1=<hex>`, where hex is HMAC-SHA256 with the subscription's secret over `<t>.<raw body>`. Answer 2xx within 10 s; anything else is tried again after 30 s, then twice as long each time (at most an hour apart) for a day.")
    )
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("vk_<id>_<secret>")
                    .description(Some("An API key from `visita admin create-api-key`."))
                    .build(),
            ),
        );
    }
}

/// The document, with this build's version.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

pub async fn json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// The same document as a page: each route with its parameters, body and
/// answers, then each schema with its fields.
pub async fn page() -> Html<String> {
    let doc = serde_json::to_value(document()).unwrap_or_default();
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Visita REST API</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
         code{background:#f2f4f7;padding:0 .25rem}table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:left;vertical-align:top}\
         h2{margin-top:2rem}</style></head><body>",
    );
    let text = |v: &Value| escape(v.as_str().unwrap_or(""));
    html += &format!(
        "<h1>{} <small>{}</small></h1><p>{}</p><p>Machine-readable: <a href=\"/api/v1/openapi.json\">openapi.json</a> (OpenAPI {}).</p>",
        text(&doc["info"]["title"]),
        text(&doc["info"]["version"]),
        text(&doc["info"]["description"]),
        text(&doc["openapi"]),
    );
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                html += &format!(
                    "<h2 id=\"{}\"><code>{} {}</code></h2><p>{}</p>",
                    escape(op["operationId"].as_str().unwrap_or("")),
                    method.to_uppercase(),
                    escape(path),
                    text(&op["summary"]),
                );
                if let Some(params) = op["parameters"].as_array() {
                    html +=
                        "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>What</th></tr>";
                    for p in params {
                        html += &format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            text(&p["name"]),
                            text(&p["in"]),
                            type_of(&p["schema"]),
                            text(&p["description"]),
                        );
                    }
                    html += "</table>";
                }
                if let Some(body) = op["requestBody"]["content"].as_object() {
                    for (media, content) in body {
                        html += &format!(
                            "<p>Body ({}): {}</p>",
                            escape(media),
                            type_of(&content["schema"])
                        );
                    }
                }
                html += "<ul>";
                for (status, answer) in op["responses"].as_object().into_iter().flatten() {
                    // Shared answers are references to the components.
                    let answer = match answer["$ref"].as_str() {
                        Some(reference) => {
                            &doc["components"]["responses"]
                                [reference.rsplit('/').next().unwrap_or_default()]
                        }
                        None => answer,
                    };
                    let schema = answer["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .map(|c| type_of(&c["schema"]))
                        .unwrap_or_default();
                    html += &format!(
                        "<li><strong>{}</strong> {} {}</li>",
                        escape(status),
                        text(&answer["description"]),
                        schema
                    );
                }
                html += "</ul>";
            }
        }
    }
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            html += &format!(
                "<h2 id=\"schema-{0}\">{0}</h2><p>{1}</p><table><tr><th>Field</th><th>Type</th><th>Required</th><th>What</th></tr>",
                escape(name),
                text(&schema["description"])
            );
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (field, spec) in schema["properties"].as_object().into_iter().flatten() {
                html += &format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(field),
                    type_of(spec),
                    if required.contains(&field.as_str()) {
                        "yes"
                    } else {
                        ""
                    },
                    text(&spec["description"]),
                );
            }
            html += "</table>";
        }
    }
    html += "</body></html>";
    Html(html)
}

/// A schema in a few words: its type (and format), or a link to it.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => match schema["oneOf"].as_array() {
            Some(options) => options.iter().map(type_of).collect::<Vec<_>>().join(" or "),
            None => "any".into(),
        },
    };
    match schema["format"].as_str() {
        Some(format) => format!("{} ({})", escape(&kind), escape(format)),
        None => escape(&kind),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_route_and_its_key() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for (path, method) in [
            ("/api/v1/consultations", "post"),
            ("/api/v1/consultations", "get"),
            ("/api/v1/consultations/{id}", "get"),
            ("/api/v1/consultations/{id}/cancel", "post"),
        ] {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path}");
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["api_key"]["scheme"],
            "bearer"
        );
        let new = &doc["components"]["schemas"]["NewConsultation"];
        let required: Vec<&str> = new["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, vec!["patientName", "timezone"]);
        assert!(doc["components"]["schemas"]["Problem"].is_object());
    }
}
