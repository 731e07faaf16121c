//! Shell completions and man pages, both generated from the clap
//! definitions (never written by hand), for any clap command: `maand` and
//! `maand-journal` share this code.

use crate::error::{Context, Error, Result};
use clap_complete::Shell;
use std::path::Path;

/// Arguments of `completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

/// Arguments of `man`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write one page per command (`maand.1`, `maand-deploy.1`, …) into this
    /// directory instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// Print the completion script of `cmd` for `shell` to stdout.
pub fn completions(mut cmd: clap::Command, args: &CompletionsArgs) -> Result<()> {
    let name = cmd.get_name().to_string();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, name, &mut out);
    Ok(())
}

/// Print the main man page of `cmd`, or write every page into `--dir`.
pub fn man(cmd: clap::Command, args: &ManArgs) -> Result<()> {
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out).context("rendering the man page")?;
            use std::io::Write;
            std::io::stdout().lock().write_all(&out).context("writing the man page")?;
            Ok(())
        }
        Some(dir) => write_all_pages(cmd, dir),
    }
}

fn write_all_pages(cmd: clap::Command, dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::usage(format!("--dir {}: not a directory", dir.display())));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("writing man pages into {}", dir.display()))?;
    Ok(())
}
