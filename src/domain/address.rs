//! A structured postal address (the address book, and the copy an order
//! keeps): who receives it, how to call them, where it goes. Every field is
//! checked when parsed, so an `Address` is always deliverable-looking.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;
use super::text::bounded;

pub const RECIPIENT_MAX: usize = 100;
pub const LINE_MAX: usize = 200;
pub const CITY_MAX: usize = 100;
pub const POSTAL_CODE_MAX: usize = 16;
pub const PHONE_MAX: usize = 20;

/// ISO 3166-1 alpha-2 codes officially assigned.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM \
PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ \
UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A shipping address. Serialized as the order keeps its copy and as the
/// API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    /// 1 to 100 characters.
    pub recipient: String,
    /// 7 to 15 digits, optionally with `+`, spaces, `-`, `(`, `)`; at most 20 characters.
    pub phone: String,
    /// 1 to 16 letters, digits, spaces or `-`.
    pub postal_code: String,
    /// 1 to 200 characters.
    pub line1: String,
    /// Up to 200 characters; blank means none.
    pub line2: Option<String>,
    /// 1 to 100 characters.
    pub city: String,
    /// ISO 3166-1 alpha-2, upper case, e.g. `KR`.
    pub country: String,
}

/// The fields of an address as a client sends them, before checking.
#[derive(Debug, Clone, Copy)]
pub struct RawAddress<'a> {
    pub recipient: &'a str,
    pub phone: &'a str,
    pub postal_code: &'a str,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub country: &'a str,
}

impl Address {
    pub fn parse(raw: RawAddress<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            recipient: bounded("recipient", raw.recipient, RECIPIENT_MAX)?,
            phone: phone(raw.phone)?,
            postal_code: postal_code(raw.postal_code)?,
            line1: bounded("line1", raw.line1, LINE_MAX)?,
            line2: match raw.line2.map(str::trim).filter(|l| !l.is_empty()) {
                Some(l) => Some(bounded("line2", l, LINE_MAX)?),
                None => None,
            },
            city: bounded("city", raw.city, CITY_MAX)?,
            country: country(raw.country)?,
        })
    }

    /// One line for the legacy `shipping_address` text of an order.
    pub fn one_line(&self) -> String {
        let mut s = format!("{}, {}", self.recipient, self.line1);
        if let Some(l2) = &self.line2 {
            s.push_str(", ");
            s.push_str(l2);
        }
        s.push_str(&format!(
            ", {} {}, {}, {}",
            self.postal_code, self.city, self.country, self.phone
        ));
        s
    }
}

fn phone(raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let allowed = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    if !allowed || !(7..=15).contains(&digits) || s.chars().count() > PHONE_MAX {
        return Err(ValidationError::new(
            "phone",
            "must hold 7 to 15 digits (with +, spaces, -, parentheses), at most 20 characters",
        ));
    }
    Ok(s.to_string())
}

fn postal_code(raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= POSTAL_CODE_MAX
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-'));
    ok.then(|| s.to_string()).ok_or_else(|| {
        ValidationError::new(
            "postal_code",
            "must be 1 to 16 letters, digits, spaces or -",
        )
    })
}

fn country(raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    let ok = s.len() == 2
        && s.bytes().all(|b| b.is_ascii_uppercase())
        && ISO_3166_ALPHA2.split_ascii_whitespace().any(|c| c == s);
    ok.then(|| s.to_string()).ok_or_else(|| {
        ValidationError::new("country", "must be an ISO 3166-1 alpha-2 code, e.g. KR")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawAddress<'static> {
        RawAddress {
            recipient: " Kim Minsu ",
            phone: "+82 10-1234-5678",
            postal_code: "06236",
            line1: "123 Teheran-ro",
            line2: Some("  "),
            city: "Seoul",
            country: "KR",
        }
    }

    #[test]
    fn a_good_address_is_trimmed() {
        let a = Address::parse(raw()).expect("valid");
        assert_eq!(a.recipient, "Kim Minsu");
        assert_eq!(a.line2, None);
        assert_eq!(
            a.one_line(),
            "Kim Minsu, 123 Teheran-ro, 06236 Seoul, KR, +82 10-1234-5678"
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |r: RawAddress<'static>| Address::parse(r).map_err(|e| e.field);
        assert_eq!(
            field(RawAddress {
                country: "kr",
                ..raw()
            }),
            Err("country")
        );
        assert_eq!(
            field(RawAddress {
                country: "XX",
                ..raw()
            }),
            Err("country")
        );
        assert_eq!(
            field(RawAddress {
                country: "KOR",
                ..raw()
            }),
            Err("country")
        );
        assert_eq!(
            field(RawAddress {
                phone: "12345",
                ..raw()
            }),
            Err("phone")
        );
        assert_eq!(
            field(RawAddress {
                phone: "call me",
                ..raw()
            }),
            Err("phone")
        );
        assert_eq!(
            field(RawAddress {
                postal_code: "",
                ..raw()
            }),
            Err("postal_code")
        );
        assert_eq!(
            field(RawAddress {
                postal_code: "06#236",
                ..raw()
            }),
            Err("postal_code")
        );
        assert_eq!(
            field(RawAddress {
                recipient: " ",
                ..raw()
            }),
            Err("recipient")
        );
        assert_eq!(field(RawAddress { city: "", ..raw() }), Err("city"));
        let long = "x".repeat(LINE_MAX + 1);
        let long: &'static str = Box::leak(long.into_boxed_str());
        assert_eq!(
            field(RawAddress {
                line2: Some(long),
                ..raw()
            }),
            Err("line2")
        );
        assert_eq!(
            field(RawAddress {
                line1: long,
                ..raw()
            }),
            Err("line1")
        );
    }
}
