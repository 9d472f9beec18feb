//! Queries on `message`: the chat of a consultation. Keys are ULIDs made
//! here (time first, then randomness), so `ORDER BY id` is the order they
//! were written and "everything after X" is a key comparison.

use super::{Db, DbError, record_key};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

#[derive(Debug, Clone, SurrealValue)]
pub struct MessageRow {
    pub id: RecordId,
    pub consultation: RecordId,
    pub author: RecordId,
    pub author_name: String,
    pub author_role: String,
    pub body: String,
    pub at: DateTime<Utc>,
    pub attachment: Option<RecordId>,
    pub attachment_name: Option<String>,
    pub attachment_type: Option<String>,
    pub attachment_size: Option<i64>,
}

/// A stored file's facts.
#[derive(Debug, Clone, SurrealValue)]
pub struct AttachmentRow {
    pub id: RecordId,
    pub consultation: RecordId,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

/// A file to record with its chat line.
pub struct NewAttachment {
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

impl MessageRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

pub const MESSAGE_FIELDS: &str = "id, consultation, author, author_name, author_role, body, at, \
     attachment, attachment_name, attachment_type, attachment_size";

/// A 26-character ULID (Crockford base 32): 48 bits of milliseconds, then
/// 80 random bits. Sorts by time as a string; keys made by this process in
/// the same millisecond (or after the clock stepped back) follow the last
/// one, so two messages sent at once keep the order they were written in.
pub fn new_message_key(now: DateTime<Utc>) -> String {
    use rand::RngCore;
    static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = u128::from(now.timestamp_millis().max(0) as u64) & ((1 << 48) - 1);
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let random = random
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let value = if *last >> 80 >= millis {
        *last + 1
    } else {
        (millis << 80) | random
    };
    *last = value;
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

impl Db {
    pub async fn insert_message(
        &self,
        consultation_key: &str,
        author_key: &str,
        author_name: &str,
        author_role: &str,
        body: &str,
    ) -> Result<MessageRow, DbError> {
        let row: Option<MessageRow> = self
            .inner
            .query(format!(
                "CREATE type::record('message', $key) SET consultation = type::record('consultation', $c),
                     author = type::record('participant', $author), author_name = $name,
                     author_role = $role, body = $body
                 RETURN {MESSAGE_FIELDS}"
            ))
            .bind(("key", new_message_key(Utc::now())))
            .bind(("c", consultation_key.to_string()))
            .bind(("author", author_key.to_string()))
            .bind(("name", author_name.to_string()))
            .bind(("role", author_role.to_string()))
            .bind(("body", body.to_string()))
            .await?
            .take(0)?;
        row.ok_or_else(|| DbError::Query("CREATE message returned nothing".into()))
    }

    /// Records a file and the chat line that carries it, together.
    pub async fn insert_attachment_message(
        &self,
        consultation_key: &str,
        author_key: &str,
        author_name: &str,
        author_role: &str,
        file: NewAttachment,
    ) -> Result<MessageRow, DbError> {
        let attachment_key = super::users::new_key();
        let response = self
            .inner
            .query(format!(
                "BEGIN;
                 LET $a = type::record('attachment', $akey);
                 CREATE $a SET consultation = type::record('consultation', $c), file_name = $name,
                     content_type = $type, size = $size, sha256 = $sha,
                     uploaded_by = type::record('participant', $author);
                 CREATE type::record('message', $key) SET consultation = type::record('consultation', $c),
                     author = type::record('participant', $author), author_name = $author_name,
                     author_role = $role, body = '', attachment = $a, attachment_name = $name,
                     attachment_type = $type, attachment_size = $size
                     RETURN {MESSAGE_FIELDS};
                 COMMIT;"
            ))
            .bind(("akey", attachment_key))
            .bind(("key", new_message_key(Utc::now())))
            .bind(("c", consultation_key.to_string()))
            .bind(("author", author_key.to_string()))
            .bind(("author_name", author_name.to_string()))
            .bind(("role", author_role.to_string()))
            .bind(("name", file.file_name))
            .bind(("type", file.content_type))
            .bind(("size", file.size))
            .bind(("sha", file.sha256))
            .await?;
        super::transaction_answer(response, "CREATE message")
    }

    pub async fn attachment(&self, key: &str) -> Result<Option<AttachmentRow>, DbError> {
        Ok(self
            .inner
            .query(
                "SELECT id, consultation, file_name, content_type, size, sha256
                 FROM ONLY type::record('attachment', $key)",
            )
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    pub async fn message(&self, key: &str) -> Result<Option<MessageRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {MESSAGE_FIELDS} FROM ONLY type::record('message', $key)"
            ))
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    /// The chat of a consultation, oldest first, after `after` if given.
    pub async fn messages(
        &self,
        consultation_key: &str,
        after: Option<&str>,
    ) -> Result<Vec<MessageRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {MESSAGE_FIELDS} FROM message
                 WHERE consultation = type::record('consultation', $c)
                     AND (!$after OR id > type::record('message', $after))
                 ORDER BY id"
            ))
            .bind(("c", consultation_key.to_string()))
            .bind(("after", after.map(str::to_string)))
            .await?
            .take(0)?)
    }

    pub async fn mark_read(&self, participant_key: &str, message_key: &str) -> Result<(), DbError> {
        self.inner
            .query(
                "UPDATE type::record('participant', $p) SET last_read = $m
                 WHERE last_read = NONE OR last_read < $m",
            )
            .bind(("p", participant_key.to_string()))
            .bind(("m", message_key.to_string()))
            .await?
            .check()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_time() {
        let earlier = new_message_key(DateTime::from_timestamp_millis(1_000).unwrap());
        let later = new_message_key(DateTime::from_timestamp_millis(1_001).unwrap());
        assert_eq!(earlier.len(), 26);
        assert!(earlier < later);
        assert_ne!(new_message_key(Utc::now()), new_message_key(Utc::now()));
        // Many in one millisecond: still in the order they were made.
        let now = Utc::now();
        let keys: Vec<String> = (0..1000).map(|_| new_message_key(now)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
