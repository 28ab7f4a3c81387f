//! What a stage of a pass may touch: the engine's client and what the agent knows — its ledger,
//! its holds, its view of the coordinator, the folder as last read — and where it reports. Built
//! by the [`super::Agent`] for one pass; a stage borrows only what it names.
//!
//! Restart mode's stage ([`Restart`]) has its sub-steps in files of their own: deciding and
//! rendering (`apply_restart`), rolling the nodes (`roll`), verifying a start (`verify`) and
//! rolling back (`rollback`).

use super::book::LedgerBook;
use super::engine_view::EngineView;
use super::holds::Holds;
use super::observe::{self, Observer};
use super::record::Outputs;
use super::settings::Settings;
use crate::catalog::CatalogSpec;
use crate::engine::nodes::method::Restarter;
use crate::engine::{Client, EngineError, Live, ServerInfo};
use crate::scan::ScanError;
use crate::sql;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

/// What every stage may touch.
pub(super) struct Stage<'a> {
    pub client: &'a mut Client,
    pub book: &'a mut LedgerBook,
    pub holds: &'a mut Holds,
    pub view: &'a mut EngineView,
    pub observer: &'a mut Observer,
    pub out: &'a Outputs,
}

impl Stage<'_> {
    /// Reads `/v1/info`, learns the flavour, notices coordinator restarts.
    pub async fn engine_info(&mut self) -> Result<ServerInfo, EngineError> {
        let info = match self.client.info().await {
            Ok(info) if info.starting => Err(EngineError::Starting),
            other => other,
        };
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                self.out.engine(self.view.flavour(), None, Some(&e));
                return Err(e);
            }
        };
        let seen = self
            .view
            .observe(&info, crate::clock::now_millis(), Instant::now());
        if seen.flavour_changed {
            self.client.set_flavour(self.view.flavour());
            // Files are read with the engine's rules (connector names): read them again.
            self.observer.forget_folder();
        }
        if let Some(restart) = seen.restart {
            tracing::info!(
                uptime = %info.uptime.as_deref().unwrap_or(""),
                restarted_by_this_agent = restart.by_this_agent,
                "the coordinator restarted; checking its catalogs again"
            );
            // A restart the agent did not make may come with a new configuration: a static
            // coordinator may now be dynamic. (After its own restarts in restart mode, the
            // configuration is the one it learnt.)
            if restart.forgot_static {
                self.book.ledger.engine = None;
                self.book.save();
            }
            // What it refused may be accepted now (an environment variable set, a plugin
            // installed). Definitions that broke a start in restart mode stay held.
            if self.holds.forget_refusals() {
                tracing::info!(
                    "catalogs the coordinator refused before its restart are tried again"
                );
            }
            if !self.book.ledger.refused.is_empty() {
                self.book.ledger.refused.clear();
                self.book.save();
            }
            self.observer.engine_restarted();
        }
        self.out.engine(self.view.flavour(), Some(&info), None);
        if seen.first_answer {
            let stale = self
                .view
                .refused_by_an_earlier_start(&self.book.ledger.refused);
            if !stale.is_empty() {
                for name in &stale {
                    self.book.ledger.refused.remove(name);
                    self.holds.forget_refusal(name);
                }
                tracing::info!(catalogs = ?stale, "the coordinator restarted since it refused these catalogs; trying them again");
                self.book.save();
            }
        }
        Ok(info)
    }

    /// Names the running coordinator lists, or `None` when it cannot be asked.
    pub async fn running_catalogs(&mut self) -> Option<BTreeSet<String>> {
        let info = self.engine_info().await.ok()?;
        if info.starting {
            return None;
        }
        match self.client.execute(sql::SHOW_CATALOGS).await {
            Ok(out) => Some(
                out.rows
                    .iter()
                    .filter_map(|r| r.first()?.as_str().map(str::to_string))
                    .filter(|n| n != crate::plan::SYSTEM_CATALOG)
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the coordinator's catalogs");
                None
            }
        }
    }
}

/// What restart mode remembers between passes.
#[derive(Default)]
pub(super) struct RestartMemory {
    /// The difference between what the coordinator lists and the folder right after a verified
    /// start (a disabled catalog, access control hiding one). Restarting again would not change
    /// it, so it is no reason to restart.
    pub accepted_drift: Option<(BTreeSet<String>, BTreeSet<String>)>,
    /// Whether this process has compared the target files' render times with the coordinator's
    /// start yet.
    pub checked_render_times: bool,
    /// Rollbacks in a row after which the coordinator still did not start.
    pub failed_rollbacks: u32,
}

/// Restart mode's apply stage (PrestoDB, Trino with static catalogs): what it may touch.
pub(super) struct Restart<'a> {
    pub settings: &'a Settings,
    pub client: &'a mut Client,
    pub book: &'a mut LedgerBook,
    pub holds: &'a mut Holds,
    pub view: &'a mut EngineView,
    pub observer: &'a mut Observer,
    pub out: &'a Outputs,
    pub memory: &'a mut RestartMemory,
    /// How the nodes are restarted; `None` for `sync` (render only) and without `--container`
    /// for the Docker method.
    pub restarter: Option<&'a Restarter>,
}

impl Restart<'_> {
    /// The common part, for what every stage does (read `/v1/info`, list the catalogs).
    pub fn stage(&mut self) -> Stage<'_> {
        Stage {
            client: &mut *self.client,
            book: &mut *self.book,
            holds: &mut *self.holds,
            view: &mut *self.view,
            observer: &mut *self.observer,
            out: self.out,
        }
    }

    /// The coordinator's catalog folder.
    pub fn target_dir(&self) -> PathBuf {
        self.settings.target_dir()
    }

    /// Restart mode's live state: the catalog files in the target folder, with what they define.
    pub async fn target_catalogs(&self) -> Result<Live, ScanError> {
        observe::read_target(&self.target_dir(), self.view.flavour())
            .await
            .map(|(live, _)| live)
    }

    /// The owned catalogs whose file is not what the coordinator last started with.
    pub fn unverified(&self) -> BTreeSet<String> {
        let empty = BTreeMap::new();
        let good = self
            .book
            .ledger
            .restart
            .known_good
            .as_ref()
            .unwrap_or(&empty);
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (name, entry) in &self.book.ledger.catalogs {
            if good.get(name) != Some(&entry.spec) {
                names.insert(name.clone());
            }
        }
        for name in good.keys() {
            if !self.book.ledger.catalogs.contains_key(name) {
                names.insert(name.clone());
            }
        }
        names
    }

    pub fn owned_specs(&self) -> BTreeMap<String, CatalogSpec> {
        self.book
            .ledger
            .catalogs
            .iter()
            .map(|(n, e)| (n.clone(), e.spec.clone()))
            .collect()
    }
}
