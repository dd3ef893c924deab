//! The category tree: ids, names, and the materialised path that places a
//! category in the tree (`/1/5/9/`: the ids from the root down to it). A
//! category's descendants are the categories whose path starts with its own,
//! which the store finds with one indexed range scan ([`CategoryPath::range`]).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use utoipa::ToSchema;

use super::ValidationError;
use super::text::bounded;
use super::time::Timestamp;

pub const NAME_MAX: usize = 50;
/// Deepest level a category may sit at (a root is level 1). Bounds the
/// path's length: 10 ids of at most 19 digits, with slashes, fit 255 bytes.
pub const DEPTH_MAX: usize = 10;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct CategoryId(i64);

impl CategoryId {
    /// Wraps an id the store assigned.
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for CategoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

pub fn category_name(raw: &str) -> Result<String, ValidationError> {
    bounded("name", raw, NAME_MAX)
}

/// Where a category sits: `/` + each id from the root down, each followed
/// by `/`. Only built from ids, or parsed back from the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CategoryPath(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("a category cannot be moved under itself or one of its descendants")]
    Cycle,
    #[error("the tree may be at most {DEPTH_MAX} levels deep")]
    TooDeep,
}

impl CategoryPath {
    /// The path of a root category.
    pub fn root(id: CategoryId) -> Self {
        Self(format!("/{id}/"))
    }

    /// The path of a child `id` of the category at `self`.
    pub fn child(&self, id: CategoryId) -> Result<Self, TreeError> {
        if self.depth() >= DEPTH_MAX {
            return Err(TreeError::TooDeep);
        }
        Ok(Self(format!("{}{id}/", self.0)))
    }

    /// Reads a path as stored; `None` when it is not one.
    pub fn parse(raw: &str) -> Option<Self> {
        let inner = raw.strip_prefix('/')?.strip_suffix('/')?;
        let ok = inner
            .split('/')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        ok.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Levels from the root: 1 for a root category.
    pub fn depth(&self) -> usize {
        self.0.matches('/').count() - 1
    }

    /// The category this path ends at.
    pub fn id(&self) -> Option<CategoryId> {
        let inner = self.0.strip_suffix('/')?;
        inner.rsplit('/').next()?.parse().ok().map(CategoryId)
    }

    /// True when `other` is this category or lies below it.
    pub fn contains(&self, other: &CategoryPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// `[low, high)`: every path that starts with this one (this category
    /// and its descendants) sorts within it, byte by byte. `0` follows `/`.
    pub fn range(&self) -> (String, String) {
        let mut high = self.0.clone();
        high.pop();
        high.push('0');
        (self.0.clone(), high)
    }

    /// This path with the prefix `from` (an ancestor's old path, or its
    /// own) replaced by `to`: where a descendant lands when that ancestor
    /// moves. Refuses a result deeper than [`DEPTH_MAX`].
    pub fn moved(&self, from: &CategoryPath, to: &CategoryPath) -> Result<Self, TreeError> {
        let rest = self.0.strip_prefix(&from.0).ok_or(TreeError::Cycle)?;
        let moved = Self(format!("{}{rest}", to.0));
        if moved.depth() > DEPTH_MAX {
            return Err(TreeError::TooDeep);
        }
        Ok(moved)
    }
}

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Category {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A category with its children, as `GET /categories` shows the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryNode {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub name: String,
    /// Sub-categories, by name.
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

/// Builds the forest from flat rows: roots and every level by name (then
/// id). A row whose parent is missing is shown as a root.
pub fn tree(categories: Vec<Category>) -> Vec<CategoryNode> {
    let known: std::collections::HashSet<CategoryId> = categories.iter().map(|c| c.id).collect();
    let mut children: HashMap<Option<CategoryId>, Vec<Category>> = HashMap::new();
    for c in categories {
        let parent = c.parent_id.filter(|p| known.contains(p));
        children.entry(parent).or_default().push(c);
    }
    build(None, &mut children)
}

fn build(
    parent: Option<CategoryId>,
    children: &mut HashMap<Option<CategoryId>, Vec<Category>>,
) -> Vec<CategoryNode> {
    let mut level = children.remove(&parent).unwrap_or_default();
    level.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    level
        .into_iter()
        .map(|c| CategoryNode {
            id: c.id,
            parent_id: c.parent_id,
            name: c.name,
            children: build(Some(c.id), children),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: i64) -> CategoryId {
        CategoryId::new(n)
    }

    #[test]
    fn paths_nest_and_bound_their_descendants() {
        let root = CategoryPath::root(id(1));
        let child = root.child(id(5)).expect("child");
        assert_eq!(child.as_str(), "/1/5/");
        assert_eq!(child.depth(), 2);
        assert_eq!(child.id(), Some(id(5)));
        assert!(root.contains(&child));
        assert!(!child.contains(&root));
        let (low, high) = child.range();
        assert_eq!((low.as_str(), high.as_str()), ("/1/5/", "/1/50"));
        let within = |path: &str| (low.as_str()..high.as_str()).contains(&path);
        for inside in ["/1/5/", "/1/5/9/", "/1/5/99/100/"] {
            assert!(within(inside), "{inside}");
        }
        for outside in ["/1/", "/1/50/", "/1/51/", "/1/4/", "/2/5/"] {
            assert!(!within(outside), "{outside}");
        }
    }

    #[test]
    fn paths_parse_back_and_refuse_junk() {
        assert_eq!(
            CategoryPath::parse("/1/22/"),
            Some(CategoryPath("/1/22/".into()))
        );
        for bad in ["", "/", "1/", "/1", "//", "/a/", "/1//2/"] {
            assert_eq!(CategoryPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let mut path = CategoryPath::root(id(1));
        for n in 2..=DEPTH_MAX as i64 {
            path = path.child(id(n)).expect("within bounds");
        }
        assert_eq!(path.child(id(99)), Err(TreeError::TooDeep));
    }

    #[test]
    fn moving_rewrites_the_prefix() {
        let from = CategoryPath("/1/5/".into());
        let to = CategoryPath("/7/5/".into());
        let below = CategoryPath("/1/5/9/".into());
        assert_eq!(below.moved(&from, &to), Ok(CategoryPath("/7/5/9/".into())));
        let other = CategoryPath("/2/".into());
        assert_eq!(other.moved(&from, &to), Err(TreeError::Cycle));
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(category_name("  Phones "), Ok("Phones".into()));
        assert!(category_name("").is_err());
        assert!(category_name(&"n".repeat(NAME_MAX + 1)).is_err());
    }

    #[test]
    fn the_tree_nests_by_parent_and_sorts_by_name() {
        let c = |n: i64, parent: Option<i64>, name: &str| Category {
            id: id(n),
            parent_id: parent.map(id),
            name: name.into(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        };
        let forest = tree(vec![
            c(3, Some(1), "Tablets"),
            c(1, None, "Electronics"),
            c(2, Some(1), "Phones"),
            c(4, None, "Books"),
            c(5, Some(2), "Android"),
        ]);
        let names: Vec<&str> = forest.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["Books", "Electronics"]);
        let electronics = &forest[1];
        let names: Vec<&str> = electronics
            .children
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["Phones", "Tablets"]);
        assert_eq!(electronics.children[0].children[0].name, "Android");
    }
}
