//! Reporters: each turns a finished [`super::ScanReport`] into data for one output format.
//! None of them prints; the caller writes the strings/values where they belong.

pub mod backstage;
pub mod document;
pub mod github;
pub mod json;
pub mod sarif;
pub mod stream;
pub mod table;
