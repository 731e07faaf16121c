//! One error type for the whole program, carrying the exit-code class.
//!
//! Errors are created where they arise (with the file, field, worker or
//! command they concern) and rendered exactly once, in `main`.

use std::fmt;

/// What kind of failure an error is; decides the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad flags, a missing or uninitialised bucket, a busy bucket: exit 2.
    Usage,
    /// Malformed or invalid input files or values: exit 2.
    Input,
    /// The operation itself failed (IO, journal, remote command): exit 1.
    Operation,
}

/// The program's error: a kind plus a human message with its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Bad usage: wrong flags, wrong place, bucket not initialised.
    pub fn usage(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Usage, message: message.into() }
    }

    /// Bad input: a file or value the operator supplied is invalid.
    pub fn input(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Input, message: message.into() }
    }

    /// A failed operation (IO, storage, remote).
    pub fn op(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Operation, message: message.into() }
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The rendered message (without the kind).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Process exit code for this error: 2 for usage/input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage | ErrorKind::Input => 2,
            ErrorKind::Operation => 1,
        }
    }

    /// Prefix the message with what was being done, keeping the kind.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error { kind: self.kind, message: format!("{what}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Attach context to any displayable error, turning it into an [`Error`].
pub trait Context<T> {
    /// Wrap the error as an operation failure with `what` in front.
    fn context(self, what: impl fmt::Display) -> Result<T>;
    /// Like [`Context::context`] but builds the text lazily.
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::op(format!("{what}: {e}")))
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::op(format!("{}: {e}", f())))
    }
}

/// Any library error (IO, storage, SQLite, JSON, …) becomes an operation
/// failure carrying its message, so the shell can use `?` on them. This is
/// why [`Error`] itself does not implement `std::error::Error` (the same
/// trick `anyhow` uses): the blanket impl would otherwise overlap with
/// `From<T> for T`. Input and usage errors are always made on purpose with
/// [`Error::input`] / [`Error::usage`], never by conversion.
impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Error::op(e.to_string())
    }
}
