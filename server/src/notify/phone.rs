//! Phone numbers as text-message gateways want them: E.164 (`+41791234567`).
//! People type them every way ("079 123 45 67", "+33 (0)6 12 34 56 78");
//! a number without its country code is read in the clinic's country.
//! Parsing and validation follow libphonenumber's metadata (the `phonenumber`
//! crate), so a number that cannot exist is refused when it is typed, not
//! when the reminder fails the night before.

use phonenumber::Mode;
use phonenumber::country::Id;
use std::str::FromStr;

/// The country read into numbers typed without their code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultCountry(Id);

impl DefaultCountry {
    /// `CH`, `fr` (ISO 3166 two letters) → the country, if the metadata knows it.
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim().to_ascii_uppercase();
        if code.len() != 2 {
            return None;
        }
        Id::from_str(&code).ok().map(Self)
    }

    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

/// Why a typed number was refused, in the words the person sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error(
        "This does not look like a phone number. Enter it with its country code, like +41 79 123 45 67."
    )]
    Unreadable,
    #[error(
        "No phone can have this number. Check the digits and the country code (like +41 for Switzerland)."
    )]
    Impossible,
}

/// The number in E.164, or why it is not one.
pub fn to_e164(typed: &str, country: DefaultCountry) -> Result<String, PhoneError> {
    let typed = typed.trim();
    if typed.is_empty() || typed.len() > 40 {
        return Err(PhoneError::Unreadable);
    }
    // "00" is the international prefix most of the world dials.
    let typed = match typed.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => typed.to_string(),
    };
    let number = phonenumber::parse(Some(country.0), &typed).map_err(|_| PhoneError::Unreadable)?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Impossible);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch() -> DefaultCountry {
        DefaultCountry::parse("ch").unwrap()
    }

    #[test]
    fn typed_numbers_become_e164() {
        assert_eq!(to_e164("079 123 45 67", ch()).unwrap(), "+41791234567");
        assert_eq!(to_e164("+41 79 123 45 67", ch()).unwrap(), "+41791234567");
        assert_eq!(to_e164("0041791234567", ch()).unwrap(), "+41791234567");
        assert_eq!(to_e164("+33 6 12 34 56 78", ch()).unwrap(), "+33612345678");
        let fr = DefaultCountry::parse("FR").unwrap();
        assert_eq!(to_e164("06 12 34 56 78", fr).unwrap(), "+33612345678");
        assert_eq!(fr.code(), "FR");
    }

    #[test]
    fn impossible_numbers_are_refused_plainly() {
        assert_eq!(to_e164("hello", ch()), Err(PhoneError::Unreadable));
        assert_eq!(to_e164("", ch()), Err(PhoneError::Unreadable));
        assert_eq!(to_e164("+41 12", ch()), Err(PhoneError::Impossible));
        assert_eq!(to_e164("079 123", ch()), Err(PhoneError::Impossible));
        assert_eq!(
            to_e164("+41 12 345 67 89", ch()),
            Err(PhoneError::Impossible)
        );
        // The numbers the browser tests use are possible ones.
        let fr = DefaultCountry::parse("FR").unwrap();
        for ok in ["06 99 99 99 99", "+33 7 81 23 45 67", "06 55 44 33 22"] {
            assert!(to_e164(ok, fr).is_ok(), "{ok}");
        }
        assert!(DefaultCountry::parse("XX").is_none());
        assert!(DefaultCountry::parse("Switzerland").is_none());
    }
}
