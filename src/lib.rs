//! catalog-reloader: keeps a Trino or PrestoDB coordinator's catalogs in sync with a folder of
//! `NAME.properties` files.
//!
//! The flow runs one way (ARCHITECTURE.md draws it):
//! [`watch`] → [`scan`] (files → desired, via [`catalog`] and [`properties`]) →
//! [`plan::diff`] (desired × live × [`ledger`], pure) → [`engine`] (apply with [`sql`]) →
//! [`ledger`] + [`status`] + [`metrics`]. [`reconcile`] drives one pass at a time; [`server`] shows
//! what it recorded, and [`api`] takes catalog changes over HTTP into the folder; [`commands`] wires
//! the subcommands.

pub mod api;
pub mod catalog;
pub mod check;
pub mod clock;
pub mod commands;
pub mod config;
pub mod engine;
pub mod files;
pub mod follow;
pub mod health;
pub mod ledger;
pub mod metrics;
pub mod plan;
pub mod properties;
pub mod reconcile;
pub mod release;
pub mod render;
pub mod report;
pub mod scan;
pub mod server;
pub mod sql;
pub mod status;
pub mod watch;
