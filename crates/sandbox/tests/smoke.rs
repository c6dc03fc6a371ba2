#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;
use std::time::Duration;

#[tokio::test]
async fn echo_everywhere() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let out = run_within(
            Duration::from_secs(10),
            s.sh(&sandbox, "echo hello; echo err >&2; env; pwd; exit 3"),
        )
        .await;
        eprintln!("{name}: {out:?}\n{}", s.log_text());
    }
}
