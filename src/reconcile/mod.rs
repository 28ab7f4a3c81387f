//! One pass, as the README draws it: **observe** (the folder and what the engine runs,
//! [`observe`]) → **plan** (pure, [`crate::plan`], with what [`holds`] holds back and the mode
//! [`engine_view`] decides) → **apply** ([`apply_dynamic`]: CREATE/DROP CATALOG; [`restart`]:
//! render the coordinator's folder and restart its nodes, [`cluster`] the workers first) →
//! **verify** → **record** ([`record`]: per-catalog status from what the engine accepted;
//! [`book`]: the ledger). The [`Agent`] keeps each stage's memory between passes and only
//! orchestrates them; [`run`] drives passes one at a time.

mod agent;
mod apply_dynamic;
mod apply_restart;
mod book;
mod engine_view;
mod holds;
mod observe;
mod pass;
mod record;
mod roll;
mod rollback;
mod run;
mod settings;
mod stage;
mod verify;

pub use agent::Agent;
pub use pass::{PassError, PassFailure, PassReport, PassResult, Prepared, Trigger};
pub use run::run;
pub use settings::{RestartOptions, Settings};
