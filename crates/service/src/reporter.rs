//! Telling the world, exactly once: a run's report mail, its Patchwork checks and the
//! Patchwork states of its patches.
//!
//! Every delivery goes through the store's ledger under a key naming the fact ("the mail of run
//! 12", "check `gauntlet` = fail on Patchwork patch 4077 for run 12"): intent recorded, then
//! sent, then marked sent. A delivery found `intended` again (the process died while sending)
//! is resolved before anything is sent again: a check by reading the patch's checks on
//! Patchwork, a state by reading the patch's state; a mail cannot be asked about, so it is
//! never sent again and the ledger says so (`failed`, "interrupted while sending") — a
//! student gets one mail or, after a crash at the worst instant, possibly none, never two.
//! Deliveries that failed for a temporary reason are retried by [`Reporter::retry_pending`].

use std::path::PathBuf;
use std::sync::Arc;

use gauntlet_patchwork::{CheckState, Client, NewCheck};
use gauntlet_pipeline::{ENVELOPE, Envelope};
use gauntlet_project::{MailPolicy, Project};
use gauntlet_report::Mailer;
use gauntlet_store::{
    Delivery, DeliveryKind, DeliveryState, Id, NewPatchState, PatchState, RunDetail, SetBy,
    StateChange, Store, delivery_key, unix_now,
};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The context of gauntlet's checks on Patchwork.
pub const CHECK_CONTEXT: &str = "gauntlet";

/// Deliveries retried at most this often.
const MAX_ATTEMPTS: u32 = 5;

/// A Patchwork instance gauntlet reports to.
#[derive(Clone)]
pub struct PatchworkTarget {
    /// The source's name (the ledger's payloads name it).
    pub name: String,
    pub client: Arc<Client>,
    /// The Patchwork project's `link_name`.
    pub project: String,
}

/// What is needed to send a mail again.
#[derive(Debug, Serialize, Deserialize)]
struct MailPayload {
    run: Id,
    from: String,
    to: Vec<String>,
}

/// What is needed to post a check again.
#[derive(Debug, Serialize, Deserialize)]
struct CheckPayload {
    source: String,
    patch: u64,
    check: NewCheck,
}

/// What is needed to set a state again.
#[derive(Debug, Serialize, Deserialize)]
struct StatePayload {
    source: String,
    patch: u64,
    state: String,
}

/// Sends what runs found.
pub struct Reporter {
    store: Store,
    artifacts_dir: PathBuf,
    projects: Arc<Vec<Project>>,
    mailer: Option<Mailer>,
    patchwork: Vec<PatchworkTarget>,
    public_url: Option<String>,
}

fn payload<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

impl Reporter {
    pub fn new(
        store: Store,
        artifacts_dir: PathBuf,
        projects: Arc<Vec<Project>>,
        mailer: Option<Mailer>,
        patchwork: Vec<PatchworkTarget>,
        public_url: Option<String>,
    ) -> Reporter {
        Reporter {
            store,
            artifacts_dir,
            projects,
            mailer,
            patchwork,
            public_url,
        }
    }

    /// Reports run `run`, which has ended with a verdict.
    pub async fn report_run(&self, run: Id) -> Result<(), Error> {
        let Some(detail) = self.store.run_detail(run).await? else {
            return Ok(());
        };
        let Some(verdict) = detail.run.verdict.clone() else {
            return Ok(());
        };
        let Some(project) = self.projects.iter().find(|p| p.name == detail.run.project) else {
            tracing::warn!(run, project = %detail.run.project, "not reported: no such project here");
            return Ok(());
        };
        if let Err(e) = self.mail(&detail, project).await {
            tracing::warn!(run, "report mail: {e}");
        }
        if let Err(e) = self.patchwork(&detail, project, &verdict).await {
            tracing::warn!(run, "Patchwork: {e}");
        }
        Ok(())
    }

    /// Whether the project's policy wants a mail for this run.
    async fn wanted(&self, detail: &RunDetail, project: &Project, verdict: &str) -> bool {
        let settings = &project.report.mail;
        if !settings.enabled {
            return false;
        }
        match settings.policy {
            MailPolicy::Always => true,
            MailPolicy::Failure => verdict != "accepted",
            MailPolicy::Change => self.previous_verdict(detail).await.as_deref() != Some(verdict),
        }
    }

