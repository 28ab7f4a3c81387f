//! Model-based: a random sequence of what users and tools do to a folder — write, atomic save
//! (write elsewhere, rename in), rename, delete, write the same text again, and coordinator
//! restarts — applied to a real folder watched by the real agent, and to a model (file name →
//! text). After each step the engine's catalogs must be the model's, and the statements the
//! engine received for that step exactly the ones the model needs: nothing missing, nothing sent
//! twice, nothing sent for a step that changes nothing.
//!
//! The sequences are proptest strategies (tests/common/model.rs), drawn with a fixed seed: one
//! sequence per test, the same on every run. `MODEL_SEED` and `MODEL_STEPS` change it (a failure
//! prints both and the smallest failing sequence shrinking found within `MODEL_SHRINK_ITERS`
//! reruns, 16 here: a rerun replays a whole sequence).

mod common;

use common::Scenario;
use common::model::{
    Model, Runs, check_sequences, configmap_history, folder_history, run_steps, steps,
};

const NAMES: &[&str] = &["a", "b", "c", "d", "e"];

#[test]
fn random_folder_histories_end_as_the_model_says_with_only_the_statements_it_needs() {
    let runs = Runs {
        seed: 20_261_127,
        cases: 1,
        shrink_iters: 16,
    };
    check_sequences(runs, folder_history(NAMES, steps(40), true), |actions| {
        let (mut engine, folder, agent) = Scenario::emulated_trino()
            .with_agent_args(["--debounce", "50ms", "--resync-interval", "1s"])
            .with_agent_args(["--max-changes-per-minute", "0"])
            .run_past_the_first_pass();
        run_steps(
            &actions,
            &mut Model::new(&folder),
            &mut engine,
            &agent,
            NAMES,
        );
        Ok(())
    });
}

#[test]
fn random_configmap_generations_end_as_the_last_one_says_with_only_the_statements_it_needs() {
    let runs = Runs {
        seed: 7,
        cases: 1,
        shrink_iters: 16,
    };
    check_sequences(runs, configmap_history(NAMES, steps(25), None), |actions| {
        let (mut engine, folder, agent) = Scenario::emulated_trino()
            .with_empty_configmap()
            .with_agent_args(["--debounce", "50ms", "--max-changes-per-minute", "0"])
            .run_past_the_first_pass();
        run_steps(
            &actions,
            &mut Model::new(&folder),
            &mut engine,
            &agent,
            NAMES,
        );
        Ok(())
    });
}
