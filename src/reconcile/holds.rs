//! The rules that hold a catalog's change back for now, as a small state machine with the clock
//! passed in: failure back-off, refusals held until the file (or the coordinator) changes, the
//! per-catalog rate limit, and the grace before an owned catalog whose file went away is dropped.
//! Nothing here talks to the engine or the folder; the plan takes what [`Holds::at`] says.

use super::pass::Trigger;
use crate::catalog::Fingerprint;
use crate::ledger::Ledger;
use crate::plan::{Hold, HoldKind};
use crate::scan::Desired;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

const BACKOFF_FIRST: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const ENGINE_BACKOFF_MAX: Duration = Duration::from_secs(30);
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How long the file of an owned catalog must stay away before the catalog is dropped (passes
/// other than the first).
pub(super) const DROP_GRACE: Duration = Duration::from_secs(1);
/// A definition that kept the coordinator from starting is not tried again until its file changes.
const UNTIL_FILE_CHANGES: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Why a catalog's last change did not take, and when it is tried again.
pub(super) struct Failure {
    pub fingerprint: Option<Fingerprint>,
    pub attempts: u32,
    pub retry_at: Instant,
    pub error: String,
    pub error_name: Option<String>,
    pub until: Until,
    /// What was done about it (e.g. "the previous definition was restored"), kept for /status.
    pub note: Option<String>,
}

/// When a failed definition is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Until {
    /// After a backoff (10 s, doubling to 5 min), or when its file changes: a refusal that may
    /// not repeat (a data source down, a permission not granted yet).
    Backoff,
    /// When its file changes: it kept the coordinator from starting (restart mode).
    FileChanges,
    /// When its file changes or the coordinator restarts: the engine refused it for a reason
    /// that repeats (a configuration error, no such connector, an unset environment variable).
    /// Retrying would only write the statement — literal secrets included — into the engine's
    /// query history again.
    FileOrEngineChanges,
}

/// What holds changes back, per catalog.
pub(super) struct Holds {
    failures: BTreeMap<String, Failure>,
    /// When each catalog changed within the last [`RATE_WINDOW`].
    recent_changes: BTreeMap<String, VecDeque<Instant>>,
    /// Owned catalogs whose file is gone, since when (see [`DROP_GRACE`]).
    absent_since: BTreeMap<String, Instant>,
    /// `--max-changes-per-minute`; 0 = unlimited.
    max_changes_per_minute: u32,
}

impl Holds {
    pub fn new(max_changes_per_minute: u32) -> Self {
        Holds {
            failures: BTreeMap::new(),
            recent_changes: BTreeMap::new(),
            absent_since: BTreeMap::new(),
            max_changes_per_minute,
        }
    }

    /// A change of `name` did not take. The same definition failing again waits twice as long
    /// (from 10 s to 5 min); a new definition starts over.
    pub fn note_failure(
        &mut self,
        name: &str,
        fingerprint: Option<Fingerprint>,
        error: String,
        error_name: Option<String>,
        until: Until,
        now: Instant,
    ) {
        let attempts = match self.failures.get(name) {
            Some(f) if f.fingerprint == fingerprint => f.attempts + 1,
            _ => 1,
        };
        let backoff = match until {
            Until::FileChanges | Until::FileOrEngineChanges => UNTIL_FILE_CHANGES,
            Until::Backoff => (BACKOFF_FIRST * 2u32.saturating_pow(attempts - 1)).min(BACKOFF_MAX),
        };
        self.failures.insert(
            name.to_string(),
            Failure {
                fingerprint,
                attempts,
                retry_at: now + backoff,
                error,
                error_name,
                until,
                note: None,
            },
        );
    }

    /// Says what was done about a failure (shown with it in `/status`).
    pub fn set_note(&mut self, name: &str, note: Option<String>) {
        if let Some(failure) = self.failures.get_mut(name) {
            failure.note = note;
        }
    }

    pub fn failure(&self, name: &str) -> Option<&Failure> {
        self.failures.get(name)
    }

    /// A change of `name` took: whatever failed before is forgotten.
    pub fn succeeded(&mut self, name: &str) {
        self.failures.remove(name);
    }

    /// A change of `name` reached the engine (it counts against the rate limit).
    pub fn note_change(&mut self, name: &str, now: Instant) {
        self.recent_changes
            .entry(name.to_string())
            .or_default()
            .push_back(now);
    }

