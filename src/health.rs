//! What `/healthz` and `/readyz` answer from: the loops' heartbeats and the agent's readiness.
//! Written by the watch and the reconcile loop, read by the server; neither side knows the other.

use crate::clock::now_millis;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Liveness stamps for `/healthz` (Unix milliseconds).
#[derive(Debug, Default)]
pub struct Heartbeats {
    pub reconcile: AtomicU64,
    pub watch: AtomicU64,
}

impl Heartbeats {
    pub fn beat_reconcile(&self) {
        self.reconcile.store(now_millis(), Ordering::Relaxed);
    }

    pub fn beat_watch(&self) {
        self.watch.store(now_millis(), Ordering::Relaxed);
    }
}

/// Readiness as `/readyz` reports it: ready once a pass has reached the engine and settled every
/// catalog, and from then on as long as passes can run. A catalog that later waits (a rate limit,
/// a restart to come) does not make the agent unready: a sidecar's readiness is its pod's, and a
/// coordinator must not leave its Service because one catalog changes too often.
#[derive(Debug, Default)]
pub struct Readiness {
    pub ready: AtomicBool,
    settled_once: AtomicBool,
}

impl Readiness {
    /// A pass could not run (the folder, the engine or Docker could not be used).
    pub fn pass_failed(&self) {
        self.ready.store(false, Ordering::Relaxed);
    }

    /// A pass ran to its end; `settled` when every catalog the files ask for is applied or has a
    /// verdict.
    pub fn pass_done(&self, settled: bool) {
        if settled {
            self.settled_once.store(true, Ordering::Relaxed);
        }
        self.ready
            .store(self.settled_once.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}
