//! Confab's integration tests, one binary so that `cargo test` links once.
//!
//! Each module drives the real server: spawned in-process on port 0 with
//! its own temporary database (`common::spawn_app`), or as the `confab`
//! binary for crash, restart and cluster runs (`common::Process`). Cluster
//! tests use the local PostgreSQL and Redis, each test with its own schema
//! and key prefix. `store` runs one storage suite against SQLite and
//! PostgreSQL. Run one module with `cargo test --test it store::`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod push_fakes;

mod accounts;
mod admin;
mod admission;
mod authz;
mod backpressure;
mod backup;
mod cluster;
mod crash;
mod crash_redis;
mod groups;
mod http_api;
mod media;
mod messaging;
mod ops;
mod parsers;
mod push;
mod push_endpoints;
mod realtime;
mod rolling;
mod security;
mod security_store;
mod store;
