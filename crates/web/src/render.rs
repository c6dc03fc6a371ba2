//! The templates (embedded in the binary) and their filters.
//!
//! Templates are named `*.html`, which turns minijinja's auto-escaping on for every value they
//! print; nothing is marked safe.

use axum::response::Html;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::{Error, Result, Shared};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("list.html", include_str!("../templates/list.html")),
    (
        "submission.html",
        include_str!("../templates/submission.html"),
    ),
    ("log.html", include_str!("../templates/log.html")),
    ("status.html", include_str!("../templates/status.html")),
    ("error.html", include_str!("../templates/error.html")),
];

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `3 min ago`, from a Unix time.
pub(crate) fn age(at: i64, now: i64) -> String {
    let s = (now - at).max(0);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// `850 ms`, `12.3 s`, `4 min 5 s`.
pub(crate) fn duration(ms: i64) -> String {
    match ms {
        ..1000 => format!("{} ms", ms.max(0)),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// `1.5 MB`.
pub(crate) fn size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} kB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.1} GB", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// A UTC date: `2026-10-01 10:00 UTC`.
pub(crate) fn date(at: i64) -> String {
    // `2026-10-01T10:00:00`
    let iso = gauntlet_mail::date::format_utc(at);
    match (iso.get(..10), iso.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => iso,
    }
}

/// The templates, parsed once.
pub(crate) static ENV: std::sync::LazyLock<Environment<'static>> =
    std::sync::LazyLock::new(environment);

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, text) in TEMPLATES {
        if let Err(e) = env.add_template(name, text) {
            // A template that does not parse is a bug caught by the tests; the page that
            // uses it answers 500.
            tracing::error!("template {name}: {e}");
        }
    }
    env.add_filter("age", |at: i64| age(at, now()));
    env.add_filter("duration", duration);
    env.add_filter("size", size);
    env.add_filter("date", date);
    env
}

/// Renders template `name` with `context` (as `page`) under the site's `title`.
pub(crate) fn render(title: &str, name: &str, context: impl Serialize) -> Result<Html<String>> {
    let err = |source| Error::Template {
        name: name.to_owned(),
        source,
    };
    let template = ENV.get_template(name).map_err(err)?;
    let ctx = minijinja::context! {
        site => title,
        page => minijinja::Value::from(minijinja::value::Serde(&context)),
    };
    template.render(ctx).map(Html).map_err(err)
}

/// Renders template `name` with `context` for the site.
pub(crate) fn page(shared: &Shared, name: &str, context: impl Serialize) -> Result<Html<String>> {
    render(&shared.title, name, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_for_times_and_sizes() {
        assert_eq!(age(100, 130), "30 s ago");
        assert_eq!(age(0, 7200), "2 h ago");
        assert_eq!(age(0, 3 * 86_400), "3 days ago");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_345), "12.3 s");
        assert_eq!(duration(245_000), "4 min 5 s");
        assert_eq!(size(2048), "2.0 kB");
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_790_848_800), "2026-10-01 10:00 UTC");
    }

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            env.add_template(name, text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
