//! Pure KV rules: which hook may read and write which namespace.

pub mod access;
