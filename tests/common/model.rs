//! The model-based tests' parts (vector's `file_watcher/tests` is the pattern: an interpreter of
//! file-system actions run against the real thing and a model at once):
//!
//! * [`Action`]: what users and tools do to a folder of catalogs — write, atomic save, rename,
//!   delete, a ConfigMap generation swapped in through `..data` — and a coordinator restart.
//! * proptest strategies that draw sequences of them: [`folder_history`], [`configmap_history`].
//! * [`Model::apply`]: one action on the real folder (and coordinator) and on the model (catalog →
//!   definition), giving the statements the coordinator must receive for it.
//! * [`assert_step`]: after each action, the coordinator lists exactly the model's catalogs and
//!   received exactly those statements — nothing missing, nothing twice, nothing for a step that
//!   changes nothing.
//! * [`check_sequences`]: runs a test on sequences drawn with a fixed seed.
//!
//! A failing sequence is reproduced by its seed: the test prints `MODEL_SEED` and the sequence;
//! `MODEL_SEED=<seed> cargo test --test <binary> <test>` draws the same one again (`MODEL_STEPS`
//! changes its length). proptest shrinks a failing sequence — each step can be dropped, each
//! action made simpler — within `MODEL_SHRINK_ITERS` reruns (a default per test: every rerun
//! replays a whole sequence against real processes), and prints the smallest that still fails.

use super::{Folder, RunningAgent, changes, kubelet_update, wait_for};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::time::Duration;
use test_support::emulator::RunningEmulator;

/// One thing done to the folder or to the coordinator. Catalog definitions are tpch catalogs that
/// differ in `tpch.splits-per-node` (see [`definition`]).
#[derive(Debug, Clone)]
pub enum Action {
    /// Written in place: a new file, an edit, or the same text again.
    Write { name: &'static str, splits: u8 },
    /// An editor's atomic save: written elsewhere, renamed over the file.
    AtomicSave { name: &'static str, splits: u8 },
    /// Renamed to another name (over it if it exists); nothing when there is no such file.
    Rename {
        from: &'static str,
        to: &'static str,
    },
    /// Deleted; nothing when there is no such file.
    Delete { name: &'static str },
    /// A ConfigMap generation holding exactly these catalogs, swapped in as the kubelet does.
    Swap {
        catalogs: BTreeMap<&'static str, u8>,
    },
    /// The coordinator restarts and forgets its catalogs (memory store); with `while_down`, that
    /// ConfigMap generation is swapped in while it is down.
    RestartCoordinator {
        while_down: Option<BTreeMap<&'static str, u8>>,
    },
}

/// A model catalog's file.
pub fn definition(splits: u8) -> String {
    format!("connector.name=tpch\ntpch.splits-per-node={splits}\n")
}

/// The finished `CREATE CATALOG` a coordinator records for a model file, as `STATE SQL`.
pub fn create_statement(name: &str, text: &str) -> String {
    let splits = text.lines().nth(1).unwrap().rsplit('=').next().unwrap();
    format!(
        "FINISHED CREATE CATALOG \"{name}\" USING tpch WITH (\"tpch.splits-per-node\" = '{splits}')"
    )
}

/// The finished `DROP CATALOG` of a model catalog, as `STATE SQL`.
pub fn drop_statement(name: &str) -> String {
    format!("FINISHED DROP CATALOG \"{name}\"")
}

/// A step of a sequence that shrinking may drop: proptest shrinks `Some` to `None`, and a `None`
/// step does nothing. It is drawn as `Some` (`None` once in a billion draws, as proptest wants a
/// probability below one).
fn step(action: impl Strategy<Value = Action>) -> impl Strategy<Value = Option<Action>> {
    prop::option::weighted(1.0 - 1e-9, action)
}

/// What a person or a tool does to a folder of `names`: a write in place (2 in 7, or 2 in 6
/// without restarts), an atomic save, a rename, a delete (2), and with `restarts` a coordinator
/// restart; definitions with 1 to 3 splits.
pub fn folder_action(names: &'static [&'static str], restarts: bool) -> BoxedStrategy<Action> {
    let name = || prop::sample::select(names);
    let splits = || 1..=3u8;
    let edits = prop_oneof![
        2 => (name(), splits()).prop_map(|(name, splits)| Action::Write { name, splits }),
        1 => (name(), splits()).prop_map(|(name, splits)| Action::AtomicSave { name, splits }),
        1 => (name(), name()).prop_map(|(from, to)| Action::Rename { from, to }),
        2 => name().prop_map(|name| Action::Delete { name }),
    ];
    if restarts {
        prop_oneof![
            6 => edits,
            1 => Just(Action::RestartCoordinator { while_down: None }),
        ]
        .boxed()
    } else {
        edits.boxed()
    }
}

/// `steps` of [`folder_action`].
pub fn folder_history(
    names: &'static [&'static str],
    steps: usize,
    restarts: bool,
) -> impl Strategy<Value = Vec<Option<Action>>> {
    prop::collection::vec(step(folder_action(names, restarts)), steps)
}

/// A ConfigMap generation: each of `names` in it two times in three, with 1 to `max_splits`
/// splits.
pub fn generation(
    names: &'static [&'static str],
    max_splits: u8,
) -> impl Strategy<Value = BTreeMap<&'static str, u8>> + Clone {
    prop::collection::vec(
        prop::option::weighted(2.0 / 3.0, 1..=max_splits),
        names.len(),
    )
    .prop_map(move |splits| {
        names
            .iter()
            .zip(splits)
            .filter_map(|(name, splits)| Some((*name, splits?)))
            .collect()
    })
}

