//! Reading operator input files from disk into the core's typed workspace
//! model ([`maand_core::workspace`], re-exported here). The pure parsing of
//! each file's text lives in the core; this module owns the file system walk.

pub mod job_dir;
mod load;

pub use load::{RawWorkspace, assemble, assemble_noting, load, load_noting, read};
pub use maand_core::workspace::*;
