//! Pagination of list answers: which page, how many items on it.

use super::ValidationError;

/// A validated page request: `page` from 1, `page_size` 1..=`MAX_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    pub const DEFAULT_SIZE: u32 = 20;
    pub const MAX_SIZE: u32 = 100;

    /// Defaults: page 1, `DEFAULT_SIZE` items.
    pub fn new(page: Option<i64>, page_size: Option<i64>) -> Result<Self, ValidationError> {
        let page = page.unwrap_or(1);
        let page = u32::try_from(page)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| ValidationError::new("page", "must be 1 or more"))?;
        let page_size = page_size.unwrap_or(i64::from(Self::DEFAULT_SIZE));
        let page_size = u32::try_from(page_size)
            .ok()
            .filter(|s| (1..=Self::MAX_SIZE).contains(s))
            .ok_or_else(|| {
                ValidationError::new("page_size", format!("must be 1 to {}", Self::MAX_SIZE))
            })?;
        Ok(Self { page, page_size })
    }

    /// Rows to skip; `u32 * u32` always fits an `i64`.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let p = PageRequest::new(None, None).expect("defaults");
        assert_eq!((p.page, p.page_size, p.offset()), (1, 20, 0));
        let p = PageRequest::new(Some(3), Some(100)).expect("valid");
        assert_eq!((p.offset(), p.limit()), (200, 100));
        for (page, size) in [(0, 20), (-1, 20), (1, 0), (1, 101), (1, -5)] {
            assert!(
                PageRequest::new(Some(page), Some(size)).is_err(),
                "{page} {size}"
            );
        }
        assert!(PageRequest::new(Some(i64::from(u32::MAX) + 1), None).is_err());
    }
}
