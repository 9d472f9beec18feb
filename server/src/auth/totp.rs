//! Time-based one-time passwords (RFC 6238, as every authenticator app
//! speaks them: HMAC-SHA1, 6 digits, 30-second steps) for the second factor
//! of password sign-in. A code is accepted one step early or late (phone
//! clocks drift), and never twice: the step last used is kept per account.

use hmac::{Hmac, Mac};
use rand::RngCore;

const STEP_SECONDS: u64 = 30;
const DIGITS: u32 = 6;
/// Steps either side of now that still count.
const WINDOW: i64 = 1;

/// A new secret: 160 random bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    secret
}

/// The code for `step` (RFC 4226's HOTP over the time step).
pub fn code_at(secret: &[u8], step: u64) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

/// The step `unix_seconds` falls in.
pub fn step_of(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The step the typed `code` matches near `now_step`, if any, and only when
/// it is after `last_used` (a code serves once).
pub fn verify(secret: &[u8], code: &str, now_step: u64, last_used: Option<u64>) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (-WINDOW..=WINDOW)
        .filter_map(|delta| now_step.checked_add_signed(delta))
        .filter(|step| last_used.is_none_or(|last| *step > last))
        .find(|step| {
            crate::auth::token::constant_time_eq(code_at(secret, *step).as_bytes(), code.as_bytes())
        })
}

/// RFC 4648 base32 without padding: how authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | byte as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Reads base32 (any case, spaces ignored); `None` when it is not.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` address an authenticator app reads (as a QR code).
pub fn provisioning_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 8-digit codes' last six digits).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59u64, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
            (20000000000, "353130"),
        ] {
            assert_eq!(code_at(secret, step_of(time)), code, "at {time}");
        }
    }

    #[test]
    fn codes_count_a_step_either_side_and_only_once() {
        let secret = b"12345678901234567890";
        let now = step_of(1234567890);
        let code = code_at(secret, now);
        assert_eq!(verify(secret, &code, now, None), Some(now));
        assert_eq!(
            verify(secret, &code, now + 1, None),
            Some(now),
            "a step late"
        );
        assert_eq!(
            verify(secret, &code, now - 1, None),
            Some(now),
            "a step early"
        );
        assert_eq!(verify(secret, &code, now + 2, None), None, "too late");
        assert_eq!(verify(secret, &code, now, Some(now)), None, "already used");
        assert_eq!(
            verify(secret, "005 924", now, None),
            Some(now),
            "spaces are fine"
        );
        assert_eq!(verify(secret, "12345", now, None), None);
        assert_eq!(verify(secret, "abcdef", now, None), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(from_base32("mzxw 6ytb oi").unwrap(), b"foobar");
        let secret = new_secret();
        assert_eq!(from_base32(&base32(&secret)).unwrap(), secret);
        assert!(from_base32("not base32!").is_none());
        let uri = provisioning_uri("Visita", "ann@clinic.example", b"foobar");
        assert!(uri.starts_with(
            "otpauth://totp/Visita:ann%40clinic.example?secret=MZXW6YTBOI&issuer=Visita"
        ));
    }
}
