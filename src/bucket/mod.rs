//! A bucket on disk: its paths, settings, lock, journal, state and
//! projection, opened either for writing (one process, holding the lock,
//! running a journal session) or for reading (any number, never blocking).

mod conf;
mod import;
pub mod init;
mod lock;
mod open;
mod paths;
pub mod private;
mod recorder;
mod session;

pub use conf::{DEFAULT_CONF, LogFormat, MaandConf, SigningKey};
pub use lock::{BucketLock, Holder};
pub use open::{Bucket, BucketView, OpenOptions};
pub use paths::BucketPaths;
pub use recorder::{Detached, Recorder};
pub use session::{Session, session_info};
