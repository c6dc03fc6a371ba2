//! Polling `GET /events/` without losing or repeating an event.
//!
//! # The cursor and the look-back
//!
//! Patchwork filters events by `since` (`date >= since`) on the event's own date, which is the
//! server's naive local time **when the event was created**. An event becomes visible only when
//! the transaction that created it commits, and several mail deliveries (one `parsemail` process
//! each) run at once. So an event stamped 12:00:00.5 can become visible after one stamped
//! 12:00:01 was read: a cursor at 12:00:01 would skip it for ever. The server's clock is naive
//! local time, too: an NTP step or the end of daylight saving time (Patchwork's shipped default
//! zone, `Australia/Canberra`, has it) puts new events *before* ones already read. Late mail
//! makes both likelier: a slow delivery, a moderated post or a list catching up arrives in a
//! burst of concurrent deliveries.
//!
//! Each poll therefore asks for `since = cursor − look-back` (65 minutes by default:
//! an hour of daylight-saving fall-back, plus slack for slow commits) and drops the events the
//! cursor remembers by id. The cursor keeps the ids of the events it has seen inside the window,
//! so the window costs one re-read of recent events, never a repeat. What arrives later than the
//! window is still lost: the window is the bound.
//!
//! Events are read oldest first (`order=date`), so a backlog larger than the pages one call
//! reads is consumed in order over several calls ([`EventBatch::complete`] is false until the
//! end is reached, and the next call resumes at the cursor without the look-back, so that a
//! window holding more than one call's pages cannot stall the poll).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::{Client, What};
use crate::error::Error;
use crate::model::{Category, Event};
use crate::time::Timestamp;

/// Where a poll of the events stands. Persist it (it is serde) after processing a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The date of the newest event read, on the server's clock; `None`: from the beginning.
    pub since: Option<Timestamp>,
    /// Ids (with dates) of the events already read within the look-back window before
    /// `since`: what a re-read of the window must not return again.
    #[serde(default)]
    seen: BTreeMap<u64, Timestamp>,
    /// The last call stopped before the end of the list: resume at `since` exactly.
    #[serde(default)]
    partial: bool,
}

impl Cursor {
    /// From the beginning of the event list (everything Patchwork still has).
    pub fn from_start() -> Cursor {
        Cursor::default()
    }

    /// From a date on the **server's** clock (an event's `date`, not this machine's time: the
    /// server's is naive local time, possibly hours away). To start at "now", use
    /// [`Client::events_cursor_at_end`].
    pub fn since(date: Timestamp) -> Cursor {
        Cursor {
            since: Some(date),
            ..Cursor::default()
        }
    }

    /// Whether the cursor remembers this event.
    pub fn has_seen(&self, id: u64) -> bool {
        self.seen.contains_key(&id)
    }

    /// The `since` to send: the look-back before the cursor, unless resuming a read cut short.
    fn query_since(&self, lookback: std::time::Duration) -> Option<Timestamp> {
        let since = self.since?;
        Some(if self.partial {
            since
        } else {
            since.saturating_sub(lookback)
        })
    }

    /// The events of a read that are new, oldest first, and the cursor after them.
    fn advance(
        &self,
        read: Vec<Event>,
        complete: bool,
        lookback: std::time::Duration,
    ) -> EventBatch {
        let mut seen = self.seen.clone();
        let mut events: Vec<Event> = read
            .into_iter()
            .filter(|e| seen.insert(e.id, e.date).is_none())
            .collect();
        events.sort_by_key(|e| (e.date, e.id));
        let since = events.iter().map(|e| e.date).max().max(self.since);
        if let Some(since) = since {
            let horizon = since.saturating_sub(lookback);
            seen.retain(|_, date| *date >= horizon);
        }
        EventBatch {
            events,
            cursor: Cursor {
                since,
                seen,
                partial: !complete,
            },
            complete,
        }
    }
}

/// What one poll gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBatch {
    /// Events not seen before, oldest first (by date, then id).
    pub events: Vec<Event>,
    /// The cursor to store once these events are handled.
    pub cursor: Cursor,
    /// False when the read stopped at the page limit: poll again at once to read the rest.
    pub complete: bool,
}

fn query(
    project: Option<&str>,
    categories: &[Category],
    order: &str,
) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(project) = project.filter(|p| !p.is_empty() && *p != "*") {
        query.push(("project", project.to_owned()));
    }
    // Repeated keys mean "any of" (API 1.1 and later).
    for category in categories {
        query.push(("category", category.as_str().to_owned()));
    }
    query.push(("order", order.to_owned()));
    query
}

