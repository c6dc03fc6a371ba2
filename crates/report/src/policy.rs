//! When a report is mailed, and to whom (issue 7's mail policy).
//!
//! A course wants every student told every time; a busy list wants to hear only about failures,
//! or only when something changed since the previous revision (the v3 that fixes v2's build
//! failure is news, a v4 that passes like v3 did is not). The decision is a pure function of the
//! policy and the verdicts so that the service, `gauntlet test` and the tests agree on it.

use serde::Deserialize;

use crate::{Addressee, Verdict};

/// Which results are mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailPolicy {
    /// Every result (the course's habit). `always` is accepted as another name.
    #[default]
    #[serde(alias = "always")]
    Every,
    /// Only a submission that was rejected or could not be tested: the submitter has something
    /// to do or to know; an accepted one is left to the human reviewers.
    Failure,
    /// Only when the verdict differs from the previous revision's, or there is none (a first
    /// revision, or a previous one that never got a verdict): the submitter hears about what
    /// changed, not the same news again.
    Change,
}

/// Whether a result with `verdict` is mailed under `policy`, given the verdict of the previous
/// revision of the same series, when it had one.
///
/// An `Error` verdict (the infrastructure failed) counts as a failure for [`MailPolicy::Failure`]
/// — the submitter is told that the series could not be tested, never that it is at fault — and
/// as a verdict like any other for [`MailPolicy::Change`].
pub fn should_mail(policy: MailPolicy, verdict: Verdict, previous: Option<Verdict>) -> bool {
    match policy {
        MailPolicy::Every => true,
        MailPolicy::Failure => verdict != Verdict::Accepted,
        MailPolicy::Change => previous != Some(verdict),
    }
}

/// A project's mail settings: the policy and the recipients.
///
/// In YAML (every key optional, unknown keys rejected):
///
/// ```yaml
/// policy: failure          # every (default) | failure | change
/// to_submitter: true       # default true
/// cc: [ta@example.org]     # always Cc'd; default none
/// cc_list: false           # Cc the list the series was posted to; default false
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub policy: MailPolicy,
    /// The reply goes to the submitter. When it does not, the `cc` addresses (or the list) are
    /// its recipients instead: a mail needs someone in `To:`.
    pub to_submitter: bool,
    /// Addresses Cc'd on every report (a teaching assistant, a maintainer).
    pub cc: Vec<String>,
    /// Cc the list the series was posted to (its `List-Post` address), so that reviewers on the
    /// list see the result in the thread.
    pub cc_list: bool,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            policy: MailPolicy::Every,
            to_submitter: true,
            cc: Vec::new(),
            cc_list: false,
        }
    }
}

/// Who a report mail goes to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipients {
    pub to: Vec<Addressee>,
    pub cc: Vec<Addressee>,
}

impl MailConfig {
    /// [`should_mail`] under this configuration's policy.
    pub fn should_mail(&self, verdict: Verdict, previous: Option<Verdict>) -> bool {
        should_mail(self.policy, verdict, previous)
    }

    /// The recipients of a report on a series by `submitter`, posted to `list` (when known).
    ///
    /// Every address appears once (compared without regard to case), `To:` first; `None` when
    /// nobody is to be mailed (no submitter wanted, no Cc, no list).
    pub fn recipients(&self, submitter: &Addressee, list: Option<&str>) -> Option<Recipients> {
        let mut to: Vec<Addressee> = Vec::new();
        let mut cc: Vec<Addressee> = Vec::new();
        let seen = |to: &[Addressee], cc: &[Addressee], email: &str| {
            to.iter()
                .chain(cc)
                .any(|a| a.email.eq_ignore_ascii_case(email.trim()))
        };
        if self.to_submitter && !submitter.email.trim().is_empty() {
            to.push(submitter.clone());
        }
        for address in self
            .cc
            .iter()
            .map(String::as_str)
            .chain(list.filter(|_| self.cc_list))
        {
            let address = address.trim();
            if !address.is_empty() && !seen(&to, &cc, address) {
                cc.push(Addressee::new(None, address));
            }
        }
        if to.is_empty() {
            std::mem::swap(&mut to, &mut cc);
        }
        (!to.is_empty()).then_some(Recipients { to, cc })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_once_each_and_someone_in_to() {
        let ivan = Addressee::new(Some("Ivan"), "ivan@example.org");
        let config = MailConfig {
            cc: vec!["ta@example.org".into(), "IVAN@example.org".into()],
            cc_list: true,
            ..MailConfig::default()
        };
        let r = config
            .recipients(&ivan, Some("TA@example.org"))
            .unwrap_or_default();
        assert_eq!(r.to, vec![ivan.clone()]);
        assert_eq!(r.cc, vec![Addressee::new(None, "ta@example.org")]);

        let list_only = MailConfig {
            to_submitter: false,
            cc_list: true,
            ..MailConfig::default()
        };
        let r = list_only
            .recipients(&ivan, Some("course@lists.example.org"))
            .unwrap_or_default();
        assert_eq!(r.to, vec![Addressee::new(None, "course@lists.example.org")]);
        assert!(r.cc.is_empty());
        assert_eq!(list_only.recipients(&ivan, None), None);
    }
}
