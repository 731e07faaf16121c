//! The workspace model and the pure parsing of each input file's text.
//! Every input error is born here or in the shell's file reading, naming the
//! file, the line and key (or field), and the reason.

pub mod bucket_files;
mod json_input;
pub mod manifest;
mod model;
pub mod names;
mod toml_input;
pub mod units;
pub mod version;
pub mod workers;

pub use json_input::parse_json;
pub use model::{JobFileSpec, JobInput, RESERVED_DIRS, SKIPPED_DIRS, ScriptKind, Workspace};
pub use toml_input::{line_of_key, parse_toml};
