//! `series`: the posting is whole: every `x/n` from 1 to n once, one `n`, one version, a cover
//! letter when there are several patches (and not the unedited `git format-patch` template).

use std::collections::BTreeMap;

use gauntlet_verdict::Severity;

use super::plural;
use crate::finding::{Finding, Raw};
use crate::input::Input;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::{Check, CheckInfo, FindingType, Ran, RunContext, Scope};

const TYPES: &[FindingType] = &[
    FindingType {
        name: "missing-patch",
        severity: Severity::Error,
        help: "a number from 1 to n has no patch",
    },
    FindingType {
        name: "duplicate-number",
        severity: Severity::Error,
        help: "two patches with the same number",
    },
    FindingType {
        name: "out-of-range",
        severity: Severity::Error,
        help: "a patch numbered above n",
    },
    FindingType {
        name: "inconsistent-total",
        severity: Severity::Error,
        help: "patches disagree on n",
    },
    FindingType {
        name: "unnumbered",
        severity: Severity::Error,
        help: "several patches without x/n numbers",
    },
    FindingType {
        name: "no-cover-letter",
        severity: Severity::Error,
        help: "no 0/n cover letter for a series of several patches",
    },
    FindingType {
        name: "cover-template",
        severity: Severity::Error,
        help: "the cover letter is git format-patch's unedited template",
    },
    FindingType {
        name: "mixed-versions",
        severity: Severity::Error,
        help: "mails of several versions in one series",
    },
    FindingType {
        name: "too-many-patches",
        severity: Severity::Warning,
        help: "more patches than max-patches",
    },
];

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "cover-letter-from",
        kind: OptionKind::Int {
            min: 0,
            max: 10_000,
        },
        default: "2",
        help: "a series of this many patches or more needs a cover letter (0: never)",
    },
    OptionSpec {
        name: "max-patches",
        kind: OptionKind::Int {
            min: 0,
            max: 100_000,
        },
        default: "0",
        help: "warn above this many patches (0: no limit)",
    },
];

pub static INFO: CheckInfo = CheckInfo {
    name: "series",
    scope: Scope::Series,
    summary: "all of 1/n … n/n once, one version, a cover letter when n > 1",
    options: OPTIONS,
    types: TYPES,
    external: false,
};

struct SeriesCheck {
    cover_from: usize,
    max_patches: usize,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(SeriesCheck {
        cover_from: options.count("cover-letter-from", 2),
        max_patches: options.count("max-patches", 0),
    })
}

/// `1, 2, 4 and 7`, at most 20 of them.
fn list(numbers: &[u32]) -> String {
    let shown: Vec<String> = numbers.iter().take(20).map(u32::to_string).collect();
    let more = numbers.len().saturating_sub(shown.len());
    let mut text = match shown.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    if more > 0 {
        text.push_str(&format!(" (and {more} more)"));
    }
    text
}

impl Check for SeriesCheck {
    fn run(&self, input: &Input<'_>, _rc: &RunContext<'_>) -> Ran {
        Ran::Series(self.check(input))
    }
}

