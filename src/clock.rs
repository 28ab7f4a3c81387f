//! The wall clock, in the units the agent records: Unix seconds (the ledger, `/status`) and Unix
//! milliseconds (heartbeats, render times, a node's start). One place, so that every stage reads
//! the same clock the same way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch (zero for a clock set before it).
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Unix seconds.
pub fn now_secs() -> u64 {
    since_epoch().as_secs()
}

/// Unix milliseconds.
pub fn now_millis() -> u64 {
    since_epoch().as_millis() as u64
}

/// Unix seconds with their fraction (a gauge's value).
pub fn now_secs_f64() -> f64 {
    since_epoch().as_secs_f64()
}

/// Unix milliseconds of a file's modification time, or any other [`SystemTime`]; `None` before
/// the epoch.
pub fn unix_millis(time: SystemTime) -> Option<u64> {
    time.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as u64)
}
