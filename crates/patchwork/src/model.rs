//! What Patchwork's REST API returns, typed for what gauntlet reads.
//!
//! Patchwork's answers change with the API version asked for (fields appear in 1.1, 1.2, 1.4),
//! differ between summary and detail forms, and grow with every release. So every type here
//! ignores fields it does not name, and every field that some version or some object lacks is
//! an `Option` (absent is `None`) or defaults to empty: a newer Patchwork never breaks the
//! client, an older one only leaves fields empty. Fields a server sends as `null` where the schema says a string
//! (old rows, hand-edited databases) are read as absent too.

use serde::{Deserialize, Deserializer, Serialize};

pub use gauntlet_verdict::PatchworkState as CheckState;

use crate::time::Timestamp;

/// `null` read as the type's default (an empty list or string), for fields whose absence and
/// emptiness mean the same.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A Patchwork user (an account: maintainers, delegates, check posters, event actors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// Someone who sent mail (not necessarily a user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: u64,
    pub url: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email: String,
}

/// A project, embedded in other objects or in full (`maintainers`, `subject_match`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    pub url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The slug used in URLs and as the `project` filter.
    #[serde(default, deserialize_with = "null_as_default")]
    pub link_name: String,
    /// The `List-Id` Patchwork files mail under (without `<>`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub list_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub list_email: String,
    pub web_url: Option<String>,
    pub scm_url: Option<String>,
    pub webscm_url: Option<String>,
    pub list_archive_url: Option<String>,
    pub list_archive_url_format: Option<String>,
    pub commit_url_format: Option<String>,
    /// Only in the project's own detail and list (not where a project is embedded).
    #[serde(default, deserialize_with = "null_as_default")]
    pub maintainers: Vec<User>,
    pub subject_match: Option<String>,
}

/// A patch or cover letter as other objects embed it (a series' `patches`, an event's payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub id: u64,
    pub url: Option<String>,
    pub web_url: Option<String>,
    /// With its angle brackets, as Patchwork stores it (`<abc@example.com>`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub msgid: String,
    pub list_archive_url: Option<String>,
    pub date: Option<Timestamp>,
    /// The cleaned subject, prefixes kept (`[v2,1/2] test: Add some lorem ipsum`).
    pub name: Option<String>,
    pub mbox: Option<String>,
}

/// A series as other objects embed it (a patch's `series`, an event's payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesRef {
    pub id: u64,
    pub url: Option<String>,
    pub web_url: Option<String>,
    pub date: Option<Timestamp>,
    pub name: Option<String>,
    #[serde(default = "one")]
    pub version: u32,
    pub mbox: Option<String>,
}

fn one() -> u32 {
    1
}

/// A series in full (`GET /series/{id}/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub id: u64,
    pub url: Option<String>,
    pub web_url: Option<String>,
    pub project: Option<Project>,
    /// `None` until a cover letter or a first patch names it.
    pub name: Option<String>,
    /// The date of the mail that created the series (UTC).
    pub date: Timestamp,
    pub submitter: Person,
    #[serde(default = "one")]
    pub version: u32,
    /// `N` of `[PATCH x/N]`; 1 for a lone patch.
    #[serde(default)]
    pub total: u32,
    #[serde(default)]
    pub received_total: u32,
    /// Whether every patch announced has arrived.
    #[serde(default)]
    pub received_all: bool,
    /// All patches of the series in number order, without the cover letter.
    #[serde(default, deserialize_with = "null_as_default")]
    pub mbox: String,
    pub cover_letter: Option<Submission>,
    /// In the order Patchwork gives them, which is by **date**, not by number: the number is
    /// only in each patch's name (`[v2,1/2] …`); the mbox is in number order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub patches: Vec<Submission>,
    /// API 1.4 and `show_dependencies` only: API URLs of the series this one depends on.
    #[serde(default, deserialize_with = "null_as_default")]
    pub dependencies: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dependents: Vec<String>,
}