/// `steps` ConfigMap generations (definitions with 1 or 2 splits) swapped in one after the other;
/// with `restart_every: Some(n)`, every n-th step restarts the coordinator instead — alone, or
/// with the next generation swapped in while it is down.
pub fn configmap_history(
    names: &'static [&'static str],
    steps: usize,
    restart_every: Option<usize>,
) -> impl Strategy<Value = Vec<Option<Action>>> {
    let swap = generation(names, 2).prop_map(|catalogs| Action::Swap { catalogs });
    let restart = prop_oneof![
        Just(Action::RestartCoordinator { while_down: None }),
        generation(names, 2).prop_map(|g| Action::RestartCoordinator {
            while_down: Some(g)
        }),
    ];
    (1..=steps)
        .map(|i| {
            if restart_every.is_some_and(|n| i % n == 0) {
                // Not dropped by shrinking: the test is about restarts.
                restart.clone().prop_map(Some).boxed()
            } else {
                step(swap.clone()).boxed()
            }
        })
        .collect::<Vec<_>>()
}

/// The coordinator of a model test, as the model sees it.
pub trait Engine {
    /// Which of `names` it lists now, in order.
    fn live(&self, names: &[&str]) -> Vec<String>;
    /// The `CREATE` and `DROP CATALOG` statements it received for `names` since the test began
    /// (across its restarts), as `STATE SQL`, oldest first.
    fn statements(&self, names: &[&str]) -> Vec<String>;
    /// Stops it, runs `while_down`, starts it again: it forgets its catalogs (memory store).
    fn restart(&mut self, while_down: &mut dyn FnMut());
    /// How long a step may take to settle (a real engine is slower than the emulator).
    fn patience(&self) -> Duration;
    /// The quiet moment after a step settled, in which anything more would show.
    fn quiet(&self) -> Duration;
}

/// The emulator serves a model test alone: every catalog it lists and every change it records
/// counts, whatever its name.
impl Engine for RunningEmulator {
    fn live(&self, _names: &[&str]) -> Vec<String> {
        self.user_catalogs()
    }
    fn statements(&self, _names: &[&str]) -> Vec<String> {
        changes(self)
    }
    fn restart(&mut self, while_down: &mut dyn FnMut()) {
        // Its record file carries on across the restart.
        self.stop();
        while_down();
        RunningEmulator::restart(self);
    }
    fn patience(&self) -> Duration {
        Duration::from_secs(20)
    }
    fn quiet(&self) -> Duration {
        Duration::from_millis(150)
    }
}

