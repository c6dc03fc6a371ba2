use super::*;
use crate::revisions::revision_in;
use gauntlet_mail::{ParseOptions, parse};

const DIFF: &str = "---\n f | 1 +\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1,2 @@\n a\n+b\n";

struct M<'a> {
    from: &'a str,
    subject: &'a str,
    id: &'a str,
    reply_to: Option<&'a str>,
    date: &'a str,
    body: &'a str,
}

impl<'a> M<'a> {
    fn new(subject: &'a str, id: &'a str) -> Self {
        M {
            from: "Ada Lovelace <ada@example.com>",
            subject,
            id,
            reply_to: None,
            date: "Mon, 1 Jan 2024 10:00:00 +0000",
            body: DIFF,
        }
    }
    fn reply(mut self, to: &'a str) -> Self {
        self.reply_to = Some(to);
        self
    }
    fn at(mut self, date: &'a str) -> Self {
        self.date = date;
        self
    }
    fn from(mut self, from: &'a str) -> Self {
        self.from = from;
        self
    }
    fn body(mut self, body: &'a str) -> Self {
        self.body = body;
        self
    }
    fn raw(&self) -> Vec<u8> {
        let mut s = format!(
            "From: {}\nSubject: {}\nDate: {}\nMessage-Id: <{}>\n",
            self.from, self.subject, self.date, self.id
        );
        if let Some(r) = self.reply_to {
            s.push_str(&format!("In-Reply-To: <{r}>\nReferences: <{r}>\n"));
        }
        s.push_str("\nSome words.\n\nSigned-off-by: Ada Lovelace <ada@example.com>\n");
        s.push_str(self.body);
        s.into_bytes()
    }
}

fn run(mails: &[M<'_>]) -> (Index, Vec<Outcome>) {
    let parsed: Vec<Mail> = mails
        .iter()
        .map(|m| parse(&m.raw(), &ParseOptions::default()))
        .collect();
    group(&parsed, 1, 1_700_000_000)
}

fn kinds(out: &[Outcome]) -> Vec<&'static str> {
    out.iter().map(Outcome::kind).collect()
}

fn series_of(out: &Outcome) -> Option<Id> {
    match out {
        Outcome::Patch { series, .. } => *series,
        Outcome::Cover { series, .. } => Some(*series),
        _ => None,
    }
}

#[test]
fn cover_and_patches_form_one_complete_series() {
    let (index, out) = run(&[
        M::new("[PATCH 0/2] A series", "c").body("This is the cover.\n"),
        M::new("[PATCH 1/2] one", "p1").reply("c"),
        M::new("[PATCH 2/2] two", "p2").reply("c"),
    ]);
    assert_eq!(kinds(&out), vec!["cover", "patch", "patch"]);
    let s = index.series(series_of(&out[0]).unwrap()).unwrap();
    assert_eq!(s.name.as_deref(), Some("A series"));
    assert_eq!(s.patches.len(), 2);
    assert!(s.complete() && s.received_all());
    assert!(out.iter().all(|o| series_of(o) == Some(s.id)));
}

