//! The loop that drives passes: one at a time, triggers that arrive meanwhile coalesced into one
//! more pass, retries scheduled from the last report, readiness recorded from each.

use super::agent::Agent;
use super::pass::{PassResult, Trigger};
use crate::health::Readiness;
use crate::watch::Signal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// From this many catalogs on, a full pass is followed by [`give_back_memory`] (at 10,000 it
/// keeps ~5 MiB off the resident size; BENCHMARKS.md).
const GIVE_BACK_FROM_CATALOGS: usize = 1000;

/// After a long pass (thousands of statements, a start-up): the allocator returns the memory the
/// pass no longer uses to the system (glibc keeps it otherwise; musl does so by itself).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drives passes until `shutdown` turns true: one pass at a time, triggers that arrive meanwhile
/// coalesced into one more pass, retries scheduled from the last report.
pub async fn run(
    mut agent: Agent,
    mut triggers: mpsc::UnboundedReceiver<Signal>,
    mut shutdown: watch::Receiver<bool>,
    readiness: Arc<Readiness>,
) -> Agent {
    let stop = agent.stop_flag();
    let heartbeats = agent.heartbeats();
    let mut next: Option<Trigger> = Some(Trigger::Startup);
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        heartbeats.beat_reconcile();
        let mut trigger = match next.take() {
            Some(t) => t,
            None => {
                let retry = async {
                    match retry_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    t = triggers.recv() => match t {
                        Some(t) => t.into(),
                        None => break,
                    },
                    () = retry => Trigger::Retry,
                    _ = shutdown.changed() => break,
                }
            }
        };
        if *shutdown.borrow() {
            break;
        }
        while let Ok(more) = triggers.try_recv() {
            trigger = trigger.max(more.into());
        }
        let pass_started = Instant::now();
        let report = {
            let pass = agent.pass(trigger);
            tokio::pin!(pass);
            tokio::select! {
                r = &mut pass => r,
                _ = shutdown.changed() => {
                    // Finish the statement in flight, skip the rest, within the grace period.
                    stop.store(true, Ordering::Relaxed);
                    match tokio::time::timeout(Duration::from_secs(4), &mut pass).await {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::warn!("a statement was still running at shutdown; leaving it");
                            break;
                        }
                    }
                }
            }
        };
        heartbeats.beat_reconcile();
        match &report.result {
            PassResult::Unchanged => {}
            PassResult::Error(_) => readiness.pass_failed(),
            PassResult::Converged | PassResult::Degraded => readiness.pass_done(report.settled),
        }
        // A long pass, or a full one over thousands of catalogs (a resync rebuilds the folder's
        // and the engine's view beside the old ones): hand what it freed back to the system.
        if pass_started.elapsed() > Duration::from_secs(1)
            || (trigger >= Trigger::Resync && agent.catalogs_known() >= GIVE_BACK_FROM_CATALOGS)
        {
            give_back_memory();
        }
        if stop.load(Ordering::Relaxed) || *shutdown.borrow() {
            break;
        }
        retry_at = report.retry_in.map(|d| tokio::time::Instant::now() + d);
    }
    agent.save_ledger_now();
    agent
}
