//! A client of Patchwork's REST API (Patchwork 2.2 and later, API 1.2 to 1.4), for gauntlet's
//! service: Patchwork as a source (events, series, their mboxes) and as a reporter (checks,
//! patch states).
//!
//! | module | responsibility |
//! |---|---|
//! | `client` | [`Client`], [`ClientConfig`]: the API root and version (found or configured), the token, timeouts, bounded retries of reads, bounded answers, Patchwork's statuses as [`Error`]s |
//! | `events` | [`Client::events`] with a [`Cursor`] (`since` plus a look-back deduplicated by event id, and why), [`EventBatch`] |
//! | `model` | what the API returns, typed and tolerant: [`Event`], [`Series`], [`Patch`], [`Project`], [`Check`]…; [`NewCheck`] and [`context_slug`] |
//! | `time` | [`Timestamp`]: Patchwork's naive dates, kept on the server's clock |
//! | `link` | the `Link` header that paginates every list |
//! | `error` | [`Error`]: unauthorized, forbidden, invalid (with Patchwork's field errors), unreachable… |
//! | `fake` | (feature `fake`) a fake Patchwork on 127.0.0.1 that answers as the real one does |
//!
//! # Patchwork's habits this crate is built around
//!
//! - Lists are bare JSON arrays; the next page is only in `Link: <…>; rel="next"`.
//! - Dates have no zone: mail dates are UTC, Patchwork's own stamps (events, checks) are the
//!   server's local time, and a zone-aware `since` gets an HTTP 500. Cursors are therefore
//!   built from the server's own dates and sent back naive.
//! - An unknown filter value (`project=nonexistent`) gives `200 []`, not an error.
//! - Writes need a token whose user maintains the patch's project; Patchwork says 403, never
//!   401, both to a missing or wrong token and to a user without the right, so the client tells
//!   the two apart by Patchwork's message ([`Error::Unauthorized`], [`Error::Forbidden`]).
//! - Check contexts are slugs (`ci-build`, not `ci/build`); checks are append-only and the newest
//!   per (user, context) counts, so a check is never posted twice blindly: writes are not
//!   retried once sent, and [`Client::checks`] lets a restarted reporter look first.
//!
//! A Patchwork server is untrusted input: nothing it sends can panic this crate, and every
//! answer read is bounded in size and in pages.

mod client;
mod error;
mod events;
#[cfg(feature = "fake")]
pub mod fake;
mod link;
mod model;
mod time;

pub use client::{API_VERSIONS, Client, ClientConfig};
pub use error::Error;
pub use events::{Cursor, EventBatch};
pub use model::{
    Category, Check, CheckRef, CheckState, CommentRef, Event, NewCheck, Patch, Payload, Person,
    Project, Series, SeriesRef, Submission, User, context_slug,
};
pub use time::{BadTimestamp, Timestamp};
