//! The vocabulary every Junction crate shares: the classified [`Error`], the secret [`mask`], and
//! wall-clock helpers. This crate stays small and dependency-light so every other crate can use it.
#![forbid(unsafe_code)]

pub mod database;
pub mod error;
pub mod mask;
pub mod pii;
pub mod scope;
pub mod time;
pub mod units;

pub use database::{DatabaseUrl, StoreOptions};
pub use error::{Code, Error, Origin};