/// The model (catalog → definition) of a folder, and the folder itself.
pub struct Model<'a> {
    folder: &'a Folder,
    staging: Folder,
    catalogs: BTreeMap<&'static str, String>,
    next_generation: u32,
}

impl<'a> Model<'a> {
    /// An empty folder's model. For [`Action::Swap`] the folder is a ConfigMap volume with an
    /// empty generation 0 (`Scenario::with_configmap(0, [])`); the model's swaps count from 1.
    pub fn new(folder: &'a Folder) -> Model<'a> {
        Model {
            folder,
            staging: Folder::new(),
            catalogs: BTreeMap::new(),
            next_generation: 1,
        }
    }

    /// The catalogs the coordinator must run.
    pub fn catalogs(&self) -> &BTreeMap<&'static str, String> {
        &self.catalogs
    }

    /// Applies `action` to the folder (and `coordinator`) and to the model; returns the
    /// statements the coordinator must receive for it.
    pub fn apply(&mut self, action: &Action, coordinator: &mut impl Engine) -> Vec<String> {
        let mut needed = Vec::new();
        match action {
            Action::Write { name, splits } => {
                let text = definition(*splits);
                self.folder.write(&file(name), &text);
                self.replace(name, text, &mut needed);
            }
            Action::AtomicSave { name, splits } => {
                let text = definition(*splits);
                self.staging.write(&file(name), &text);
                std::fs::rename(
                    self.staging.file(&file(name)),
                    self.folder.file(&file(name)),
                )
                .unwrap();
                self.replace(name, text, &mut needed);
            }
            Action::Rename { from, to } => {
                if from != to
                    && let Some(moved) = self.catalogs.remove(from)
                {
                    self.folder.rename(&file(from), &file(to));
                    needed.push(drop_statement(from));
                    self.replace(to, moved, &mut needed);
                }
            }
            Action::Delete { name } => {
                if self.catalogs.remove(name).is_some() {
                    self.folder.remove(&file(name));
                    needed.push(drop_statement(name));
                }
            }
            Action::Swap { catalogs } => {
                let next = texts(catalogs);
                let names: std::collections::BTreeSet<&str> =
                    self.catalogs.keys().chain(next.keys()).copied().collect();
                for name in names {
                    match (self.catalogs.get(name), next.get(name)) {
                        (None, Some(new)) => needed.push(create_statement(name, new)),
                        (Some(_), None) => needed.push(drop_statement(name)),
                        (Some(old), Some(new)) if old != new => {
                            needed.push(drop_statement(name));
                            needed.push(create_statement(name, new));
                        }
                        _ => {}
                    }
                }
                swap(self.folder, self.next_generation, catalogs);
                self.next_generation += 1;
                self.catalogs = next;
            }
            Action::RestartCoordinator { while_down } => {
                let generation = self.next_generation;
                let folder = self.folder;
                coordinator.restart(&mut || {
                    if let Some(catalogs) = while_down {
                        swap(folder, generation, catalogs);
                    }
                });
                if let Some(catalogs) = while_down {
                    self.next_generation += 1;
                    self.catalogs = texts(catalogs);
                }
                // The new process has forgotten every catalog: each is created once more.
                needed = self
                    .catalogs
                    .iter()
                    .map(|(name, text)| create_statement(name, text))
                    .collect();
            }
        }
        needed
    }

    fn replace(&mut self, name: &'static str, text: String, needed: &mut Vec<String>) {
        match self.catalogs.get(name) {
            None => needed.push(create_statement(name, &text)),
            Some(old) if *old != text => {
                needed.push(drop_statement(name));
                needed.push(create_statement(name, &text));
            }
            Some(_) => {}
        }
        self.catalogs.insert(name, text);
    }
}

