//! The ledger in use and its store: a CREATE's or a DROP's change is one journal line, other
//! changes write the whole ledger, and a pass ends by making the journal durable. A ledger that
//! cannot be saved is said once, kept as the error until it saves again, and tried at every pass.

use crate::ledger::{self, Change, Ledger, LedgerError, Store};
use std::path::PathBuf;
use std::sync::Arc;

pub(super) struct LedgerBook {
    store: Arc<Store>,
    pub ledger: Ledger,
    /// Why the ledger could not be saved, until it can again.
    error: Option<String>,
}

impl LedgerBook {
    /// Loads the ledger; also returns the note of a ledger file set aside as unreadable.
    pub fn load(store: Store) -> Result<(Self, Option<String>), LedgerError> {
        let loaded = store.load()?;
        let book = LedgerBook {
            store: Arc::new(store),
            ledger: loaded.ledger,
            error: None,
        };
        Ok((book, loaded.set_aside))
    }

    /// Writes the whole ledger (changes other than a CREATE's or a DROP's, and shutdown).
    pub fn save(&mut self) {
        let saved = self.store.save(&self.ledger);
        self.saved(saved);
    }

    /// Applies one change to the ledger and records it: a journal line, not the whole file.
    pub fn change(&mut self, change: Change) {
        change.clone().apply(&mut self.ledger);
        let recorded = self.store.record(&self.ledger, &change);
        self.saved(recorded);
    }

    /// Why the ledger could not be saved, if so.
    pub fn error(&self) -> Option<&String> {
        self.error.as_ref()
    }

    fn saved(&mut self, result: Result<(), LedgerError>) {
        if let Err(e) = result {
            if self.error.is_none() {
                tracing::error!(error = %e, "cannot persist the ledger; what the agent owns would be forgotten if it restarted; trying again at every pass");
            }
            self.error = Some(e.to_string());
        }
    }

    /// End of a pass: the journal made durable, or — after a failure — the whole ledger written
    /// again. Returns why it could not be, if so.
    pub async fn persist(&mut self) -> Option<String> {
        if self.error.is_some() {
            match self.store.save(&self.ledger) {
                Ok(()) => {
                    tracing::info!("the ledger is saved again");
                    self.error = None;
                }
                Err(e) => self.error = Some(e.to_string()),
            }
        } else {
            let store = self.store.clone();
            let synced = tokio::task::spawn_blocking(move || store.sync())
                .await
                .unwrap_or_else(|e| {
                    Err(LedgerError::Write {
                        path: PathBuf::from(ledger::JOURNAL_NAME),
                        source: std::io::Error::other(e.to_string()),
                    })
                });
            if let Err(e) = synced {
                tracing::error!(error = %e, "cannot persist the ledger; what the agent owns would be forgotten if it restarted; trying again at every pass");
                self.error = Some(e.to_string());
            }
        }
        self.error.clone()
    }
}