impl Series {
    /// The ids of the series' patches, as listed.
    pub fn patch_ids(&self) -> Vec<u64> {
        self.patches.iter().map(|p| p.id).collect()
    }
}

/// A patch (`GET /patches/{id}/`; the list form lacks `content`, `diff`, `prefixes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patch {
    pub id: u64,
    pub url: Option<String>,
    pub web_url: Option<String>,
    pub project: Option<Project>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub msgid: String,
    pub list_archive_url: Option<String>,
    pub date: Timestamp,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    pub commit_ref: Option<String>,
    pub pull_url: Option<String>,
    /// The state's slug (`new`, `under-review`, `changes-requested`…): instances define their
    /// own states, so this is not an enum.
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: String,
    #[serde(default)]
    pub archived: bool,
    pub hash: Option<String>,
    pub submitter: Person,
    pub delegate: Option<User>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub mbox: String,
    /// A list of zero or one series (a list for backward compatibility).
    #[serde(default, deserialize_with = "null_as_default")]
    pub series: Vec<SeriesRef>,
    /// The combined state of the newest check of each (user, context).
    pub check: Option<CheckState>,
    /// The URL of the patch's checks (unversioned, as Patchwork builds it).
    pub checks: Option<String>,
    pub content: Option<String>,
    pub diff: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub prefixes: Vec<String>,
}

impl Patch {
    /// The id of the series the patch belongs to, if any.
    pub fn series_id(&self) -> Option<u64> {
        self.series.first().map(|s| s.id)
    }
}

/// A check, as listed or returned by its creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub id: u64,
    pub url: Option<String>,
    /// Who posted it (the token's user).
    pub user: Option<User>,
    /// Server-local time of creation.
    pub date: Timestamp,
    pub state: CheckState,
    pub target_url: Option<String>,
    #[serde(default = "default_context")]
    pub context: String,
    pub description: Option<String>,
}

fn default_context() -> String {
    "default".to_owned()
}

/// A check as an event embeds it (no user, no description).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRef {
    pub id: u64,
    pub url: Option<String>,
    pub date: Option<Timestamp>,
    pub state: CheckState,
    pub target_url: Option<String>,
    #[serde(default = "default_context")]
    pub context: String,
}

/// A comment as an event embeds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRef {
    pub id: u64,
    pub url: Option<String>,
    pub msgid: Option<String>,
    pub date: Option<Timestamp>,
}

/// What posting a check says (`POST /patches/{id}/checks/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCheck {
    pub state: CheckState,
    /// A slug (`^[-a-zA-Z0-9_]+$`, at most 255): Patchwork refuses `ci/build` (see
    /// [`context_slug`]). The newest check of each (user, context) is the one that counts.
    pub context: String,
    /// At most 200 characters (Patchwork's `URLField`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `text` made into a context Patchwork accepts: characters other than ASCII letters, digits,
/// `-` and `_` become `-`, runs of them one, at most 255 characters; `default` when nothing is
/// left.
pub fn context_slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        return default_context();
    }
    slug.chars().take(255).collect()
}

/// An event's category. Patchwork says the list may change between releases, so an unknown one
/// is kept as it is rather than refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    CoverCreated,
    PatchCreated,
    PatchCompleted,
    PatchStateChanged,
    PatchRelationChanged,
    PatchDelegated,
    CheckCreated,
    SeriesCreated,
    SeriesCompleted,
    CoverCommentCreated,
    PatchCommentCreated,
    Other(String),
}

