//! desired × live × ledger → [`Plan`]: for every catalog name involved, one [`Step`]. Pure.
//!
//! The rules (the README's "Apply modes"): never touch `system` or a catalog the agent does not own; a
//! live catalog of a desired name that the agent does not own is a conflict unless `--adopt` and the
//! connector matches; an invalid file never removes or changes the live catalog of its name; a change
//! that is being held back (failure backoff, rate limit) waits.

use crate::catalog::{CatalogSpec, FileError, Fingerprint};
pub use crate::engine::{Live, LiveCatalog};
use crate::ledger::Ledger;
use crate::scan::Desired;
use std::collections::BTreeMap;

pub const SYSTEM_CATALOG: &str = "system";

/// A reason to hold back a change to one catalog for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The definition the hold is about (a failed one, in backoff); `None` holds any change.
    pub fingerprint: Option<Fingerprint>,
    pub kind: HoldKind,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldKind {
    /// This definition failed recently; it is retried after a backoff or when the file changes.
    Backoff,
    /// Too many changes to this catalog recently.
    RateLimited,
    /// Its file went away a moment ago: the drop waits in case it comes back (a delete and a
    /// re-create, a tool replacing the folder), since a drop fails the queries running on it.
    Removal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Desired and not live: create it (also re-creates owned catalogs a coordinator lost).
    /// `fallback` is the owned, last applied definition when the file now says something else (a
    /// replacement cut short after its DROP, a coordinator that lost the catalog while the file
    /// changed): if the engine refuses `spec`, the fallback is created, as a replacement would.
    Create {
        spec: CatalogSpec,
        fallback: Option<CatalogSpec>,
    },
    /// Owned, live, and the file now says something else: drop and create.
    Replace { from: CatalogSpec, to: CatalogSpec },
    /// Owned and live, its file is gone.
    Drop { previous: CatalogSpec },
    /// Live, not created by the agent, `--adopt` given and the connector matches: record as owned.
    Adopt { spec: CatalogSpec },
    /// Owned in the ledger, neither desired nor live: forget it.
    Forget,
    /// Already as desired.
    Keep,
    /// Live, not owned, and a file asks for it: left alone and reported.
    Conflict { reason: String },
    /// The file is unusable; the live catalog (if any) stays as it is. When the agent owns the
    /// catalog and the coordinator has lost it, `restore` re-creates the last good definition.
    Invalid {
        error: FileError,
        restore: Option<CatalogSpec>,
    },
    /// A change is due but held back.
    Held { hold: Hold, wanted: Box<Step> },
}

impl Step {
    /// True for steps that send statements or change the ledger.
    pub fn is_change(&self) -> bool {
        match self {
            Step::Create { .. }
            | Step::Replace { .. }
            | Step::Drop { .. }
            | Step::Adopt { .. }
            | Step::Forget => true,
            Step::Invalid { restore, .. } => restore.is_some(),
            Step::Keep | Step::Conflict { .. } | Step::Held { .. } => false,
        }
    }