    /// The coordinator restarted: what it refused may be accepted now (an environment variable
    /// set, a plugin installed). Definitions that broke a start stay held. Returns whether any
    /// refusal was forgotten.
    pub fn forget_refusals(&mut self) -> bool {
        let before = self.failures.len();
        self.failures
            .retain(|_, f| f.until != Until::FileOrEngineChanges);
        self.failures.len() != before
    }

    /// Forgets the refusal of `name` held until the coordinator restarts, if that is what holds it.
    pub fn forget_refusal(&mut self, name: &str) {
        if self
            .failures
            .get(name)
            .is_some_and(|f| f.until == Until::FileOrEngineChanges)
        {
            self.failures.remove(name);
        }
    }

    /// What is remembered goes with the catalog: once `known` says nothing names it any more,
    /// nothing about it is kept (names come and go; memory must not grow with them).
    pub fn forget_unknown(&mut self, known: impl Fn(&str) -> bool) {
        self.failures.retain(|name, _| known(name));
    }

    /// The holds of catalogs in failure backoff or over their change budget at `now`.
    pub fn at(&mut self, now: Instant) -> BTreeMap<String, Hold> {
        let mut holds = BTreeMap::new();
        for (name, f) in &self.failures {
            if f.retry_at > now {
                let reason = match f.until {
                    Until::FileChanges => "not tried again until its file changes".to_string(),
                    Until::FileOrEngineChanges => {
                        "not tried again until its file changes or the coordinator restarts"
                            .to_string()
                    }
                    Until::Backoff => format!(
                        "retrying in {}s, or when the file changes",
                        (f.retry_at - now).as_secs().max(1)
                    ),
                };
                holds.insert(
                    name.clone(),
                    Hold {
                        fingerprint: f.fingerprint,
                        kind: HoldKind::Backoff,
                        reason,
                    },
                );
            }
        }
        let limit = self.max_changes_per_minute as usize;
        self.recent_changes.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        if limit > 0 {
            for (name, times) in &self.recent_changes {
                if times.len() >= limit && !holds.contains_key(name) {
                    let free_at = *times.front().expect("non-empty") + RATE_WINDOW;
                    holds.insert(
                        name.clone(),
                        Hold {
                            fingerprint: None,
                            kind: HoldKind::RateLimited,
                            reason: format!(
                                "rate limited: {limit} changes in the last minute; next change in {}s",
                                (free_at - now).as_secs().max(1)
                            ),
                        },
                    );
                }
            }
        }
        holds
    }

    /// Owned catalogs whose file has just gone are dropped only once it has stayed away for
    /// [`DROP_GRACE`]; until then they are held. Not at start-up: the folder as the agent finds it
    /// is what it is. `absent` are the owned catalogs without a file now ([`absent_owned`]).
    pub fn hold_removals(
        &mut self,
        trigger: Trigger,
        absent: BTreeSet<String>,
        holds: &mut BTreeMap<String, Hold>,
        now: Instant,
    ) {
        self.absent_since.retain(|n, _| absent.contains(n));
        if trigger == Trigger::Startup {
            return;
        }
        for name in absent {
            let since = *self.absent_since.entry(name.clone()).or_insert(now);
            let left = (since + DROP_GRACE).saturating_duration_since(now);
            if !left.is_zero() && !holds.contains_key(&name) {
                holds.insert(
                    name.clone(),
                    Hold {
                        fingerprint: None,
                        kind: HoldKind::Removal,
                        reason: format!(
                            "its file is gone; dropped in {}ms unless it comes back",
                            left.as_millis().max(1)
                        ),
                    },
                );
            }
        }
    }

    /// The catalogs whose drop waits out its grace.
    pub fn removals_waiting(&self) -> impl Iterator<Item = &String> {
        self.absent_since.keys()
    }