impl SeriesCheck {
    fn check(&self, input: &Input<'_>) -> Raw {
        let series = input.series;
        let patches = &series.patches;
        if patches.is_empty() {
            return Raw::skipped("no patches");
        }
        let mut findings = Vec::new();
        let subject_of = |mail: &gauntlet_mail::Mail| mail.subject.clone().unwrap_or_default();

        // n, as each mail says it.
        let mut totals: BTreeMap<u32, usize> = BTreeMap::new();
        for p in patches {
            if let Some((_, n)) = p.mail.marker {
                *totals.entry(n).or_default() += 1;
            }
        }
        if totals.len() > 1 {
            let says: Vec<String> = totals
                .iter()
                .map(|(n, count)| format!("{} of {n}", plural(*count, "patch")))
                .collect();
            findings.push(Finding::error(
                "inconsistent-total",
                format!("the patches disagree on their number: {}", says.join(", ")),
            ));
        }
        let total = series.total;
        let numbered: Vec<u32> = patches.iter().filter_map(|p| p.number).collect();
        let unnumbered = patches.len() - numbered.len();
        if unnumbered > 0 && patches.len() > 1 {
            findings.push(Finding::error(
                "unnumbered",
                format!(
                    "{} of {} have no x/n number: the order they apply in is a guess",
                    plural(unnumbered, "patch"),
                    patches.len()
                ),
            ));
        }
        if let Some(total) = total {
            let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
            for n in &numbered {
                *counts.entry(*n).or_default() += 1;
            }
            let missing: Vec<u32> = (1..=total.min(100_000))
                .filter(|n| !counts.contains_key(n))
                .collect();
            if !missing.is_empty() {
                let received = counts.keys().filter(|n| (1..=total).contains(*n)).count();
                let count = usize::try_from(total).unwrap_or(usize::MAX) - received;
                findings.push(Finding::error(
                    "missing-patch",
                    format!(
                        "{} of {total} missing: {} (not received, or sent outside the thread)",
                        plural(count, "patch"),
                        list(&missing)
                    ),
                ));
            }
            for (n, count) in &counts {
                if *count > 1 {
                    findings.push(Finding::error(
                        "duplicate-number",
                        format!("{count} patches are numbered {n}/{total}"),
                    ));
                }
            }
            let beyond: Vec<u32> = counts.keys().copied().filter(|n| *n > total).collect();
            if !beyond.is_empty() {
                findings.push(Finding::error(
                    "out-of-range",
                    format!("patches numbered above {total}: {}", list(&beyond)),
                ));
            }
        }

        // The cover letter.
        let size = usize::try_from(total.unwrap_or(0))
            .unwrap_or(usize::MAX)
            .max(patches.len());
        match series.cover {
            None if self.cover_from > 0 && size >= self.cover_from => {
                findings.push(Finding::error(
                    "no-cover-letter",
                    format!(
                        "a series of {size} patches needs a cover letter (0/{size}) that says what it does as a whole: git format-patch --cover-letter"
                    ),
                ));
            }
            Some(cover) => {
                let subject = subject_of(cover);
                let body = &cover.content.message;
                if subject.contains("*** SUBJECT HERE ***") || body.contains("*** BLURB HERE ***") {
                    findings.push(
                        Finding::error(
                            "cover-template",
                            "the cover letter is git format-patch's template: fill in *** SUBJECT HERE *** and *** BLURB HERE ***",
                        )
                        .quoting(subject.as_bytes()),
                    );
                }
            }
            None => {}
        }

        // One version.
        let mut versions: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        if let Some(cover) = series.cover {
            versions.entry(cover.version).or_default().push("0".into());
        }
        for (i, p) in patches.iter().enumerate() {
            let number = p
                .number
                .map_or_else(|| format!("#{}", i + 1), |n| n.to_string());
            versions.entry(p.mail.version).or_default().push(number);
        }
        if versions.len() > 1 {
            let parts: Vec<String> = versions
                .iter()
                .map(|(v, which)| format!("v{v} ({})", which.join(", ")))
                .collect();
            findings.push(Finding::error(
                "mixed-versions",
                format!("mails of several versions: {}", parts.join(", ")),
            ));
        }
        if self.max_patches > 0 && patches.len() > self.max_patches {
            findings.push(Finding::warning(
                "too-many-patches",
                format!(
                    "{} patches: more than {}; split the series",
                    patches.len(),
                    self.max_patches
                ),
            ));
        }
        let cover = if series.cover.is_some() {
            ", cover letter"
        } else {
            ""
        };
        let of = total.map_or_else(String::new, |n| format!(" of {n}"));
        Raw::ran(
            format!(
                "{}{of}{cover}, v{}",
                plural(patches.len(), "patch"),
                series.version
            ),
            findings,
        )
    }
}
