//! Parsing and validating operator input files. Every input error is born
//! here, naming the file, the line and key (or field), and the reason.

mod json_input;
pub mod manifest;
pub mod names;
mod toml_input;
pub mod units;
pub mod version;
pub mod workers;

pub use json_input::parse_json;
pub use toml_input::{line_of_key, parse_toml};
