//! `signed-off-by` on mails written as git format-patch writes them, with real names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Patch, Posting, types};
use gauntlet_checks::Target;
use gauntlet_verdict::Status;

fn status(p: &Patch) -> (Status, Vec<String>, String) {
    let report = Posting::of(std::slice::from_ref(p)).check();
    let r = report
        .result("signed-off-by", &Target::Patch { index: 0 })
        .unwrap()
        .clone();
    let kinds = types(&report, "signed-off-by", 0);
    (r.status, kinds, r.summary)
}

fn signed(from: &str, sob: &str) -> Patch {
    let mut p = Patch::good(from);
    p.message = format!(
        "Walk fewer entries in do_sys_thing() when no flag is set.\n\nSigned-off-by: {sob}\n"
    );
    p
}

#[test]
fn author_signed_off_in_any_script() {
    for who in [
        "张三 <zhangsan@example.cn>",
        "Иван Петров <ivan@example.org>",
        "Γιώργος Παπαδόπουλος <giorgos@example.gr>",
        "محمد علي <mohamed@example.eg>",
        "山田 太郎 <yamada@example.jp>",
        "José Núñez <jose@example.es>",
    ] {
        let (s, kinds, summary) = status(&Patch::good(who));
        assert_eq!(s, Status::Pass, "{who}: {kinds:?} {summary}");
        assert!(kinds.is_empty(), "{who}: {kinds:?}");
        assert!(
            summary.contains(who.split(" <").next().unwrap()),
            "{summary}"
        );
    }
}

#[test]
fn same_address_other_script_or_spelling() {
    // The address decides: another script or transliteration is the same person.
    let (s, kinds, _) = status(&signed(
        "山田 太郎 <yamada@example.jp>",
        "Yamada Taro <Yamada@Example.JP>",
    ));
    assert_eq!(s, Status::Pass);
    assert_eq!(kinds, vec!["name-differs"]);
    let (s, kinds, _) = status(&signed(
        "Иван Петров <ivan@example.org>",
        "Ivan Petrov <ivan@example.org>",
    ));
    assert_eq!((s, kinds), (Status::Pass, vec!["name-differs".to_string()]));
    // Accents, order and quoting are not differences.
    let (s, kinds, _) = status(&signed(
        "José Núñez <jose@example.es>",
        "Jose Nunez <jose@example.es>",
    ));
    assert_eq!((s, kinds), (Status::Pass, vec![]));
    let (s, kinds, _) = status(&signed(
        "Doe, John <john@example.org>",
        "John Doe <john@example.org>",
    ));
    assert_eq!((s, kinds), (Status::Pass, vec![]));
    let (s, kinds, _) = status(&signed(
        "Petrov Ivan <ivan@example.org>",
        "Ivan Petrov <IVAN@example.org>",
    ));
    assert_eq!((s, kinds), (Status::Pass, vec![]));
}

#[test]
fn same_name_other_address_is_reported() {
    let (s, kinds, summary) = status(&signed(
        "José Núñez <jose@work.example>",
        "Jose Nunez <jose@home.example>",
    ));
    assert_eq!(s, Status::Fail);
    assert_eq!(kinds, vec!["author-address-mismatch"]);
    assert!(summary.contains("jose@home.example"), "{summary}");
    // Only a sub-address differs: accepted.
    let (s, _, _) = status(&signed(
        "A Person <ap@example.org>",
        "A Person <ap+lkml@example.org>",
    ));
    assert_eq!(s, Status::Pass);
}

