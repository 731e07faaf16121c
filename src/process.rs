//! Process-wide set-up shared by the `maand` and `maand-journal` binaries:
//! signal and resource-limit defaults, a guard turning a storage-engine
//! panic on a damaged journal into an ordinary error, and the one place an
//! error is rendered.

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::path::Path;

/// Call first thing in `main`.
///
/// - `SIGPIPE` back to its default: `maand cat … | head` ends quietly when
///   `head` exits, like other Unix tools (Rust ignores it by default, which
///   turns the next write into a panic). Sockets are written with
///   `MSG_NOSIGNAL` and children get no pipe from maand to write into, so
///   only stdout and stderr are affected.
/// - the open-files soft limit raised to the hard limit: the hook API, SSH
///   masters and rsync each hold descriptors, and a low soft limit must not
///   be what another local user exhausts first.
pub fn setup() {
    // SAFETY: plain libc calls on this process, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            // An unlimited hard limit is capped by the kernel's nr_open.
            let want = lim.rlim_max.min(1 << 20);
            lim.rlim_cur = want.max(lim.rlim_cur);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The open-files soft limit of this process.
pub fn open_files_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes only into `lim`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_cur
}

thread_local! {
    static STORAGE_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether a panic was raised inside the storage engine (redb), which does
/// so on some damaged files instead of returning an error.
fn from_storage(info: &std::panic::PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|l| l.file().contains("/redb-") || l.file().starts_with("redb-"))
}

/// Run `f` (a whole command), turning a storage-engine panic into an
/// operation error naming `journal` (exit 1, no backtrace). Other panics
/// are bugs and keep Rust's default report.
pub fn guard_journal<T>(journal: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if from_storage(info) {
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            let place = info
                .location()
                .map(|l| {
                    let file =
                        l.file().rsplit_once("/redb-").map_or(l.file().to_string(), |(_, f)| format!("redb-{f}"));
                    format!(" at {file}:{}", l.line())
                })
                .unwrap_or_default();
            STORAGE_PANIC.with(|p| *p.borrow_mut() = Some(format!("{what}{place}")));
        } else {
            previous(info);
        }
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => match STORAGE_PANIC.with(|p| p.borrow_mut().take()) {
            Some(what) => Err(Error::op(format!(
                "{}: the journal file is damaged: the storage engine stopped on it ({what}); \
                 restore data/journal.redb from a backup",
                journal.display()
            ))),
            None => std::panic::resume_unwind(payload),
        },
    }
}

/// The text of an error as printed: messages are cut to a readable length
/// (an input file may hold megabytes of one value, quoted by a parser).
pub fn render_error(e: &Error) -> String {
    const MAX: usize = 8 << 10;
    let m = e.message();
    if m.len() <= MAX {
        return m.to_string();
    }
    let mut end = MAX;
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes not shown)", &m[..end], m.len() - end)
}
