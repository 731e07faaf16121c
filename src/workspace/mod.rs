//! Parsing and validating operator input files. Every input error is born
//! here, naming the file, the line and key (or field), and the reason.

mod toml_input;

pub use toml_input::{line_of_key, parse_toml};