    /// The verdict of the newest finished run of the previous revision.
    async fn previous_verdict(&self, detail: &RunDetail) -> Option<String> {
        let series = self.store.series_detail(detail.run.series).await.ok()??;
        let previous = series
            .revisions
            .iter()
            .find(|r| r.revision + 1 == series.summary.revision)?;
        let runs = self.store.runs_of_series(previous.id).await.ok()?;
        runs.into_iter()
            .filter(|r| r.project == detail.run.project)
            .find_map(|r| r.verdict)
    }

    async fn mail(&self, detail: &RunDetail, project: &Project) -> Result<(), Error> {
        let Some(mailer) = &self.mailer else {
            return Ok(());
        };
        let run = detail.run.id;
        let dir = self.artifacts_dir.join("runs").join(run.to_string());
        let envelope: Envelope = match std::fs::read(dir.join(ENVELOPE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(e) => e,
            None => return Ok(()),
        };
        if envelope.to.is_empty() || !self.wanted(detail, project, &envelope.verdict).await {
            return Ok(());
        }
        let key = delivery_key(DeliveryKind::Mail, &["run", &run.to_string()]);
        let body = MailPayload {
            run,
            from: envelope.from.clone(),
            to: envelope.to.clone(),
        };
        let (delivery, new) = self
            .store
            .intend(
                &key,
                DeliveryKind::Mail,
                &envelope.to.join(", "),
                &payload(&body),
                unix_now(),
            )
            .await?;
        if !new {
            return self.resume(mailer, &delivery).await;
        }
        self.send_mail(mailer, &delivery, &body).await
    }

    async fn send_mail(
        &self,
        mailer: &Mailer,
        delivery: &Delivery,
        body: &MailPayload,
    ) -> Result<(), Error> {
        let file = self
            .artifacts_dir
            .join("runs")
            .join(body.run.to_string())
            .join("report.eml");
        let bytes = std::fs::read(&file).map_err(|e| Error::Io {
            context: format!("reading {}", file.display()),
            source: e,
        })?;
        let envelope =
            gauntlet_report::envelope(Some(&body.from), body.to.iter().map(String::as_str))
                .map_err(|e| Error::Report(e.to_string()))?;
        match mailer.send_raw(&envelope, &bytes).await {
            Ok(_) => {
                self.store.mark_sent(delivery.id, unix_now()).await?;
                tracing::info!(run = body.run, to = %delivery.target, "report mailed");
            }
            Err(e) => {
                let why = if e.is_temporary() {
                    format!("temporary: {e}")
                } else {
                    format!("permanent: {e}")
                };
                self.store.mark_failed(delivery.id, &why).await?;
                if !e.is_temporary() {
                    // Never retried: give it the last attempt's count.
                    for _ in 1..MAX_ATTEMPTS {
                        self.store.mark_failed(delivery.id, &why).await?;
                    }
                }
                tracing::warn!(run = body.run, "report mail not sent: {why}");
            }
        }
        Ok(())
    }

    /// A delivery recorded before: done, to retry, or of unknown fate.
    async fn resume(&self, mailer: &Mailer, delivery: &Delivery) -> Result<(), Error> {
        match delivery.state {
            DeliveryState::Sent => Ok(()),
            DeliveryState::Intended => {
                // Sent or not: nobody knows. Never twice.
                self.store
                    .mark_failed(
                        delivery.id,
                        "interrupted while sending: not sent again (a mail is never sent twice)",
                    )
                    .await?;
                for _ in 1..MAX_ATTEMPTS {
                    self.store
                        .mark_failed(delivery.id, "interrupted while sending")
                        .await?;
                }
                tracing::warn!(key = %delivery.key, "a report mail's sending was interrupted: not sent again");
                Ok(())
            }
            DeliveryState::Failed => {
                if delivery.attempts >= i64::from(MAX_ATTEMPTS) {
                    return Ok(());
                }
                let body: MailPayload = serde_json::from_str(&delivery.payload)
                    .map_err(|e| Error::Report(format!("delivery {}: {e}", delivery.key)))?;
                self.send_mail(mailer, delivery, &body).await
            }
        }
    }

    async fn patchwork(
        &self,
        detail: &RunDetail,
        project: &Project,
        verdict: &str,
    ) -> Result<(), Error> {
        if self.patchwork.is_empty() {
            return Ok(());
        }
        let Some(series) = self.store.series_detail(detail.run.series).await? else {
            return Ok(());
        };
        let run = detail.run.id;
        let state = match verdict {
            "accepted" => CheckState::Success,
            "rejected" => CheckState::Fail,
            _ => CheckState::Warning,
        };
        let description: String = detail
            .run
            .reason
            .clone()
            .unwrap_or_else(|| verdict.to_owned())
            .chars()
            .take(200)
            .collect();
        let target_url = self
            .public_url
            .as_ref()
            .map(|u| format!("{}/runs/{run}", u.trim_end_matches('/')));
        let settings = &project.report.patchwork;
        let patches: Vec<&str> = match settings.checks_on {
            gauntlet_project::ChecksOn::EveryPatch => {
                series.patches.iter().map(|p| p.msgid.as_str()).collect()
            }
            gauntlet_project::ChecksOn::LastPatch => series
                .patches
                .last()
                .map(|p| vec![p.msgid.as_str()])
                .unwrap_or_default(),
        };
        let new_state = match verdict {
            "accepted" => settings.accepted_state.clone(),
            "rejected" => settings.rejected_state.clone(),
            _ => None,
        };
        for target in &self.patchwork {
            for msgid in &patches {
                let Some(patch) = target.client.patch_by_msgid(&target.project, msgid).await?
                else {
                    continue;
                };
                let check = NewCheck {
                    state,
                    context: CHECK_CONTEXT.to_owned(),
                    target_url: target_url.clone(),
                    description: Some(description.clone()),
                };
                self.post_check(target, patch.id, run, check).await?;
            }
            // The patches' states, unless a person set them.
            if let Some(slug) = &new_state {
                for p in &series.patches {
                    let Some(patch) = target
                        .client
                        .patch_by_msgid(&target.project, &p.msgid)
                        .await?
                    else {
                        continue;
                    };
                    self.set_state(target, detail, &p.msgid, patch.id, slug)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The ledger's row for telling `body` to Patchwork patch `patch` under `key`.
    async fn intend_on_patch<T: Serialize>(
        &self,
        target: &PatchworkTarget,
        patch: u64,
        kind: DeliveryKind,
        key: &str,
        body: &T,
    ) -> Result<Delivery, Error> {
        let target = format!("{}/patches/{patch}", target.client.server());
        let (delivery, _) = self
            .store
            .intend(key, kind, &target, &payload(body), unix_now())
            .await?;
        Ok(delivery)
    }

    /// Posts `check` on `patch` once per (run, context, state).
    async fn post_check(
        &self,
        target: &PatchworkTarget,
        patch: u64,
        run: Id,
        check: NewCheck,
    ) -> Result<(), Error> {
        let key = delivery_key(
            DeliveryKind::Check,
            &[
                &target.name,
                &patch.to_string(),
                &check.context,
                &run.to_string(),
                check.state.as_str(),
            ],
        );
        let body = CheckPayload {
            source: target.name.clone(),
            patch,
            check,
        };
        let delivery = self
            .intend_on_patch(target, patch, DeliveryKind::Check, &key, &body)
            .await?;
        self.deliver_check(target, &delivery, &body).await
    }

    /// A stage's own check on the series' patches: pending when its job starts (`end` none),
    /// its result when it ends. The checks stage says per patch what it found in that patch.
    pub async fn stage_check(
        &self,
        run: Id,
        stage: &str,
        name: &str,
        end: Option<&gauntlet_store::JobEnd>,
    ) -> Result<(), Error> {
        if self.patchwork.is_empty() || stage == "report" {
            return Ok(());
        }
        let Some(detail) = self.store.run_detail(run).await? else {
            return Ok(());
        };
        let Some(series) = self.store.series_detail(detail.run.series).await? else {
            return Ok(());
        };
        let context = if stage == name {
            format!("{CHECK_CONTEXT}-{stage}")
        } else {
            gauntlet_patchwork::context_slug(&format!("{CHECK_CONTEXT}-{stage}-{name}"))
        };
        let target_url = self
            .public_url
            .as_ref()
            .map(|u| format!("{}/runs/{run}", u.trim_end_matches('/')));
        let findings = match (stage, end) {
            ("checks", Some(_)) => detail.findings.iter().map(|(_, f)| f.clone()).collect(),
            _ => Vec::new(),
        };
        for target in &self.patchwork {
            for p in &series.patches {
                let Some(patch) = target
                    .client
                    .patch_by_msgid(&target.project, &p.msgid)
                    .await?
                else {
                    continue;
                };
                let (state, description) = match end {
                    None => (CheckState::Pending, format!("{stage} {name}: running")),
                    Some(end) if stage == "checks" => {
                        // This patch's own findings.
                        let mine: Vec<_> = findings
                            .iter()
                            .filter(|f| f.msgid.as_deref() == Some(p.msgid.as_str()))
                            .collect();
                        let worst = if mine.iter().any(|f| f.severity == "error") {
                            CheckState::Fail
                        } else if mine.iter().any(|f| f.severity == "warning")
                            || end.status == "ERROR"
                        {
                            CheckState::Warning
                        } else {
                            CheckState::Success
                        };
                        let text = match mine.first() {
                            Some(f) => {
                                format!("{} finding(s): {}: {}", mine.len(), f.check, f.message)
                            }
                            None => "no finding in this patch".to_owned(),
                        };
                        (worst, text)
                    }
                    Some(end) => (
                        match end.status.as_str() {
                            "PASS" | "DONE" => CheckState::Success,
                            "FAIL" => CheckState::Fail,
                            _ => CheckState::Warning,
                        },
                        format!("{} {}", end.status, end.reason.clone().unwrap_or_default()),
                    ),
                };
                let check = NewCheck {
                    state,
                    context: context.clone(),
                    target_url: target_url.clone(),
                    description: Some(description.chars().take(200).collect()),
                };
                self.post_check(target, patch.id, run, check).await?;
            }
        }
        Ok(())
    }

    async fn deliver_check(
        &self,
        target: &PatchworkTarget,
        delivery: &Delivery,
        body: &CheckPayload,
    ) -> Result<(), Error> {
        match delivery.state {
            DeliveryState::Sent => return Ok(()),
            DeliveryState::Failed if delivery.attempts >= i64::from(MAX_ATTEMPTS) => {
                return Ok(());
            }
            DeliveryState::Intended | DeliveryState::Failed => {}
        }
        // An intent that may have reached Patchwork: look before posting again.
        if delivery.state == DeliveryState::Intended && delivery.attempts == 0 {
            let existing = target.client.checks(body.patch).await?;
            if existing.iter().any(|c| {
                c.context == body.check.context
                    && c.state == body.check.state
                    && c.target_url == body.check.target_url
                    && c.description == body.check.description
            }) {
                self.store.mark_sent(delivery.id, unix_now()).await?;
                return Ok(());
            }
        }
        match target.client.post_check(body.patch, &body.check).await {
            Ok(_) => {
                self.store.mark_sent(delivery.id, unix_now()).await?;
            }
            Err(e) => {
                self.store.mark_failed(delivery.id, &e.to_string()).await?;
                tracing::warn!(patch = body.patch, "check not posted: {e}");
            }
        }
        Ok(())
    }

    async fn set_state(
        &self,
        target: &PatchworkTarget,
        detail: &RunDetail,
        msgid: &str,
        patch: u64,
        slug: &str,
    ) -> Result<(), Error> {
        let Some(state) = PatchState::parse(slug) else {
            return Err(Error::Report(format!("{slug:?} is not a patch state")));
        };
        let change = NewPatchState {
            patch: msgid.to_owned(),
            series: detail.run.series,
            revision: detail.run.revision,
            project: detail.run.project.clone(),
            state,
            set_by: SetBy::Gauntlet,
            reason: detail.run.reason.clone(),
        };
        self.change_state(target, &change, patch, &detail.run.id.to_string())
            .await
    }

    /// Records `change` (gauntlet's) and makes Patchwork agree, once per `why` (a run, or the
    /// series that superseded this one); never over a person's change.
    async fn change_state(
        &self,
        target: &PatchworkTarget,
        change: &NewPatchState,
        patch: u64,
        why: &str,
    ) -> Result<(), Error> {
        let msgid = change.patch.as_str();
        let state = change.state;
        let slug = state.slug();
        match self.store.set_patch_state(change, unix_now()).await? {
            StateChange::RefusedHuman { by, state } => {
                tracing::info!(msgid, %by, %state, "state left alone: a person set it");
                return Ok(());
            }
            StateChange::Unchanged | StateChange::Recorded(_) => {}
        }
        let key = delivery_key(
            DeliveryKind::State,
            &[&target.name, &patch.to_string(), why, slug],
        );
        let body = StatePayload {
            source: target.name.clone(),
            patch,
            state: state.slug().to_owned(),
        };
        let delivery = self
            .intend_on_patch(target, patch, DeliveryKind::State, &key, &body)
            .await?;
        if delivery.state == DeliveryState::Sent {
            return Ok(());
        }
        // Setting a state twice is harmless, but a person may have changed it meanwhile.
        let current = target.client.patch(patch).await?;
        if current.state == body.state {
            self.store.mark_sent(delivery.id, unix_now()).await?;
            return Ok(());
        }
        match target.client.set_patch_state(patch, &body.state).await {
            Ok(_) => {
                self.store.mark_sent(delivery.id, unix_now()).await?;
            }
            Err(e) => {
                self.store.mark_failed(delivery.id, &e.to_string()).await?;
            }
        }
        Ok(())
    }

    /// The patches of an older revision are Superseded, in the store and on Patchwork
    /// (unless a person set their state).
    pub async fn supersede(
        &self,
        older: &gauntlet_store::SeriesDetail,
        project: &str,
        newer: Id,
    ) -> Result<(), Error> {
        let reason = format!("superseded by series {newer}");
        for p in &older.patches {
            let change = NewPatchState {
                patch: p.msgid.clone(),
                series: older.summary.id,
                revision: older.summary.revision,
                project: project.to_owned(),
                state: PatchState::Superseded,
                set_by: SetBy::Gauntlet,
                reason: Some(reason.clone()),
            };
            if self.patchwork.is_empty() {
                if let StateChange::RefusedHuman { by, .. } =
                    self.store.set_patch_state(&change, unix_now()).await?
                {
                    tracing::info!(msgid = %p.msgid, %by, "not marked superseded: a person set its state");
                }
                continue;
            }
            for target in &self.patchwork {
                let Some(patch) = target
                    .client
                    .patch_by_msgid(&target.project, &p.msgid)
                    .await?
                else {
                    continue;
                };
                self.change_state(target, &change, patch.id, &format!("by-{newer}"))
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends again what failed for a temporary reason, and resolves what a crash left
    /// `intended` (see the module documentation).
    pub async fn retry_pending(&self) -> Result<usize, Error> {
        let pending = self.store.pending_deliveries(MAX_ATTEMPTS).await?;
        let mut done = 0;
        for delivery in pending {
            match delivery.kind {
                DeliveryKind::Mail => {
                    if let Some(mailer) = &self.mailer {
                        self.resume(mailer, &delivery).await?;
                        done += 1;
                    }
                }
                DeliveryKind::Check => {
                    let Ok(body) = serde_json::from_str::<CheckPayload>(&delivery.payload) else {
                        continue;
                    };
                    if let Some(target) = self.patchwork.iter().find(|t| t.name == body.source) {
                        self.deliver_check(target, &delivery, &body).await?;
                        done += 1;
                    }
                }
                _ => {}
            }
        }
        Ok(done)
    }
}
