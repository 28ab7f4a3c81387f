//! Everything that talks to the coordinator: the client protocol ([`client`]), catalog operations
//! in dynamic mode ([`dynamic`]).

pub mod client;
pub mod dynamic;

pub use client::{Client, ClientConfig, EngineError, QueryError, ServerInfo};
