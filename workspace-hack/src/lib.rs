//! No code: this crate exists for its Cargo.toml, which cargo-hakari writes.
//!
//! Cargo compiles a dependency once per feature set. Without this crate,
//! `cargo test --workspace` compiles tokio, serde, reqwest, sqlx, tower-http
//! and others with the features that all members and their tests ask for
//! together, and `cargo build -p relay` afterwards compiles them again with
//! only relay's: tens of crates and half a minute for nothing. Every member
//! depends on this crate, which asks for the union of those features, so
//! every build of any member resolves them alike and reuses what is built.
//! `.config/hakari.toml` says how to regenerate it after a dependency change.
