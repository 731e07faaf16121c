//! Remote commands over a master connection without an `ssh` process.
//!
//! `ssh -S <socket> host cmd` costs a process and OpenSSL's start-up (about
//! 5 ms of CPU) only to hand the command and three file descriptors to the
//! master over its Unix socket (OpenSSH's PROTOCOL.mux). A deploy does that
//! several times per worker, so maand speaks that protocol itself through
//! `openssh-mux-client` (the openssh-rust project's client): the master
//! runs the session exactly as for `ssh`, on the connection whose host key
//! was pinned and proven.
//!
//! The command's standard output and error come back through pipes whose
//! write ends are passed to the master; its standard input is `/dev/null`.
//! A session the master ends without an exit status (the remote command
//! killed by a signal, the connection lost) has no exit code, as with `ssh`.

use openssh_mux_client::{Connection, NonZeroByteSlice, Session, SessionStatus};
use std::borrow::Cow;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

/// What a remote command left: exit code (`None`: no exit status), output.
#[derive(Debug)]
pub struct Ran {
    /// Exit code; `None` when the master reported none.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// Run `command` (a shell command line for the user's login shell, as
/// `ssh host command` sends it) through the master listening on `socket`.
/// An error means the session could not be opened (the caller may run
/// `ssh` instead); once opened, every outcome is a [`Ran`].
pub fn run(socket: &Path, command: &str) -> std::io::Result<Ran> {
    if tokio::runtime::Handle::try_current().is_ok() {
        // Inside an async task a runtime cannot be blocked on: `ssh` it is.
        return Err(std::io::Error::other("called from an async context"));
    }
    let cmd = NonZeroByteSlice::new(command.as_bytes())
        .ok_or_else(|| std::io::Error::other("a remote command cannot hold a NUL byte"))?;
    let (out_r, out_w) = std::io::pipe()?;
    let (err_r, err_w) = std::io::pipe()?;
    let stdin = std::fs::File::open("/dev/null")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let session = Session::builder().cmd(Cow::Borrowed(cmd)).build();
    let fds = [stdin.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()];
    let established = rt
        .block_on(async {
            let conn = Connection::connect(socket).await?;
            conn.open_new_session(&session, &fds).await
        })
        .map_err(std::io::Error::other)?;
    // The master holds its own copies now: ours must go for the readers to
    // see the end of the output when the command ends.
    drop((stdin, out_w, err_w));
    let stderr = std::thread::spawn(move || read_all(err_r));
    let stdout = read_all(out_r);
    let status = rt.block_on(established.wait());
    let stderr = stderr.join().unwrap_or_default();
    let code = match status {
        Ok(SessionStatus::Exited { exit_value }) => exit_value.map(|v| v as i32),
        Ok(SessionStatus::TtyAllocFail(_)) | Err(_) => None,
    };
    Ok(Ran { code, stdout, stderr })
}

fn read_all(mut r: std::io::PipeReader) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf
}
