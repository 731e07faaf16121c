//! Signed history: operators sign what they did with the SSH keys they
//! already have.
//!
//! A hash chain detects edits only if its head is trusted: anyone who can
//! write the bucket can re-hash everything after a change. With
//! `signing_key` in `maand.conf`, each session signs the chain head right
//! before it commits ([`crate::event::Event::SessionSigned`]): an OpenSSH
//! signature in the `ssh-keygen -Y sign` format (namespace
//! [`SIGNATURE_NAMESPACE`]) over [`signed_head_message`], which names the
//! session, the head's sequence number and its hash. Since that hash covers
//! every earlier record, one signature vouches for the whole journal up to
//! it; `maand-journal verify --allowed-signers FILE` checks them against an
//! `ssh-keygen` allowed-signers file, and real `ssh-keygen -Y verify` accepts
//! the same signature over the same message.
//!
//! The wire formats (keys, `SSHSIG`, PEM armour) come from the RustCrypto
//! `ssh-key` crate; the signature arithmetic from aws-lc-rs, maand's one
//! crypto backend. Keys: an unencrypted ed25519 key file under `secrets/`,
//! or any key held by the ssh-agent.

mod agent;
mod allowed;
mod check;
mod crypto;
mod signer;

pub use crate::event::{SIGNATURE_NAMESPACE, signed_head_message};
pub use allowed::{AllowedSigners, Signer as AllowedSigner};
pub use check::{SessionSignature, SignatureReport, SignatureStatus, check_signatures};
pub use crypto::{Verified, verify_armored};
pub use signer::Signer;
