//! Prints what gauntlet reads from every mail of an mbox, one JSON object per line.
//!
//! `cargo run -p gauntlet-mail --example dump -- FILE [--single]` (`--single`: the file is one
//! mail, not an mbox). Handy to compare with other tools, or to see why a mail grouped as it did.

use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: dump FILE [--single]");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mails: Vec<Vec<u8>> = if args.iter().any(|a| a == "--single") {
        let body = if bytes.starts_with(b"From ") {
            bytes
                .splitn(2, |&b| b == b'\n')
                .nth(1)
                .unwrap_or(&[])
                .to_vec()
        } else {
            bytes
        };
        vec![body]
    } else {
        gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default())
            .into_iter()
            .map(|m| m.bytes)
            .collect()
    };
    for raw in mails {
        let m = gauntlet_mail::parse(&raw, &gauntlet_mail::ParseOptions::default());
        let diff = m.content.diff.as_deref();
        let line = json!({
            "msgid": m.message_id,
            "synth": m.message_id_synthesized,
            "defect": m.defect.map(|d| d.message()),
            "subject": m.subject,
            "name": m.name,
            "prefixes": m.prefixes,
            "reply": m.is_reply,
            "marker": m.marker,
            "version": m.version,
            "refs": m.refs,
            "date": m.date,
            "from": m.submitter.as_ref().map(|p| json!([p.name, p.email])).unwrap_or(json!(null)),
            "diff_len": diff.map(|d| d.chars().count()),
            "diff_first": diff.and_then(|d| d.lines().next()),
            "hash": m.hash,
            "content_len": m.content.message.chars().count(),
            "pull_url": m.pull_url,
            "list_id": m.list_id,
        });
        println!("{line}");
    }
}
