//! The query of every cursor-paginated community list: `cursor` (the
//! opaque `next_cursor` of the page before; none for the first page) and
//! `limit`.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::ValidationError;
use crate::domain::cursor::{AfterId, PageLimit};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CursorQuery {
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

impl CursorQuery {
    /// The id to continue after, and the page size.
    pub fn parse(&self) -> Result<(Option<i64>, PageLimit), ValidationError> {
        let after = AfterId::parse(self.cursor.as_deref())?.map(|a| a.0);
        Ok((after, PageLimit::parse(self.limit)?))
    }
}

/// Cuts the probe row (see [`PageLimit::probe`]) off `items` and answers
/// the cursor of the next page, from the last item's id.
pub fn next_cursor<T>(
    items: &mut Vec<T>,
    limit: PageLimit,
    id: impl Fn(&T) -> i64,
) -> Option<String> {
    let shown = limit.get() as usize;
    if items.len() <= shown {
        return None;
    }
    items.truncate(shown);
    items.last().map(|last| AfterId(id(last)).token())
}
