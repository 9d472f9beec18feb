//! Queries of the FHIR client: its lease and cursor (one row), and the
//! consultations made from a practice system's Appointments.

use super::consultations::CONSULTATION_FIELDS;
use super::{ConsultationRow, Db, DbError, record_key};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

#[derive(Debug, Clone, SurrealValue)]
struct Linked {
    id: RecordId,
    external_id: String,
}

impl Db {
    /// Takes the sync for `node` until `until` if nobody holds it (or
    /// `node` already does); returns the cursor when taken.
    pub async fn claim_fhir_sync(
        &self,
        node: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Option<DateTime<Utc>>>, DbError> {
        // The row, made once (two nodes making it at once: one wins).
        let made = self
            .inner
            .query(
                "IF (SELECT VALUE id FROM ONLY type::record('fhir_sync', 'state')) = NONE {
                     CREATE type::record('fhir_sync', 'state') SET cursor = NONE RETURN NONE;
                 }",
            )
            .await
            .and_then(|r| r.check());
        if let Err(error) = made
            && !super::notifications::is_conflict(error.message())
            && !error.message().contains("already exists")
        {
            return Err(error.into());
        }
        let taken = self
            .inner
            .query(
                "UPDATE type::record('fhir_sync', 'state') SET lease_owner = $node, lease_until = $until
                 WHERE lease_until = NONE OR lease_until < $now OR lease_owner = $node
                 RETURN VALUE cursor",
            )
            .bind(("node", node.to_string()))
            .bind(("now", now))
            .bind(("until", until))
            .await
            .and_then(|mut r| r.take::<Vec<Option<DateTime<Utc>>>>(0));
        match taken {
            Ok(cursors) => Ok(cursors.into_iter().next()),
            Err(error) if super::notifications::is_conflict(error.message()) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn set_fhir_cursor(&self, node: &str, cursor: DateTime<Utc>) -> Result<(), DbError> {
        self.inner
            .query(
                "UPDATE type::record('fhir_sync', 'state') SET cursor = $cursor WHERE lease_owner = $node",
            )
            .bind(("node", node.to_string()))
            .bind(("cursor", cursor))
            .await?
            .check()?;
        Ok(())
    }

    /// The consultation booked by API key `api_key` with `external_id`,
    /// if any.
    pub async fn consultation_by_external_id(
        &self,
        api_key: &str,
        external_id: &str,
    ) -> Result<Option<ConsultationRow>, DbError> {
        let rows: Vec<ConsultationRow> = self
            .inner
            .query(format!(
                "SELECT {CONSULTATION_FIELDS} FROM consultation
                 WHERE external_id = $external_id AND api_key = $api_key LIMIT 1"
            ))
            .bind(("api_key", api_key.to_string()))
            .bind(("external_id", external_id.to_string()))
            .await?
            .take(0)?;
        Ok(rows.into_iter().next())
    }

    /// Consultations (their keys) booked by `api_key` whose status or links
    /// the practice system has not been told yet, with their external id
    /// (the Appointment's reference).
    pub async fn fhir_write_backs(
        &self,
        api_key: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, DbError> {
        let rows: Vec<Linked> = self
            .inner
            .query(
                "SELECT id, external_id FROM consultation
                 WHERE api_key = $api_key AND external_id != NONE
                     AND (fhir_written = NONE OR fhir_written != status)
                 LIMIT $limit",
            )
            .bind(("api_key", api_key.to_string()))
            .bind(("limit", limit as i64))
            .await?
            .take(0)?;
        Ok(rows
            .into_iter()
            .map(|r| (record_key(&r.id), r.external_id))
            .collect())
    }

    /// The practice system now knows status `status`.
    pub async fn fhir_written(&self, key: &str, status: &str) -> Result<(), DbError> {
        self.inner
            .query("UPDATE type::record('consultation', $key) SET fhir_written = $status")
            .bind(("key", key.to_string()))
            .bind(("status", status.to_string()))
            .await?
            .check()?;
        Ok(())
    }
}
