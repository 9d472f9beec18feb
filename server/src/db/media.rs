//! Queries for media: the shared secret of call passes, each SFU node's
//! load, and the calls running on a node.

use super::{Db, DbError};
use rand::RngCore;

impl Db {
    /// The media secret, created by the first node that asks. Two nodes
    /// starting at once both try to create it; the loser reads the winner's.
    pub async fn media_secret(&self) -> Result<Vec<u8>, DbError> {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let fresh = hex::encode(bytes);
        let value: Option<String> = self
            .inner
            .query(
                "IF !record::exists(media_secret:main) {
                     CREATE media_secret:main SET value = $fresh RETURN NONE;
                 };
                 SELECT VALUE value FROM ONLY media_secret:main;",
            )
            .bind(("fresh", fresh))
            .await?
            .take(1)?;
        let value = value.ok_or_else(|| DbError::Query("the media secret is missing".into()))?;
        hex::decode(&value).map_err(|_| DbError::Query("the media secret is not hex".into()))
    }

    /// This node's load, for a scheduler that places calls on nodes.
    pub async fn record_sfu_load(
        &self,
        node: &str,
        sessions: usize,
        participants: usize,
        max_sessions: u32,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "UPSERT type::record('sfu_node', $node) SET sessions = $sessions,
                   participants = $participants, max_sessions = $max, seen_at = time::now()",
            )
            .bind(("node", node.to_string()))
            .bind(("sessions", sessions as i64))
            .bind(("participants", participants as i64))
            .bind(("max", i64::from(max_sessions)))
            .await?
            .check()?;
        Ok(())
    }

    /// A call started on `node`; returns the call's key.
    pub async fn call_started(
        &self,
        consultation_key: &str,
        node: &str,
    ) -> Result<String, DbError> {
        let key = super::users::new_key();
        self.inner
            .query(
                "CREATE type::record('call', $key) SET
                   consultation = type::record('consultation', $consultation), node = $node",
            )
            .bind(("key", key.clone()))
            .bind(("consultation", consultation_key.to_string()))
            .bind(("node", node.to_string()))
            .await?
            .check()?;
        Ok(key)
    }

    pub async fn call_participants(&self, call_key: &str, count: usize) -> Result<(), DbError> {
        self.inner
            .query("UPDATE type::record('call', $key) SET participants = $count")
            .bind(("key", call_key.to_string()))
            .bind(("count", count as i64))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn call_ended(&self, call_key: &str) -> Result<(), DbError> {
        self.inner
            .query("UPDATE type::record('call', $key) SET ended_at = time::now(), participants = 0")
            .bind(("key", call_key.to_string()))
            .await?
            .check()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::db::Db;

    #[tokio::test]
    async fn the_media_secret_is_made_once_and_shared() {
        let db = Db::in_memory().await.unwrap();
        let first = db.media_secret().await.unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(db.media_secret().await.unwrap(), first);
    }
}