    /// Short verb for tables, logs and metrics labels.
    pub fn action(&self) -> &'static str {
        match self {
            Step::Create { .. } => "create",
            Step::Replace { .. } => "replace",
            Step::Drop { .. } => "drop",
            Step::Adopt { .. } => "adopt",
            Step::Forget => "forget",
            Step::Keep => "keep",
            Step::Conflict { .. } => "conflict",
            Step::Invalid {
                restore: Some(_), ..
            } => "restore",
            Step::Invalid { .. } => "invalid",
            Step::Held { .. } => "held",
        }
    }

    /// Order in which changes are applied: drops first (they free what a create may need), then
    /// replacements, creates, and bookkeeping.
    fn apply_order(&self) -> u8 {
        match self {
            Step::Drop { .. } => 0,
            Step::Replace { .. } => 1,
            Step::Create { .. } | Step::Invalid { .. } => 2,
            _ => 3,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: BTreeMap<String, Step>,
}

impl Plan {
    /// The steps that change something, in apply order.
    pub fn changes(&self) -> Vec<(&str, &Step)> {
        let mut out: Vec<(&str, &Step)> = self
            .steps
            .iter()
            .filter(|(_, s)| s.is_change())
            .map(|(n, s)| (n.as_str(), s))
            .collect();
        out.sort_by_key(|(name, step)| (step.apply_order(), *name));
        out
    }

    pub fn has_changes(&self) -> bool {
        self.steps.values().any(Step::is_change)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub adopt: bool,
}

/// Two sorted lists of names as one, sorted, without repeats.
fn merge_sorted<'a>(a: Vec<&'a str>, b: Vec<&'a str>) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x < y => a.next(),
            (Some(x), Some(y)) if x > y => b.next(),
            (Some(_), Some(_)) => {
                b.next();
                a.next()
            }
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

/// Computes the plan. `holds` are per catalog name (see [`Hold`]).
pub fn diff(
    desired: &Desired,
    live: &Live,
    ledger: &Ledger,
    holds: &BTreeMap<String, Hold>,
    options: Options,
) -> Plan {
    diff_within(desired, live, ledger, holds, options, None)
}

/// [`diff`] for the catalogs named in `scope` only, when given (a file event: what its files
/// name); the plan then says nothing about the others.
pub fn diff_within(
    desired: &Desired,
    live: &Live,
    ledger: &Ledger,
    holds: &BTreeMap<String, Hold>,
    options: Options,
    scope: Option<&std::collections::BTreeSet<String>>,
) -> Plan {
    let names: Vec<&str> = match scope {
        Some(scope) => scope
            .iter()
            .map(String::as_str)
            .filter(|n| *n != SYSTEM_CATALOG)
            .collect(),
        None => all_names(desired, live, ledger),
    };
    plan_names(desired, live, ledger, holds, options, names)
}

/// Every name any side knows, sorted, `system` left out.
fn all_names<'a>(desired: &'a Desired, live: &'a Live, ledger: &'a Ledger) -> Vec<&'a str> {
    // The maps' keys come sorted: merging them is cheaper than sorting them all again.
    let mut names: Vec<&str> = merge_sorted(
        merge_sorted(
            desired.catalogs.keys().map(String::as_str).collect(),
            live.keys().map(String::as_str).collect(),
        ),
        ledger.catalogs.keys().map(String::as_str).collect(),
    );
    let claimed: Vec<&str> = desired
        .invalid
        .iter()
        .filter_map(|f| f.catalog.as_deref())
        .collect();
    if !claimed.is_empty() {
        names.extend(claimed);
        names.sort_unstable();
        names.dedup();
    }
    names.retain(|n| *n != SYSTEM_CATALOG);
    names
}

