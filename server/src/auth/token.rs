//! Opaque bearer secrets (session cookies now, invite links later): 256 random
//! bits shown once to their holder; only their SHA-256 is stored, so a copy of
//! the database opens nothing.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh secret as 64 hex characters.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An invite-link secret: 26 characters of base 32 (130 random bits),
/// short enough for a text message, typed without ambiguity.
pub fn generate_invite() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..INVITE_LEN)
        .map(|_| INVITE_ALPHABET[rng.gen_range(0..INVITE_ALPHABET.len())] as char)
        .collect()
}

const INVITE_LEN: usize = 26;
const INVITE_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Shape check for invite secrets, before any lookup.
pub fn looks_like_invite(secret: &str) -> bool {
    secret.len() == INVITE_LEN && secret.bytes().all(|b| INVITE_ALPHABET.contains(&b))
}

/// What the database keeps in place of the secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Cheap shape check before any lookup: garbage never reaches the database.
pub fn looks_valid(secret: &str) -> bool {
    secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_digests_stable() {
        let a = generate();
        assert!(looks_valid(&a));
        assert_ne!(a, generate());
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), a);
        assert!(!looks_valid("abc"));
        assert!(!looks_valid(&"z".repeat(64)));
    }

    #[test]
    fn invite_secrets_are_short_random_and_checked() {
        let a = generate_invite();
        assert!(looks_like_invite(&a), "{a}");
        assert_ne!(a, generate_invite());
        assert!(!looks_like_invite(&a.to_uppercase()));
        assert!(!looks_like_invite("short"));
        assert!(
            !looks_like_invite(&"l".repeat(26)),
            "l is not in the alphabet"
        );
    }
}
