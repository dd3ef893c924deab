//! Saved payment methods: the provider's token and what a buyer needs to
//! recognise the card (brand, last four, expiry), never the card number.
//! Anything that looks like a card number (a run of 13 to 19 digits that
//! passes the Luhn check, spaces and dashes allowed between digits) is
//! refused in every field, so a client that sends a PAN by mistake never
//! gets it stored.

use super::ValidationError;

pub const TOKEN_MAX: usize = 128;
pub const BRAND_MAX: usize = 20;

/// A saved method's data, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOnFile {
    pub provider_token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// Why a payment method cannot be saved or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// A field holds what looks like a full card number.
    #[error("{0}: looks like a card number; send the provider's token, never the number")]
    LooksLikePan(&'static str),
    #[error("the card expired at the end of {month:02}/{year}")]
    Expired { month: u32, year: u32 },
}

/// The fields of a payment method as a client sends them.
#[derive(Debug, Clone, Copy)]
pub struct RawCard<'a> {
    pub provider_token: &'a str,
    pub brand: &'a str,
    pub last4: &'a str,
    pub exp_month: i64,
    pub exp_year: i64,
}

impl CardOnFile {
    /// Checks the fields; `today` is `(year, month)` (an expired card is refused).
    pub fn parse(raw: RawCard<'_>, today: (u32, u32)) -> Result<Self, CardError> {
        for (field, value) in [
            ("provider_token", raw.provider_token),
            ("brand", raw.brand),
            ("last4", raw.last4),
        ] {
            if looks_like_pan(value) {
                return Err(CardError::LooksLikePan(field));
            }
        }
        let token = raw.provider_token.trim();
        if token.is_empty()
            || token.len() > TOKEN_MAX
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ValidationError::new(
                "provider_token",
                format!("must be 1 to {TOKEN_MAX} visible ASCII characters"),
            )
            .into());
        }
        let brand = super::text::bounded("brand", raw.brand, BRAND_MAX)?;
        let last4 = raw.last4.trim();
        if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new("last4", "must be exactly 4 digits").into());
        }
        let exp_month = u32::try_from(raw.exp_month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| ValidationError::new("exp_month", "must be 1 to 12"))?;
        let exp_year = u32::try_from(raw.exp_year)
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| ValidationError::new("exp_year", "must be 2000 to 2100"))?;
        let card = Self {
            provider_token: token.to_string(),
            brand,
            last4: last4.to_string(),
            exp_month,
            exp_year,
        };
        card.usable(today)?;
        Ok(card)
    }

    /// A card is good through the last day of its expiry month.
    pub fn usable(&self, (year, month): (u32, u32)) -> Result<(), CardError> {
        if (self.exp_year, self.exp_month) < (year, month) {
            return Err(CardError::Expired {
                month: self.exp_month,
                year: self.exp_year,
            });
        }
        Ok(())
    }
}

/// True when `s` holds a run of 13 to 19 digits (spaces or dashes between
/// them allowed) that passes the Luhn check. Only whole runs count: any
/// 16 random digits hold some shorter stretch that passes Luhn, so
/// scanning inside runs would refuse most tokens with long digit runs.
pub fn looks_like_pan(s: &str) -> bool {
    let mut run: Vec<u8> = Vec::new();
    let mut previous_digit = false;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            run.push(d as u8);
            previous_digit = true;
        } else if matches!(c, ' ' | '-') && previous_digit {
            // A separator inside a number: the run goes on.
        } else {
            previous_digit = false;
            if holds_pan(&run) {
                return true;
            }
            run.clear();
        }
    }
    holds_pan(&run)
}

/// Whether the digit run `run` is as long as a card number and passes Luhn.
fn holds_pan(run: &[u8]) -> bool {
    (13..=19).contains(&run.len()) && luhn(run)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawCard<'static> {
        RawCard {
            provider_token: "tok_visa_abc",
            brand: "visa",
            last4: "4242",
            exp_month: 12,
            exp_year: 2030,
        }
    }

    #[test]
    fn pans_are_recognised() {
        assert!(looks_like_pan("4242424242424242"));
        assert!(looks_like_pan("4242 4242 4242 4242"));
        assert!(looks_like_pan("card 4111-1111-1111-1111 here"));
        assert!(looks_like_pan("x 4242424242424242 y"));
        assert!(
            !looks_like_pan("99994242424242424242"),
            "20 digits: not a card number"
        );
        assert!(!looks_like_pan("4242424242424241"), "fails Luhn");
        assert!(!looks_like_pan("424242424242"), "12 digits");
        assert!(!looks_like_pan("tok_1234"));
    }

    #[test]
    fn a_card_is_checked() {
        let today = (2026, 12);
        assert!(CardOnFile::parse(raw(), today).is_ok());
        let pan = RawCard {
            provider_token: "4242424242424242",
            ..raw()
        };
        assert_eq!(
            CardOnFile::parse(pan, today),
            Err(CardError::LooksLikePan("provider_token"))
        );
        let brand = RawCard {
            brand: "visa 4111111111111111",
            ..raw()
        };
        assert_eq!(
            CardOnFile::parse(brand, today),
            Err(CardError::LooksLikePan("brand"))
        );
        for bad in [
            RawCard {
                last4: "42a2",
                ..raw()
            },
            RawCard {
                exp_month: 13,
                ..raw()
            },
            RawCard {
                exp_year: 99,
                ..raw()
            },
            RawCard {
                provider_token: " ",
                ..raw()
            },
        ] {
            assert!(matches!(
                CardOnFile::parse(bad, today),
                Err(CardError::Invalid(_))
            ));
        }
    }

    #[test]
    fn a_card_expires_after_its_month() {
        let card = CardOnFile::parse(raw(), (2026, 1)).expect("valid");
        assert!(card.usable((2030, 12)).is_ok());
        assert!(card.usable((2031, 1)).is_err());
        let expired = RawCard {
            exp_year: 2026,
            exp_month: 11,
            ..raw()
        };
        assert!(matches!(
            CardOnFile::parse(expired, (2026, 12)),
            Err(CardError::Expired { .. })
        ));
    }
}
