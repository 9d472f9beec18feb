//! What fits in a text message. A message in the GSM 7-bit alphabet holds 160
//! characters alone or 153 per part when split; one character outside it
//! (most accents outside Western Europe, any emoji) turns the whole message
//! into UCS-2: 70 alone, 67 per part. Patients' phones join the parts, but
//! each part costs and old phones show them apart: we stay within two.

/// The most parts one message may take.
pub const MAX_SEGMENTS: usize = 2;

/// GSM 03.38 basic characters (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: an escape septet plus one, so two each.
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// How a message is encoded and how long it is in that encoding's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7 { septets: usize },
    Ucs2 { units: usize },
}

pub fn encoding(text: &str) -> Encoding {
    let mut septets = 0;
    for c in text.chars() {
        if GSM_BASIC.contains(c) {
            septets += 1;
        } else if GSM_EXTENDED.contains(c) {
            septets += 2;
        } else {
            return Encoding::Ucs2 {
                units: text.encode_utf16().count(),
            };
        }
    }
    Encoding::Gsm7 { septets }
}

/// How many parts the message is sent as.
pub fn segments(text: &str) -> usize {
    let (len, single, part) = match encoding(text) {
        Encoding::Gsm7 { septets } => (septets, 160, 153),
        Encoding::Ucs2 { units } => (units, 70, 67),
    };
    if len <= single { 1 } else { len.div_ceil(part) }
}

/// `lead` then `link`, with `lead` cut short (ending in "…") when the whole
/// would take more than [`MAX_SEGMENTS`] parts. The link is never cut and is
/// always last, so the phone makes it tappable.
pub fn fit(lead: &str, link: &str) -> String {
    let whole = format!("{lead} {link}");
    if segments(&whole) <= MAX_SEGMENTS {
        return whole;
    }
    let chars: Vec<char> = lead.chars().collect();
    // Drop characters from the end until it fits: at most a few hundred tries.
    for keep in (0..chars.len()).rev() {
        let cut: String = chars[..keep].iter().collect();
        let candidate = format!("{}… {link}", cut.trim_end());
        if segments(&candidate) <= MAX_SEGMENTS {
            return candidate;
        }
    }
    link.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_and_ucs2_lengths() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        // The euro sign takes two septets.
        assert_eq!(encoding("€5"), Encoding::Gsm7 { septets: 3 });
        // French accents of the GSM table stay 7-bit; others do not.
        assert_eq!(encoding("é à è"), Encoding::Gsm7 { septets: 5 });
        assert_eq!(encoding("ê"), Encoding::Ucs2 { units: 1 });
        assert_eq!(segments(&"ê".repeat(70)), 1);
        assert_eq!(segments(&"ê".repeat(71)), 2);
        // An emoji is two UTF-16 units.
        assert_eq!(encoding("👍"), Encoding::Ucs2 { units: 2 });
    }

    #[test]
    fn a_long_text_is_cut_before_the_link_never_in_it() {
        let link = "https://visio.hopital.example/i/abcdefghijkmnpqrstuvwxyz23";
        let short = fit("Your consultation is ready:", link);
        assert_eq!(short, format!("Your consultation is ready: {link}"));
        let lead = "Bonjour, votre consultation vidéo avec le Dr Anne-Sophie de la Tour-Maubourg "
            .repeat(6);
        let text = fit(&lead, link);
        assert!(text.ends_with(link), "{text}");
        assert!(text.contains("… "), "{text}");
        assert!(segments(&text) <= MAX_SEGMENTS, "{text}");
        let ucs = fit(&"ê".repeat(200), link);
        assert!(segments(&ucs) <= MAX_SEGMENTS && ucs.ends_with(link));
    }
}