impl Client {
    /// `GET /events/?project=…&category=…&since=…`, every page: the events after the cursor
    /// that it has not seen, oldest first, and the next cursor (see the module's notes for
    /// the look-back). `project` is an id or link name (`None`: every project); an empty
    /// `categories` is every category.
    pub async fn events(
        &self,
        project: Option<&str>,
        categories: &[Category],
        cursor: &Cursor,
    ) -> Result<EventBatch, Error> {
        let url = self.api("events/").await?;
        let mut query = query(project, categories, "date");
        if let Some(since) = cursor.query_since(self.lookback) {
            // Always naive: a zone-aware value makes Patchwork answer 500.
            query.push(("since", since.to_string()));
        }
        let what = What::new("reading events", "event list");
        let (read, complete) = self.pages::<Event>(url, query, &what).await?;
        if !complete
            && let (Some(first), Some(last)) = (read.first(), read.last())
            && first.date > last.date
        {
            // A server that ignored `order=date` gives newest first: what is left unread would
            // be older than the cursor we would store.
            return Err(Error::Protocol {
                path: "events/".into(),
                why: format!(
                    "events come newest first despite order=date, and there are more than {} pages",
                    self.max_pages
                ),
            });
        }
        let batch = cursor.advance(read, complete, self.lookback);
        tracing::debug!(
            new = batch.events.len(),
            since = ?batch.cursor.since,
            complete,
            "Patchwork events read"
        );
        Ok(batch)
    }

    /// A cursor at the newest event that matches (none yet: from the start), to begin polling
    /// from now on the server's own clock, whatever its zone. The events already inside the
    /// look-back window are marked seen, so that the first poll does not return them.
    pub async fn events_cursor_at_end(
        &self,
        project: Option<&str>,
        categories: &[Category],
    ) -> Result<Cursor, Error> {
        let url = self.api("events/").await?;
        let mut query = query(project, categories, "-date");
        query.push(("per_page", "1".to_owned()));
        let what = What::new("reading the newest event", "event list");
        let newest: Vec<Event> = self.get_json(url, &query, &what).await?;
        let Some(newest) = newest.first() else {
            return Ok(Cursor::from_start());
        };
        let window = self
            .events(project, categories, &Cursor::since(newest.date))
            .await?;
        Ok(window.cursor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event(id: u64, date: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": id, "category": "series-completed", "date": date, "payload": {}
        }))
        .unwrap()
    }

    #[test]
    fn look_back_re_reads_without_repeating() {
        let lookback = Duration::from_secs(600);
        let start = Cursor::since(Timestamp::parse("2026-01-01T12:00:00").unwrap());
        assert_eq!(
            start.query_since(lookback).unwrap().to_string(),
            "2026-01-01T11:50:00"
        );
        let first = start.advance(
            vec![
                event(3, "2026-01-01T12:00:02"),
                event(2, "2026-01-01T12:00:01"),
            ],
            true,
            lookback,
        );
        assert_eq!(
            first.events.iter().map(|e| e.id).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(
            first.cursor.since.unwrap().to_string(),
            "2026-01-01T12:00:02"
        );
        // The window again, plus one event committed late with an older date.
        let second = first.cursor.advance(
            vec![
                event(2, "2026-01-01T12:00:01"),
                event(1, "2026-01-01T11:59:59"),
                event(3, "2026-01-01T12:00:02"),
            ],
            true,
            lookback,
        );
        assert_eq!(second.events.iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
        assert_eq!(second.cursor.since, first.cursor.since);
        assert!(second.cursor.has_seen(1) && second.cursor.has_seen(3));
    }

    #[test]
    fn the_window_is_pruned_and_partial_reads_resume_exactly() {
        let lookback = Duration::from_secs(60);
        let c = Cursor::from_start().advance(
            vec![
                event(1, "2026-01-01T00:00:00"),
                event(2, "2026-01-01T01:00:00"),
            ],
            false,
            lookback,
        );
        assert!(!c.cursor.has_seen(1), "outside the window");
        assert!(c.cursor.has_seen(2));
        assert!(!c.complete);
        assert_eq!(
            c.cursor.query_since(lookback).unwrap().to_string(),
            "2026-01-01T01:00:00"
        );
        let json = serde_json::to_string(&c.cursor).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&json).unwrap(), c.cursor);
        assert_eq!(Cursor::from_start().query_since(lookback), None);
    }
}