fn plan_names(
    desired: &Desired,
    live: &Live,
    ledger: &Ledger,
    holds: &BTreeMap<String, Hold>,
    options: Options,
    names: Vec<&str>,
) -> Plan {
    let mut steps = BTreeMap::new();
    for name in names {
        let owned = ledger.catalogs.get(name);
        let is_live = live.get(name);
        let step = if let Some(want) = desired.catalogs.get(name) {
            match (is_live, owned) {
                (None, owned) => Step::Create {
                    spec: want.spec.clone(),
                    fallback: owned
                        .filter(|entry| entry.fingerprint != want.fingerprint)
                        .map(|entry| entry.spec.clone()),
                },
                (Some(l), Some(entry)) => {
                    let connector_moved = l
                        .connector
                        .as_ref()
                        .is_some_and(|c| *c != entry.spec.connector);
                    let edited_under_us = l.fingerprint.is_some_and(|f| f != want.fingerprint);
                    if entry.fingerprint == want.fingerprint && !connector_moved && !edited_under_us
                    {
                        Step::Keep
                    } else {
                        Step::Replace {
                            from: entry.spec.clone(),
                            to: want.spec.clone(),
                        }
                    }
                }
                (Some(l), None) => match &l.connector {
                    Some(c) if options.adopt && *c == want.spec.connector => Step::Adopt {
                        spec: want.spec.clone(),
                    },
                    Some(c) if *c != want.spec.connector => Step::Conflict {
                        reason: format!(
                            "a catalog '{name}' that this agent did not create is live with connector '{c}' (the file asks for '{}'); it is left alone",
                            want.spec.connector
                        ),
                    },
                    None if options.adopt => Step::Conflict {
                        reason: format!(
                            "a catalog '{name}' that this agent did not create is live, and the engine does not say its connector, so it cannot be adopted safely; it is left alone"
                        ),
                    },
                    _ => Step::Conflict {
                        reason: format!(
                            "a catalog '{name}' that this agent did not create is live; it is left alone (start with --adopt to take it over)"
                        ),
                    },
                },
            }
        } else if let Some(bad) = desired.protected(name) {
            Step::Invalid {
                error: bad.error.clone(),
                restore: match (is_live, owned) {
                    (None, Some(entry)) => Some(entry.spec.clone()),
                    _ => None,
                },
            }
        } else {
            match (is_live, owned) {
                (Some(_), Some(entry)) => Step::Drop {
                    previous: entry.spec.clone(),
                },
                (None, Some(_)) => Step::Forget,
                // Live and unmanaged with no file: not ours, not reported.
                (_, None) => continue,
            }
        };
        let step = match holds.get(name) {
            Some(hold)
                if step.is_change() && !matches!(step, Step::Forget | Step::Adopt { .. }) =>
            {
                let held_definition = match &step {
                    Step::Create { spec, .. } | Step::Replace { to: spec, .. } => {
                        Some(spec.fingerprint())
                    }
                    _ => None,
                };
                // A backoff is about one definition (or, without one, about a removal): a file
                // that now says something else goes ahead. A rate limit holds any change.
                let applies = match (hold.kind, hold.fingerprint) {
                    (HoldKind::RateLimited, _) => true,
                    (HoldKind::Backoff | HoldKind::Removal, None) => {
                        matches!(step, Step::Drop { .. })
                    }
                    (HoldKind::Removal, Some(_)) => false,
                    (HoldKind::Backoff, Some(f)) => Some(f) == held_definition,
                };
                if applies {
                    Step::Held {
                        hold: hold.clone(),
                        wanted: Box::new(step),
                    }
                } else {
                    step
                }
            }
            _ => step,
        };
        steps.insert(name.to_string(), step);
    }
    Plan { steps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::FileError;
    use crate::ledger::Entry;
    use crate::scan::{DesiredCatalog, InvalidFile};
    use proptest::prelude::*;

    fn spec(name: &str, connector: &str, v: &str) -> CatalogSpec {
        CatalogSpec {
            name: name.into(),
            connector: connector.into(),
            properties: [("k".to_string(), v.to_string())].into(),
        }
    }

    #[derive(Default)]
    struct World {
        desired: Desired,
        live: Live,
        ledger: Ledger,
        holds: BTreeMap<String, Hold>,
        adopt: bool,
    }

    impl World {
        fn file(mut self, s: CatalogSpec) -> Self {
            let fingerprint = s.fingerprint();
            self.desired.catalogs.insert(
                s.name.clone(),
                DesiredCatalog {
                    file: format!("{}.properties", s.name),
                    spec: s,
                    fingerprint,
                },
            );
            self
        }
        fn bad_file(mut self, name: &str) -> Self {
            self.desired.invalid.push(InvalidFile {
                catalog: Some(name.into()),
                error: FileError {
                    file: format!("{name}.properties"),
                    line: Some(2),
                    reason: "duplicate property".into(),
                },
            });
            self
        }
        fn live(mut self, name: &str, connector: Option<&str>) -> Self {
            self.live.insert(
                name.into(),
                LiveCatalog {
                    connector: connector.map(Into::into),
                    fingerprint: None,
                },
            );
            self
        }
        fn owned(mut self, s: CatalogSpec) -> Self {
            self.ledger
                .catalogs
                .insert(s.name.clone(), Entry::new(s, false));
            self
        }
        fn step(&self, name: &str) -> Option<Step> {
            diff(
                &self.desired,
                &self.live,
                &self.ledger,
                &self.holds,
                Options { adopt: self.adopt },
            )
            .steps
            .get(name)
            .cloned()
        }
    }

    #[test]
    fn a_new_file_is_created() {
        let w = World::default().file(spec("a", "tpch", "1"));
        assert!(matches!(w.step("a"), Some(Step::Create { .. })));
    }

    #[test]
    fn an_owned_catalog_lost_by_the_engine_is_created_with_its_last_definition_as_fallback() {
        // As the file says, with nothing to fall back to when the file is what was applied...
        let w = World::default()
            .file(spec("a", "tpch", "1"))
            .owned(spec("a", "tpch", "1"));
        assert_eq!(
            w.step("a"),
            Some(Step::Create {
                spec: spec("a", "tpch", "1"),
                fallback: None
            })
        );
        // ...and with the last applied definition when the file changed meanwhile.
        let w = World::default()
            .file(spec("a", "tpch", "2"))
            .owned(spec("a", "tpch", "1"));
        assert_eq!(
            w.step("a"),
            Some(Step::Create {
                spec: spec("a", "tpch", "2"),
                fallback: Some(spec("a", "tpch", "1"))
            })
        );
    }

    #[test]
    fn an_unchanged_owned_catalog_is_kept() {
        let w = World::default()
            .file(spec("a", "tpch", "1"))
            .live("a", Some("tpch"))
            .owned(spec("a", "tpch", "1"));
        assert_eq!(w.step("a"), Some(Step::Keep));
    }

    #[test]
    fn a_changed_owned_catalog_is_replaced_from_the_ledger_definition() {
        let w = World::default()
            .file(spec("a", "tpch", "2"))
            .live("a", Some("tpch"))
            .owned(spec("a", "tpch", "1"));
        assert_eq!(
            w.step("a"),
            Some(Step::Replace {
                from: spec("a", "tpch", "1"),
                to: spec("a", "tpch", "2")
            })
        );
    }

    #[test]
    fn an_owned_catalog_with_the_wrong_live_connector_is_replaced() {
        let w = World::default()
            .file(spec("a", "tpch", "1"))
            .live("a", Some("memory"))
            .owned(spec("a", "tpch", "1"));
        assert!(matches!(w.step("a"), Some(Step::Replace { .. })));
    }

    #[test]
    fn a_live_definition_edited_under_us_is_put_back() {
        let mut w = World::default()
            .file(spec("a", "tpch", "1"))
            .owned(spec("a", "tpch", "1"));
        w.live.insert(
            "a".into(),
            LiveCatalog {
                connector: Some("tpch".into()),
                fingerprint: Some(spec("a", "tpch", "9").fingerprint()),
            },
        );
        assert!(matches!(w.step("a"), Some(Step::Replace { .. })));
    }

    #[test]
    fn a_removed_file_drops_only_owned_catalogs() {
        let w = World::default()
            .live("a", Some("tpch"))
            .owned(spec("a", "tpch", "1"))
            .live("theirs", Some("tpch"));
        assert!(matches!(w.step("a"), Some(Step::Drop { .. })));
        assert_eq!(w.step("theirs"), None);
    }

    #[test]
    fn system_is_never_touched() {
        let w = World::default()
            .live("system", Some("system"))
            .owned(spec("system", "tpch", "1"));
        assert_eq!(w.step("system"), None);
    }

    #[test]
    fn an_unowned_live_catalog_is_a_conflict_unless_adopted() {
        let w = World::default()
            .file(spec("a", "tpch", "1"))
            .live("a", Some("tpch"));
        assert!(matches!(w.step("a"), Some(Step::Conflict { .. })));
        let mut w = w;
        w.adopt = true;
        assert!(matches!(w.step("a"), Some(Step::Adopt { .. })));
    }

    #[test]
    fn adoption_needs_the_same_known_connector() {
        let mut w = World::default()
            .file(spec("a", "tpch", "1"))
            .live("a", Some("memory"))
            .file(spec("b", "tpch", "1"))
            .live("b", None);
        w.adopt = true;
        assert!(
            matches!(w.step("a"), Some(Step::Conflict { reason }) if reason.contains("'memory'"))
        );
        assert!(
            matches!(w.step("b"), Some(Step::Conflict { reason }) if reason.contains("does not say"))
        );
    }

    #[test]
    fn an_invalid_file_keeps_the_live_catalog() {
        let w = World::default()
            .bad_file("a")
            .live("a", Some("tpch"))
            .owned(spec("a", "tpch", "1"));
        assert!(matches!(
            w.step("a"),
            Some(Step::Invalid { restore: None, .. })
        ));
    }

    #[test]
    fn an_invalid_file_restores_the_last_good_definition_a_coordinator_lost() {
        let w = World::default().bad_file("a").owned(spec("a", "tpch", "1"));
        assert!(
            matches!(w.step("a"), Some(Step::Invalid { restore: Some(s), .. }) if s == spec("a", "tpch", "1"))
        );
    }

    #[test]
    fn owned_but_gone_everywhere_is_forgotten() {
        let w = World::default().owned(spec("a", "tpch", "1"));
        assert_eq!(w.step("a"), Some(Step::Forget));
    }

    #[test]
    fn a_hold_on_the_failed_definition_waits_but_a_new_definition_goes_ahead() {
        let mut w = World::default().file(spec("a", "tpch", "1"));
        w.holds.insert(
            "a".into(),
            Hold {
                fingerprint: Some(spec("a", "tpch", "1").fingerprint()),
                kind: HoldKind::Backoff,
                reason: "failed".into(),
            },
        );
        assert!(matches!(w.step("a"), Some(Step::Held { .. })));
        let w = w.file(spec("a", "tpch", "2"));
        assert!(matches!(w.step("a"), Some(Step::Create { .. })));
    }

    #[test]
    fn changes_are_ordered_drops_first() {
        let w = World::default()
            .file(spec("b", "tpch", "1"))
            .live("a", Some("tpch"))
            .owned(spec("a", "tpch", "1"));
        let plan = diff(&w.desired, &w.live, &w.ledger, &w.holds, Options::default());
        let order: Vec<&str> = plan.changes().iter().map(|(_, s)| s.action()).collect();
        assert_eq!(order, ["drop", "create"]);
    }

    // Property: applying the plan's changes to a model engine yields the desired set, except where
    // the rules say to leave things alone (conflicts, invalid files), and never touches what the
    // agent does not own.
    #[derive(Debug, Clone)]
    enum FileState {
        Absent,
        Valid(u8),
        Invalid,
    }

    /// Per catalog: its file, whether it is live (and with the tpch connector), whether owned.
    type Case = (FileState, Option<(bool, Option<u8>)>, Option<u8>);

    fn world_strategy() -> impl Strategy<Value = Vec<Case>> {
        let file = prop_oneof![
            Just(FileState::Absent),
            (0u8..3).prop_map(FileState::Valid),
            Just(FileState::Invalid)
        ];
        // live: None, or Some((connector is tpch?, known definition value when owned))
        let live = proptest::option::of((any::<bool>(), proptest::option::of(0u8..3)));
        let owned = proptest::option::of(0u8..3);
        proptest::collection::vec((file, live, owned), 0..8)
    }

    proptest! {
        #[test]
        fn applying_the_plan_converges(cases in world_strategy(), adopt in any::<bool>()) {
            let mut w = World { adopt, ..World::default() };
            // Model of the engine: name -> (connector, definition if known)
            let mut engine: BTreeMap<String, (String, Option<CatalogSpec>)> = BTreeMap::new();
            for (i, (file, live, owned)) in cases.iter().enumerate() {
                let name = format!("c{i}");
                match file {
                    FileState::Absent => {}
                    FileState::Valid(v) => w = w.file(spec(&name, "tpch", &v.to_string())),
                    FileState::Invalid => w = w.bad_file(&name),
                }
                if let Some(v) = owned {
                    w = w.owned(spec(&name, "tpch", &v.to_string()));
                }
                if let Some((tpch, _)) = live {
                    let connector = if *tpch { "tpch" } else { "memory" };
                    w = w.live(&name, Some(connector));
                    let known = owned.filter(|_| *tpch).map(|v| spec(&name, "tpch", &v.to_string()));
                    engine.insert(name.clone(), (connector.to_string(), known));
                }
            }
            let before = engine.clone();
            let plan = diff(&w.desired, &w.live, &w.ledger, &w.holds, Options { adopt });
            let mut ledger = w.ledger.clone();
            for (name, step) in plan.changes() {
                match step {
                    Step::Create { spec, .. } | Step::Invalid { restore: Some(spec), .. } => {
                        prop_assert!(!engine.contains_key(name), "create of a live catalog {}", name);
                        engine.insert(name.to_string(), (spec.connector.clone(), Some(spec.clone())));
                        ledger.catalogs.insert(name.to_string(), Entry::new(spec.clone(), false));
                    }
                    Step::Replace { to, .. } => {
                        prop_assert!(w.ledger.catalogs.contains_key(name));
                        engine.insert(name.to_string(), (to.connector.clone(), Some(to.clone())));
                        ledger.catalogs.insert(name.to_string(), Entry::new(to.clone(), false));
                    }
                    Step::Drop { .. } => {
                        prop_assert!(w.ledger.catalogs.contains_key(name), "drop of unowned {}", name);
                        engine.remove(name);
                        ledger.catalogs.remove(name);
                    }
                    Step::Adopt { spec } => {
                        ledger.catalogs.insert(name.to_string(), Entry::new(spec.clone(), true));
                    }
                    Step::Forget => { ledger.catalogs.remove(name); }
                    _ => {}
                }
            }
            for (name, want) in &w.desired.catalogs {
                let step = &plan.steps[name];
                if matches!(step, Step::Conflict { .. }) {
                    prop_assert_eq!(engine.get(name), before.get(name), "conflict touched {}", name);
                } else if matches!(step, Step::Adopt { .. }) {
                    prop_assert_eq!(&engine[name].0, &want.spec.connector);
                } else {
                    prop_assert_eq!(engine[name].1.as_ref(), Some(&want.spec), "{} not as desired", name);
                }
            }
            for bad in &w.desired.invalid {
                let name = bad.catalog.as_ref().unwrap();
                if let Some(was) = before.get(name) {
                    prop_assert_eq!(engine.get(name), Some(was), "invalid file changed live {}", name);
                }
            }
            for (name, was) in &before {
                if !w.ledger.catalogs.contains_key(name) && !w.desired.catalogs.contains_key(name) {
                    prop_assert_eq!(engine.get(name), Some(was), "unowned {} touched", name);
                }
            }
            // A second plan over the result has nothing left to do.
            let live_after: Live = engine.iter().map(|(n, (c, _))| (n.clone(), LiveCatalog { connector: Some(c.clone()), fingerprint: None })).collect();
            let again = diff(&w.desired, &live_after, &ledger, &w.holds, Options { adopt });
            prop_assert!(!again.has_changes(), "not converged: {:?}", again.changes());
        }
    }
}
