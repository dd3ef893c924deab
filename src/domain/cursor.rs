//! Cursor pagination: how many items a page holds, and the opaque token
//! that says where the next page starts. A token is a kind tag and a few
//! integers as zig-zag varints in hex: short, URL-safe, and not something
//! clients are meant to build or read.

use super::ValidationError;

/// Items on one page: 1..=`MAX`, `DEFAULT` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub const DEFAULT: u32 = 20;
    pub const MAX: u32 = 100;

    pub fn parse(raw: Option<i64>) -> Result<Self, ValidationError> {
        let raw = raw.unwrap_or(i64::from(Self::DEFAULT));
        u32::try_from(raw)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Self)
            .ok_or_else(|| ValidationError::new("limit", format!("must be 1 to {}", Self::MAX)))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// As a SQL `LIMIT`, one more than shown: the extra row says whether
    /// a next page exists.
    pub fn probe(self) -> i64 {
        i64::from(self.0) + 1
    }
}

/// Longest token accepted (the likes feed's carries up to 500 ids).
const MAX_TOKEN: usize = 8192;

/// Encodes `tag` and `values` as a token.
pub fn encode(tag: u8, values: &[i64]) -> String {
    let mut bytes = vec![tag];
    for v in values {
        // Zig-zag: small magnitudes of either sign take few bytes.
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let low = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                bytes.push(low);
                break;
            }
            bytes.push(low | 0x80);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a token made by [`encode`] with the same `tag`.
pub fn decode(tag: u8, raw: &str) -> Result<Vec<i64>, ValidationError> {
    let bad = || ValidationError::new("cursor", "is not a cursor this list gave out");
    if raw.len() > MAX_TOKEN || !raw.len().is_multiple_of(2) || !raw.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&raw[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let (&first, rest) = bytes.split_first().ok_or_else(bad)?;
    if first != tag {
        return Err(bad());
    }
    let mut values = Vec::new();
    let (mut z, mut shift) = (0u64, 0u32);
    for b in rest {
        if shift > 63 {
            return Err(bad());
        }
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            values.push(((z >> 1) as i64) ^ -((z & 1) as i64));
            z = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    if shift != 0 {
        return Err(bad());
    }
    Ok(values)
}

/// A list read by descending or ascending id: the token holds the last id
/// shown, and the next page starts past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterId(pub i64);

const AFTER_ID: u8 = 1;

impl AfterId {
    /// `None` for the first page.
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, ValidationError> {
        let Some(raw) = raw else { return Ok(None) };
        match decode(AFTER_ID, raw)?.as_slice() {
            [id] => Ok(Some(Self(*id))),
            _ => Err(ValidationError::new(
                "cursor",
                "is not a cursor this list gave out",
            )),
        }
    }

    pub fn token(self) -> String {
        encode(AFTER_ID, &[self.0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for values in [
            vec![],
            vec![0],
            vec![1, -1, i64::MAX, i64::MIN, 300, 123_456_789],
        ] {
            assert_eq!(decode(7, &encode(7, &values)), Ok(values));
        }
        assert!(decode(8, &encode(7, &[1])).is_err(), "another list's token");
        for bad in ["", "0", "zz", "0180", "é"] {
            assert!(decode(7, bad).is_err(), "{bad}");
        }
        let id = AfterId(42);
        assert_eq!(AfterId::parse(Some(&id.token())), Ok(Some(id)));
        assert_eq!(AfterId::parse(None), Ok(None));
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(PageLimit::parse(None).map(PageLimit::get), Ok(20));
        assert_eq!(PageLimit::parse(Some(100)).map(PageLimit::get), Ok(100));
        for bad in [0, -1, 101] {
            assert!(PageLimit::parse(Some(bad)).is_err());
        }
    }
}