fn file(name: &str) -> String {
    format!("{name}.properties")
}

fn texts(catalogs: &BTreeMap<&'static str, u8>) -> BTreeMap<&'static str, String> {
    catalogs
        .iter()
        .map(|(name, splits)| (*name, definition(*splits)))
        .collect()
}

fn swap(folder: &Folder, generation: u32, catalogs: &BTreeMap<&'static str, u8>) {
    let files: Vec<(String, String)> = catalogs
        .iter()
        .map(|(name, splits)| (file(name), definition(*splits)))
        .collect();
    kubelet_update(folder.path(), generation, &files);
}

/// The end of a model step: waits until the coordinator lists exactly the model's catalogs among
/// `names`, has received at least the `needed` statements since the first `before` it recorded,
/// and the agent has converged; then, after a quiet moment, requires those statements to be
/// exactly `needed`.
pub fn assert_step(
    coordinator: &impl Engine,
    agent: &RunningAgent,
    names: &[&str],
    model: &Model,
    before: usize,
    mut needed: Vec<String>,
    context: &str,
) {
    let want: Vec<&str> = model.catalogs.keys().copied().collect();
    wait_for(coordinator.patience(), context, || {
        (coordinator.live(names) == want
            && coordinator.statements(names).len() - before >= needed.len()
            && agent.status()["last_pass"]["result"] == "converged")
            .then_some(())
    });
    std::thread::sleep(coordinator.quiet());
    let mut sent = coordinator.statements(names)[before..].to_vec();
    sent.sort();
    needed.sort();
    assert_eq!(sent, needed, "{context}");
}

/// Runs `actions` one after the other on `model`'s folder (which `agent` watches) and on
/// `coordinator`, asserting each step ([`assert_step`]).
pub fn run_steps(
    actions: &[Option<Action>],
    model: &mut Model,
    coordinator: &mut impl Engine,
    agent: &RunningAgent,
    names: &[&str],
) {
    for (step, action) in actions.iter().enumerate() {
        let before = coordinator.statements(names).len();
        let needed = match action {
            Some(action) => model.apply(action, coordinator),
            None => Vec::new(),
        };
        let context = format!("step {step} ({action:?}), model {:?}", model.catalogs);
        assert_step(coordinator, agent, names, model, before, needed, &context);
    }
}

/// `MODEL_STEPS`, or `default`.
pub fn steps(default: usize) -> usize {
    env_or("MODEL_STEPS", default)
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How many sequences a model test runs, and how hard it shrinks one that fails.
pub struct Runs {
    /// Its seed, unless `MODEL_SEED` says another.
    pub seed: u64,
    /// How many sequences (each replays against real processes: one, as a rule).
    pub cases: u32,
    /// How many reruns shrinking may take, unless `MODEL_SHRINK_ITERS` says otherwise.
    pub shrink_iters: u32,
}

/// Runs `test` on `runs.cases` sequences drawn from `strategy` by a runner with a fixed seed: the
/// same sequences on every run. A failure panics with the seed and the smallest failing sequence
/// shrinking found.
pub fn check_sequences<S>(
    runs: Runs,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let seed = env_or("MODEL_SEED", runs.seed);
    let config = Config {
        cases: runs.cases,
        max_shrink_iters: env_or("MODEL_SHRINK_ITERS", runs.shrink_iters),
        // The seed says what ran; a file of failures would run them again besides.
        failure_persistence: None,
        ..Config::default()
    };
    let bytes: Vec<u8> = seed.to_le_bytes().repeat(4);
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    match runner.run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(reason, sequence)) => panic!(
            "{reason}\nthe smallest failing sequence found (MODEL_SEED={seed}): {sequence:#?}"
        ),
        Err(TestError::Abort(reason)) => panic!("aborted (MODEL_SEED={seed}): {reason}"),
    }
}
