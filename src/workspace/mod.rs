//! Parsing and validating operator input files. Every input error is born
//! here, naming the file, the line and key (or field), and the reason.

pub mod bucket_files;
pub mod job_dir;
mod json_input;
mod load;
pub mod manifest;
pub mod names;
mod toml_input;
pub mod units;
pub mod version;
pub mod workers;

pub use json_input::parse_json;
pub use load::{JobInput, Workspace, load};
pub use toml_input::{line_of_key, parse_toml};