    /// How soon something held may go: the soonest end of a backoff, of a rate limit, of a drop's
    /// grace (for catalogs `owned` still), or `also`. Waits of more than ten minutes are left to
    /// the resync.
    pub fn soonest(
        &self,
        now: Instant,
        owned: impl Fn(&str) -> bool,
        also: Option<Duration>,
    ) -> Option<Duration> {
        let limit = self.max_changes_per_minute as usize;
        self.failures
            .values()
            .map(|f| f.retry_at.saturating_duration_since(now))
            .chain(
                self.recent_changes
                    .values()
                    .filter(|t| limit > 0 && t.len() >= limit)
                    .filter_map(|t| t.front())
                    .map(|t| (*t + RATE_WINDOW).saturating_duration_since(now)),
            )
            .chain(
                // Drops still held back (their grace may have ended during this pass: at once).
                self.absent_since
                    .iter()
                    .filter(|(name, _)| owned(name))
                    .map(|(_, t)| (*t + DROP_GRACE).saturating_duration_since(now)),
            )
            .chain(also)
            .filter(|d| *d < BACKOFF_MAX * 2)
            .min()
    }
}

/// The owned catalogs without a file: among all the ledger owns, or — for a pass that looked at
/// some files only — among what those files stand for and the drops already waiting.
pub(super) fn absent_owned<'a>(
    ledger: &Ledger,
    desired: &Desired,
    scope: Option<&'a BTreeSet<String>>,
    waiting: impl Iterator<Item = &'a String>,
) -> BTreeSet<String> {
    let is_absent = |n: &String| {
        ledger.catalogs.contains_key(n)
            && !desired.catalogs.contains_key(n)
            && desired.protected(n).is_none()
    };
    match scope {
        Some(scope) => scope
            .iter()
            .chain(waiting)
            .filter(|n| is_absent(n))
            .cloned()
            .collect(),
        None => ledger
            .catalogs
            .keys()
            .filter(|n| is_absent(n))
            .cloned()
            .collect(),
    }
}

