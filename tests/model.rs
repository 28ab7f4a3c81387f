//! Model-based: a random sequence of what users and tools do to a folder — write, atomic save
//! (write elsewhere, rename in), rename, delete, write the same text again, and coordinator
//! restarts — applied to a real folder watched by the real agent, and to a model (file name →
//! text). After each step the engine's catalogs must be the model's, and the statements the
//! engine received for that step exactly the ones the model needs: nothing missing, nothing sent
//! twice, nothing sent for a step that changes nothing.
//!
//! `MODEL_SEED` and `MODEL_STEPS` change the sequence (the seed is printed on failure).

mod common;

use common::{Folder, agent, changes, kubelet_update, wait_for};
use std::collections::BTreeMap;
use std::time::Duration;
use test_support::emulator::Emulator;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

fn text(splits: usize) -> String {
    format!("connector.name=tpch\ntpch.splits-per-node={splits}\n")
}

fn create_statement(name: &str, text: &str) -> String {
    let splits = text.lines().nth(1).unwrap().rsplit('=').next().unwrap();
    format!(
        "FINISHED CREATE CATALOG \"{name}\" USING tpch WITH (\"tpch.splits-per-node\" = '{splits}')"
    )
}

fn drop_statement(name: &str) -> String {
    format!("FINISHED DROP CATALOG \"{name}\"")
}

#[test]
fn random_folder_histories_end_as_the_model_says_with_only_the_statements_it_needs() {
    let seed: u64 = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_127);
    let steps: usize = std::env::var("MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let mut rng = Rng(seed | 1);
    let mut engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let staging = Folder::new();
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms", "--resync-interval", "1s"])
        .args(["--max-changes-per-minute", "0"])
        .start();
    agent.wait_first_pass();
    let mut model: BTreeMap<&str, String> = BTreeMap::new();

    for step in 0..steps {
        let before = changes(&engine).len();
        let name = NAMES[rng.below(NAMES.len())];
        let file = format!("{name}.properties");
        let mut needed: Vec<String> = Vec::new();
        let what = match rng.below(7) {
            // Write in place (a new file, an edit, or the same text again).
            0 | 1 => {
                let new = text(1 + rng.below(3));
                match model.get(name) {
                    None => needed.push(create_statement(name, &new)),
                    Some(old) if *old != new => {
                        needed.push(drop_statement(name));
                        needed.push(create_statement(name, &new));
                    }
                    Some(_) => {}
                }
                folder.write(&file, &new);
                model.insert(name, new);
                "write"
            }
            // An editor's atomic save: written elsewhere, renamed over the file.
            2 => {
                let new = text(1 + rng.below(3));
                match model.get(name) {
                    None => needed.push(create_statement(name, &new)),
                    Some(old) if *old != new => {
                        needed.push(drop_statement(name));
                        needed.push(create_statement(name, &new));
                    }
                    Some(_) => {}
                }
                staging.write(&file, &new);
                std::fs::rename(staging.file(&file), folder.file(&file)).unwrap();
                model.insert(name, new);
                "atomic save"
            }
            // Rename to another name (over it if it exists).
            3 => {
                let to = NAMES[rng.below(NAMES.len())];
                match model.get(name).cloned() {
                    Some(moved) if to != name => {
                        needed.push(drop_statement(name));
                        match model.get(to) {
                            None => needed.push(create_statement(to, &moved)),
                            Some(old) if *old != moved => {
                                needed.push(drop_statement(to));
                                needed.push(create_statement(to, &moved));
                            }
                            Some(_) => {}
                        }
                        folder.rename(&file, &format!("{to}.properties"));
                        model.remove(name);
                        model.insert(to, moved);
                        "rename"
                    }
                    _ => "nothing to rename",
                }
            }
            // Delete.
            4 | 5 => {
                if model.remove(name).is_some() {
                    folder.remove(&file);
                    needed.push(drop_statement(name));
                    "delete"
                } else {
                    "nothing to delete"
                }
            }
            // The coordinator restarts and forgets its catalogs (memory store).
            _ => {
                for (name, text) in &model {
                    needed.push(create_statement(name, text));
                }
                engine.restart();
                "coordinator restart"
            }
        };
        let context = || format!("seed {seed}, step {step} ({what} {name}), model {model:?}");
        let want: Vec<String> = model.keys().map(|n| n.to_string()).collect();
        wait_for(Duration::from_secs(20), &context(), || {
            let mut live = engine.show_catalogs();
            live.retain(|c| c != "system");
            let sent = changes(&engine).len() - before;
            (live == want
                && sent >= needed.len()
                && agent.status()["last_pass"]["result"] == "converged")
                .then_some(())
        });
        // A quiet moment: anything more would show up now.
        std::thread::sleep(Duration::from_millis(150));
        let mut sent: Vec<String> = changes(&engine)[before..].to_vec();
        sent.sort();
        needed.sort();
        assert_eq!(sent, needed, "{}", context());
    }
}

/// A ConfigMap generation with these catalogs, written as the kubelet does.
fn configmap(root: &std::path::Path, generation: u32, catalogs: &BTreeMap<&str, String>) {
    let files: Vec<(String, &str)> = catalogs
        .iter()
        .map(|(name, text)| (format!("{name}.properties"), text.as_str()))
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (f.as_str(), *t)).collect();
    kubelet_update(root, generation, &files);
}

#[test]
fn random_configmap_generations_end_as_the_last_one_says_with_only_the_statements_it_needs() {
    let seed: u64 = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let steps: usize = std::env::var("MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let mut rng = Rng(seed | 1);
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let mut model: BTreeMap<&str, String> = BTreeMap::new();
    configmap(folder.path(), 0, &model);
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms", "--max-changes-per-minute", "0"])
        .start();
    agent.wait_first_pass();
    for generation in 1..=steps {
        let before = changes(&engine).len();
        let mut next: BTreeMap<&str, String> = BTreeMap::new();
        for name in NAMES {
            if rng.below(3) > 0 {
                next.insert(name, text(1 + rng.below(2)));
            }
        }
        let mut needed = Vec::new();
        for name in NAMES {
            match (model.get(name), next.get(name)) {
                (None, Some(new)) => needed.push(create_statement(name, new)),
                (Some(_), None) => needed.push(drop_statement(name)),
                (Some(old), Some(new)) if old != new => {
                    needed.push(drop_statement(name));
                    needed.push(create_statement(name, new));
                }
                _ => {}
            }
        }
        configmap(folder.path(), generation as u32, &next);
        model = next;
        let context = || format!("seed {seed}, generation {generation}, model {model:?}");
        let want: Vec<String> = model.keys().map(|n| n.to_string()).collect();
        wait_for(Duration::from_secs(20), &context(), || {
            let mut live = engine.show_catalogs();
            live.retain(|c| c != "system");
            let sent = changes(&engine).len() - before;
            (live == want
                && sent >= needed.len()
                && agent.status()["last_pass"]["result"] == "converged")
                .then_some(())
        });
        std::thread::sleep(Duration::from_millis(150));
        let mut sent: Vec<String> = changes(&engine)[before..].to_vec();
        sent.sort();
        needed.sort();
        assert_eq!(sent, needed, "{}", context());
    }
}
