//! Certificates: the bucket CA (and, later, leaf certificates it signs).
//! Key generation happens here, in the shell; events carry only public
//! facts (fingerprints, expiry).

mod ca;
pub mod inspect;
mod leaf;

pub use ca::{CaFiles, generate_ca, inspect_ca};
pub use leaf::{IssuedCert, issue_all};