/// How long to wait before a pass after `failures` failed passes in a row (the engine or Docker
/// could not be used): 1 s, doubling up to 30 s.
pub(super) fn engine_backoff(failures: u32) -> Duration {
    (Duration::from_secs(1) * 2u32.saturating_pow(failures.saturating_sub(1).min(5)))
        .min(ENGINE_BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogSpec;

    fn fingerprint(value: &str) -> Option<Fingerprint> {
        Some(
            CatalogSpec {
                name: "c".into(),
                connector: "tpch".into(),
                properties: [("tpch.splits-per-node".to_string(), value.to_string())].into(),
            }
            .fingerprint(),
        )
    }

    fn fail(holds: &mut Holds, name: &str, value: &str, until: Until, now: Instant) {
        holds.note_failure(name, fingerprint(value), "no".into(), None, until, now);
    }

    fn retry_in(holds: &Holds, name: &str, now: Instant) -> Duration {
        holds.failure(name).unwrap().retry_at - now
    }

    #[test]
    fn a_definition_that_keeps_failing_waits_twice_as_long_each_time_up_to_five_minutes() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        let waits: Vec<u64> = (0..8)
            .map(|_| {
                fail(&mut holds, "c", "1", Until::Backoff, now);
                retry_in(&holds, "c", now).as_secs()
            })
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn a_new_definition_starts_its_backoff_over() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        fail(&mut holds, "c", "1", Until::Backoff, now);
        fail(&mut holds, "c", "1", Until::Backoff, now);
        fail(&mut holds, "c", "2", Until::Backoff, now);
        assert_eq!(retry_in(&holds, "c", now), Duration::from_secs(10));
    }

    #[test]
    fn a_failed_definition_is_held_until_its_backoff_ends_and_says_when() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        fail(&mut holds, "c", "1", Until::Backoff, now);
        let held = holds.at(now + Duration::from_secs(3));
        assert_eq!(held["c"].kind, HoldKind::Backoff);
        assert_eq!(held["c"].fingerprint, fingerprint("1"));
        assert_eq!(held["c"].reason, "retrying in 7s, or when the file changes");
        assert!(holds.at(now + Duration::from_secs(10)).is_empty());
    }

    #[test]
    fn a_definition_that_broke_a_start_is_held_until_its_file_changes() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        fail(&mut holds, "c", "1", Until::FileChanges, now);
        let a_year = now + Duration::from_secs(365 * 24 * 3600);
        assert_eq!(
            holds.at(a_year)["c"].reason,
            "not tried again until its file changes"
        );
        // The hold is for that definition: the plan lets another one through.
        assert_eq!(holds.at(a_year)["c"].fingerprint, fingerprint("1"));
    }

    #[test]
    fn a_coordinator_restart_frees_refusals_but_not_definitions_that_broke_a_start() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        fail(&mut holds, "refused", "1", Until::FileOrEngineChanges, now);
        fail(&mut holds, "broke", "1", Until::FileChanges, now);
        fail(&mut holds, "flaky", "1", Until::Backoff, now);
        assert_eq!(
            holds.at(now)["refused"].reason,
            "not tried again until its file changes or the coordinator restarts"
        );
        assert!(holds.forget_refusals());
        assert!(!holds.forget_refusals(), "nothing left to forget");
        let held = holds.at(now);
        assert!(!held.contains_key("refused"));
        assert!(held.contains_key("broke") && held.contains_key("flaky"));
        // One refusal alone, as a fresh agent finds a restarted coordinator.
        fail(&mut holds, "refused", "1", Until::FileOrEngineChanges, now);
        holds.forget_refusal("refused");
        holds.forget_refusal("broke");
        assert!(holds.failure("refused").is_none() && holds.failure("broke").is_some());
    }

    #[test]
    fn a_catalog_over_its_change_budget_waits_until_its_oldest_change_is_a_minute_old() {
        let mut holds = Holds::new(3);
        let start = Instant::now();
        for s in [0, 10, 20] {
            holds.note_change("c", start + Duration::from_secs(s));
        }
        holds.note_change("other", start);
        let at = start + Duration::from_secs(25);
        let held = holds.at(at);
        assert_eq!(held["c"].kind, HoldKind::RateLimited);
        assert_eq!(
            held["c"].reason,
            "rate limited: 3 changes in the last minute; next change in 35s"
        );
        assert!(!held.contains_key("other"));
        assert_eq!(
            holds.soonest(at, |_| true, None),
            Some(Duration::from_secs(35))
        );
        // A minute after the first change, one more is allowed.
        assert!(holds.at(start + Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn without_a_limit_no_change_is_rate_limited() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        for _ in 0..100 {
            holds.note_change("c", now);
        }
        assert!(holds.at(now).is_empty());
        assert_eq!(holds.soonest(now, |_| true, None), None);
    }

    #[test]
    fn a_file_that_went_away_is_dropped_only_after_a_second_and_not_at_startup() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        let absent = || BTreeSet::from(["gone".to_string()]);
        let mut held = BTreeMap::new();
        holds.hold_removals(Trigger::Startup, absent(), &mut held, now);
        assert!(
            held.is_empty(),
            "the folder as found at start is what it is"
        );
        holds.hold_removals(Trigger::Event, absent(), &mut held, now);
        assert_eq!(held["gone"].kind, HoldKind::Removal);
        assert_eq!(
            held["gone"].reason,
            "its file is gone; dropped in 1000ms unless it comes back"
        );
        assert_eq!(
            holds.soonest(now, |_| true, None),
            Some(Duration::from_secs(1))
        );
        let mut later = BTreeMap::new();
        let after_grace = now + DROP_GRACE;
        holds.hold_removals(Trigger::Event, absent(), &mut later, after_grace);
        assert!(later.is_empty(), "its grace is over: the plan drops it");
        // The file came back: nothing waits.
        holds.hold_removals(Trigger::Event, BTreeSet::new(), &mut later, after_grace);
        assert_eq!(holds.removals_waiting().count(), 0);
    }

    #[test]
    fn the_next_pass_comes_when_the_soonest_hold_ends_and_never_later_than_ten_minutes() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        fail(&mut holds, "a", "1", Until::Backoff, now);
        fail(&mut holds, "b", "1", Until::FileChanges, now);
        assert_eq!(
            holds.soonest(now, |_| true, None),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            holds.soonest(now, |_| true, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        holds.succeeded("a");
        assert_eq!(holds.soonest(now, |_| true, None), None);
    }

    #[test]
    fn what_is_remembered_goes_with_the_catalog() {
        let mut holds = Holds::new(0);
        let now = Instant::now();
        fail(&mut holds, "kept", "1", Until::Backoff, now);
        fail(&mut holds, "gone", "1", Until::Backoff, now);
        holds.forget_unknown(|name| name == "kept");
        assert!(holds.failure("kept").is_some() && holds.failure("gone").is_none());
    }

    #[test]
    fn failed_passes_back_off_from_one_second_to_thirty() {
        let secs: Vec<u64> = (1..=8).map(|n| engine_backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