impl Category {
    const KNOWN: [(Category, &'static str); 11] = [
        (Category::CoverCreated, "cover-created"),
        (Category::PatchCreated, "patch-created"),
        (Category::PatchCompleted, "patch-completed"),
        (Category::PatchStateChanged, "patch-state-changed"),
        (Category::PatchRelationChanged, "patch-relation-changed"),
        (Category::PatchDelegated, "patch-delegated"),
        (Category::CheckCreated, "check-created"),
        (Category::SeriesCreated, "series-created"),
        (Category::SeriesCompleted, "series-completed"),
        (Category::CoverCommentCreated, "cover-comment-created"),
        (Category::PatchCommentCreated, "patch-comment-created"),
    ];

    /// Patchwork's name (`series-completed`).
    pub fn as_str(&self) -> &str {
        if let Category::Other(name) = self {
            return name;
        }
        Category::KNOWN
            .iter()
            .find(|(c, _)| c == self)
            .map_or("", |(_, name)| name)
    }

    pub fn from_name(name: &str) -> Category {
        Category::KNOWN
            .iter()
            .find(|(_, n)| *n == name)
            .map_or_else(|| Category::Other(name.to_owned()), |(c, _)| c.clone())
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Category::from_name(&String::deserialize(deserializer)?))
    }
}

/// What an event is about; which keys are present depends on the category (see Patchwork's
/// event table: `series-completed` has `series`, `patch-state-changed` has `patch`,
/// `previous_state` and `current_state`, `check-created` has `patch` and `check`…).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub patch: Option<Submission>,
    pub series: Option<SeriesRef>,
    pub cover: Option<Submission>,
    /// State slugs of `patch-state-changed`.
    pub previous_state: Option<String>,
    pub current_state: Option<String>,
    pub previous_delegate: Option<User>,
    pub current_delegate: Option<User>,
    pub check: Option<CheckRef>,
    pub comment: Option<CommentRef>,
}

/// One entry of `GET /events/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and increasing in creation order, but not in the order events become visible
    /// (that is commit order): never a cursor by itself.
    pub id: u64,
    pub category: Category,
    pub project: Option<Project>,
    /// Server-local time of creation.
    pub date: Timestamp,
    /// Who caused it (API 1.2+): the maintainer who changed a state, the poster of a check;
    /// `None` for what mail did.
    pub actor: Option<User>,
    #[serde(default)]
    pub payload: Payload,
}

impl Event {
    pub fn series_id(&self) -> Option<u64> {
        self.payload.series.as_ref().map(|s| s.id)
    }

    pub fn patch_id(&self) -> Option<u64> {
        self.payload.patch.as_ref().map(|p| p.id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn context_slugs() {
        assert_eq!(context_slug("ci/build x86_64"), "ci-build-x86_64");
        assert_eq!(context_slug("gauntlet-checkpatch"), "gauntlet-checkpatch");
        assert_eq!(context_slug("//"), "default");
        assert_eq!(context_slug(&"a".repeat(300)).len(), 255);
    }

    #[test]
    fn categories_round_trip() {
        for (c, name) in Category::KNOWN {
            assert_eq!(Category::from_name(name), c);
            assert_eq!(c.as_str(), name);
        }
        let c: Category = serde_json::from_str("\"series-exploded\"").unwrap();
        assert_eq!(c, Category::Other("series-exploded".into()));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"series-exploded\"");
    }

    #[test]
    fn tolerant_of_nulls_and_missing_fields() {
        let p: Patch = serde_json::from_value(serde_json::json!({
            "id": 3, "date": "2016-09-11T22:22:03", "submitter": {"id": 1, "email": null},
            "series": null, "state": "new", "unknown": {"x": 1}, "check": "pending"
        }))
        .unwrap();
        assert_eq!(p.series_id(), None);
        assert_eq!(p.check, Some(CheckState::Pending));
        assert_eq!(p.submitter.email, "");
        let e: Event = serde_json::from_value(serde_json::json!({
            "id": 1, "category": "patch-state-changed", "date": "2026-11-22T14:18:22.091982",
            "payload": {"patch": {"id": 1, "msgid": "<a@b>"}, "previous_state": "new",
                        "current_state": "under-review"}
        }))
        .unwrap();
        assert_eq!(e.actor, None);
        assert_eq!(e.patch_id(), Some(1));
        assert_eq!(e.payload.current_state.as_deref(), Some("under-review"));
    }
}