#[test]
fn threaded_series_arriving_over_days_and_out_of_order() {
    let (index, out) = run(&[
        M::new("[PATCH 2/3] two", "p2")
            .reply("c")
            .at("Wed, 3 Jan 2024 09:00:00 +0000"),
        M::new("[PATCH 0/3] Late cover", "c")
            .body("cover\n")
            .at("Mon, 1 Jan 2024 08:00:00 +0000"),
        M::new("[PATCH 3/3] three", "p3")
            .reply("c")
            .at("Fri, 5 Jan 2024 23:00:00 +0000"),
        M::new("[PATCH 1/3] one", "p1")
            .reply("c")
            .at("Tue, 2 Jan 2024 12:00:00 +0000"),
    ]);
    assert_eq!(kinds(&out), vec!["patch", "cover", "patch", "patch"]);
    let ids: BTreeSet<_> = out.iter().map(series_of).collect();
    assert_eq!(ids.len(), 1);
    let s = index.series(series_of(&out[0]).unwrap()).unwrap();
    // Name: none after patch 2, patch 1's is superseded by the cover's.
    assert_eq!(s.name.as_deref(), Some("Late cover"));
    assert!(s.complete());
    assert_eq!(
        s.patches.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[test]
fn unthreaded_patches_group_within_twenty_minutes_only() {
    let (_, out) = run(&[
        M::new("[PATCH 1/2] one", "a1").at("Mon, 1 Jan 2024 10:00:00 +0000"),
        M::new("[PATCH 2/2] two", "a2").at("Mon, 1 Jan 2024 10:19:59 +0000"),
        M::new("[PATCH 1/2] one", "b1").at("Mon, 1 Jan 2024 11:00:00 +0000"),
        M::new("[PATCH 2/2] two", "b2").at("Mon, 1 Jan 2024 11:30:00 +0000"),
    ]);
    assert_eq!(series_of(&out[0]), series_of(&out[1]));
    assert_ne!(series_of(&out[1]), series_of(&out[2]));
    assert_ne!(series_of(&out[2]), series_of(&out[3]));
}

#[test]
fn duplicates_orphans_and_bad_senders() {
    let (_, out) = run(&[
        M::new("[PATCH] fix", "x"),
        M::new("[PATCH] fix", "x"),
        M::new("Re: [PATCH] fix", "r1")
            .reply("x")
            .body("Looks good.\n"),
        M::new("Re: [PATCH] fix", "r1")
            .reply("x")
            .body("Looks good.\n"),
        M::new("Re: something", "r2").reply("unknown").body("hm\n"),
        M::new("[PATCH] broken sender", "y").from("nobody"),
        M::new("Re: [PATCH] fix", "r3")
            .reply("nothing")
            .from("nobody")
            .body("x\n"),
        M::new("[PATCH] empty", "z").body(""),
    ]);
    assert_eq!(
        kinds(&out),
        vec![
            "patch",
            "duplicate",
            "comment",
            "duplicate",
            "dropped",
            "error",
            "dropped",
            "dropped"
        ]
    );
    assert_eq!(out[5], Outcome::Error("Invalid 'From' header".into()));
}

#[test]
fn a_reply_carrying_a_diff_is_a_comment() {
    let (_, out) = run(&[
        M::new("[PATCH] fix", "x"),
        M::new("Re: [PATCH] fix", "r").reply("x"),
    ]);
    assert_eq!(kinds(&out), vec!["patch", "comment"]);
}

#[test]
fn revisions_link_by_reply_topic_and_supersedes() {
    let (index, out) = run(&[
        // v1, then v2 posted in reply to v1's cover.
        M::new("[PATCH 0/1] Add frobnication", "v1c").body("cover\n"),
        M::new("[PATCH 1/1] frob: add", "v1p").reply("v1c"),
        M::new("[PATCH v2 0/1] Add frobnication", "v2c")
            .reply("v1c")
            .body("cover v2\n")
            .at("Tue, 2 Jan 2024 10:00:00 +0000"),
        M::new("[PATCH v2 1/1] frob: add", "v2p").reply("v2c"),
        // v3, not threaded: same submitter, same subject.
        M::new("[PATCH v3] Add frobnication", "v3").at("Wed, 3 Jan 2024 10:00:00 +0000"),
        // Same subject from someone else: a different piece of work.
        M::new("[PATCH] Add frobnication", "other")
            .from("Bob <bob@example.com>")
            .at("Thu, 4 Jan 2024 10:00:00 +0000"),
        // A renamed v4 that says what it supersedes.
        M::new("[PATCH v4] frob: a better way", "v4")
            .body("Supersedes: <v3>\n\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n")
            .at("Fri, 5 Jan 2024 10:00:00 +0000"),
    ]);
    let v1 = series_of(&out[0]).unwrap();
    let v2 = series_of(&out[2]).unwrap();
    let v3 = series_of(&out[4]).unwrap();
    let other = series_of(&out[5]).unwrap();
    let v4 = series_of(&out[6]).unwrap();
    let lineage = index.series(v1).unwrap().lineage;
    for s in [v2, v3, v4] {
        assert_eq!(index.series(s).unwrap().lineage, lineage, "series {s}");
    }
    assert_ne!(index.series(other).unwrap().lineage, lineage);
    let members = index.lineage_members(lineage);
    let r = revision_in(v2, &members);
    assert_eq!((r.revision, r.of, r.superseded_by), (2, 4, Some(v4)));
    assert_eq!(revision_in(v4, &members).superseded_by, None);
}

#[test]
fn missing_message_ids_are_synthesized_stably() {
    let raw = b"From: Ada <ada@example.com>\nSubject: [PATCH] x\n\nwords\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n";
    let a = parse(raw, &ParseOptions::default());
    let b = parse(raw, &ParseOptions::default());
    assert!(a.message_id_synthesized);
    assert_eq!(a.message_id, b.message_id);
    let mut index = Index::new(0, 0, 0);
    let mut t = Tracker::new(&mut index);
    let inc = |m| Incoming {
        mail: m,
        mail_id: 1,
        list: 1,
        received_at: 0,
    };
    assert_eq!(t.ingest(inc(&a)).kind(), "patch");
    assert_eq!(t.ingest(inc(&b)).kind(), "duplicate");
}

#[test]
fn changes_record_everything_once() {
    let (mut index, out) = run(&[
        M::new("[PATCH 0/1] S", "c").body("cover\n"),
        M::new("[PATCH 1/1] p", "p").reply("c"),
    ]);
    let c = index.take_changes();
    assert_eq!(c.messages.len(), 2);
    assert_eq!(c.series.len(), 1);
    assert_eq!(c.people.len(), 1);
    assert_eq!(c.refs.len(), 1);
    assert_eq!(c.series[0].id, series_of(&out[0]).unwrap());
    assert!(index.take_changes().is_empty());
}

#[test]
fn topic_keys() {
    assert_eq!(topic_key("[v2,1/3] Foo  Bar").as_deref(), Some("foo bar"));
    assert_eq!(
        topic_key("net: dsa: ground work (v3)").as_deref(),
        Some("net: dsa: ground work")
    );
    assert_eq!(topic_key("[RFC] "), None);
}