#[test]
fn someone_else_signed_off() {
    let p = signed(
        "Иван Петров <ivan@example.org>",
        "Someone Else <else@example.org>",
    );
    let report = Posting::of(std::slice::from_ref(&p)).check();
    let r = report
        .result("signed-off-by", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(r.status, Status::Fail);
    let f = &r.findings[0];
    assert_eq!(f.kind, "author-missing");
    assert_eq!(
        f.message,
        "no Signed-off-by from the author Иван Петров <ivan@example.org>"
    );
    // It points at the sign-off that is there, in the mail.
    let raw = p.bytes();
    let line = f.location.patch_line.unwrap() as usize;
    let text = String::from_utf8(raw).unwrap();
    assert_eq!(
        text.lines().nth(line - 1),
        Some("Signed-off-by: Someone Else <else@example.org>")
    );
    assert_eq!(
        f.snippet.as_deref(),
        Some("Signed-off-by: Someone Else <else@example.org>")
    );
    // The RFC 2047 From was decoded for the message.
    let human = gauntlet_checks::render_human(&report, false);
    assert!(
        human.contains(
            "error[signed-off-by]: no Signed-off-by from the author Иван Петров <ivan@example.org>"
        ),
        "{human}"
    );
    assert!(
        human.contains(&format!("--> {}:{line}", report.series.patches[0].label)),
        "{human}"
    );
}

#[test]
fn forwarded_patches_need_the_senders_sign_off() {
    let author = "Γιώργος Παπαδόπουλος <giorgos@example.gr>";
    let mut p = Patch::good("Maintainer Person <maint@kernel.example>");
    p.in_body_from = Some(author.to_string());
    p.message = format!("Walk fewer entries when no flag is set.\n\nSigned-off-by: {author}\n");
    let (s, kinds, _) = status(&p);
    assert_eq!(s, Status::Fail);
    assert_eq!(kinds, vec!["sender-missing"]);
    p.message
        .push_str("Signed-off-by: Maintainer Person <maint@kernel.example>\n");
    let (s, kinds, summary) = status(&p);
    assert_eq!((s, kinds), (Status::Pass, vec![]));
    assert!(
        summary.contains("Γιώργος") && summary.contains("sender"),
        "{summary}"
    );
}

#[test]
fn dmarc_rewritten_from_matches_by_name() {
    let mut p = signed(
        "محمد علي via linux-foo <linux-foo@lists.example.org>",
        "محمد علي <mohamed@example.eg>",
    );
    p.headers
        .push("List-Post: <mailto:linux-foo@lists.example.org>".to_string());
    let (s, kinds, summary) = status(&p);
    assert_eq!(s, Status::Pass, "{kinds:?} {summary}");
}

#[test]
fn malformed_sign_offs() {
    let cases = [
        ("Signed-of-by: A Person <ap@example.org>", "malformed"),
        ("Signed-off-by A Person <ap@example.org>", "malformed"),
        ("Signed off by: A Person <ap@example.org>", "malformed"),
        ("Signed-off-by: A Person", "malformed"),
    ];
    for (line, kind) in cases {
        let p = signed("A Person <ap@example.org>", "placeholder");
        let mut p = p;
        p.message = format!("Walk fewer entries when no flag is set.\n\n{line}\n");
        let (s, kinds, _) = status(&p);
        assert_eq!(s, Status::Fail, "{line}");
        assert!(kinds.contains(&kind.to_string()), "{line}: {kinds:?}");
    }
    // Lower case works for git but is reported.
    let mut p = Patch::good("A Person <ap@example.org>");
    p.message = "Walk fewer entries.\n\nsigned-off-by: A Person <ap@example.org>\n".into();
    let (s, kinds, _) = status(&p);
    assert_eq!((s, kinds), (Status::Pass, vec!["trailer-case".to_string()]));
}

#[test]
fn no_sign_off_duplicates_and_co_developers() {
    let mut p = Patch::good("A Person <ap@example.org>");
    p.message = "Walk fewer entries.\n".into();
    let (s, kinds, _) = status(&p);
    assert_eq!((s, kinds), (Status::Fail, vec!["missing".to_string()]));

    p.message = "Walk fewer entries.\n\nSigned-off-by: A Person <ap@example.org>\nSigned-off-by: A Person <ap@example.org>\n".into();
    let (s, kinds, _) = status(&p);
    assert_eq!((s, kinds), (Status::Pass, vec!["duplicate".to_string()]));

    p.message = "Walk fewer entries.\n\nCo-developed-by: Second Dev <dev2@example.org>\nSigned-off-by: A Person <ap@example.org>\n".into();
    let (s, kinds, _) = status(&p);
    assert_eq!(
        (s, kinds),
        (Status::Fail, vec!["co-developed-by".to_string()])
    );

    p.message = "Walk fewer entries.\n\nCo-developed-by: Second Dev <dev2@example.org>\nSigned-off-by: Second Dev <dev2@example.org>\nSigned-off-by: A Person <ap@example.org>\n".into();
    let (s, kinds, _) = status(&p);
    assert_eq!((s, kinds), (Status::Pass, vec![]));

    // A sign-off in the middle of the message is not a trailer.
    p.message =
        "Walk fewer entries.\n\nSigned-off-by: A Person <ap@example.org>\n\nMore words after it.\n"
            .into();
    let (s, kinds, _) = status(&p);
    assert_eq!(s, Status::Pass);
    assert!(kinds.contains(&"not-in-trailers".to_string()), "{kinds:?}");
}
