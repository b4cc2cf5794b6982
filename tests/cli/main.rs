#![allow(clippy::disallowed_methods)] // the harness itself reads the environment it runs in
//! The one integration-test binary. Every test runs the real `plat` binary in a hermetic
//! environment (temp HOME, XDG_* and PLAT_* dirs, no colour, fixed width).

#[macro_use]
mod support;
mod services;

mod accounts;
mod actions;
mod api;
mod approvals;
mod audit;
mod automation_steps;
mod automation_triggers;
mod automations;
mod backstage;
mod contract;
mod delegation;
mod envs;
mod faults;
mod groups;
mod idp_groups;
mod login;
mod queues;
mod readme;
mod runners;
mod scaffold;
mod scan;
mod spend;
mod storage;
mod tenants;
mod trust;
mod users;
