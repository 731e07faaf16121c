//! The original maand's command names, accepted as aliases. Operators bring
//! scripts and cron lines written for it; each legacy spelling is rewritten
//! to today's before clap parses, with a one-line deprecation note so the
//! script can be updated at leisure (docs/migration.md lists them).

use std::ffi::OsString;

/// Rewrite legacy command names in `args` (program name first) to their
/// current spelling; the second value holds one deprecation note per alias
/// used.
pub fn rewrite(args: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let mut out = args;
    let mut notes = Vec::new();
    let Some(at) = command_index(&out) else {
        return (out, notes);
    };
    let word = out[at].to_str().unwrap_or_default().to_string();
    match word.as_str() {
        "jobcommand" | "job_command" => {
            out[at] = "hooks".into();
            notes.push(format!("`maand {word}` is the original's name of `maand hooks`; use `maand hooks`"));
            // The original's `--concurrency N` has no counterpart: batches
            // follow the hook contract (seed 001) instead.
            if let Some(i) = out.iter().position(|a| a == "--concurrency") {
                out.drain(i..(i + 2).min(out.len()));
                notes.push(
                    "`--concurrency` of the original's jobcommand is ignored: hooks run in the contract's batches"
                        .into(),
                );
            } else if let Some(i) = out.iter().position(|a| a.to_str().is_some_and(|s| s.starts_with("--concurrency=")))
            {
                out.remove(i);
                notes.push(
                    "`--concurrency` of the original's jobcommand is ignored: hooks run in the contract's batches"
                        .into(),
                );
            }
        }
        "cat" => {
            if let Some(sub) = out.get(at + 1).and_then(|s| s.to_str()).map(str::to_string) {
                let new = match sub.as_str() {
                    "job_commands" => Some("hooks"),
                    _ => None,
                };
                if let Some(new) = new {
                    out[at + 1] = new.into();
                    notes.push(format!("`maand cat {sub}` is the original's name of `maand cat {new}`; use that"));
                }
            }
        }
        _ => {}
    }
    (out, notes)
}

/// Index of the subcommand: the first argument that is neither a global
/// flag nor its value.
fn command_index(args: &[OsString]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_str()?;
        match a {
            "--bucket" | "--lock-wait" => i += 2,
            _ if a.starts_with('-') => i += 1,
            _ => return Some(i),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (Vec<String>, usize) {
        let (out, notes) = rewrite(args.iter().map(OsString::from).collect());
        (out.into_iter().map(|a| a.into_string().unwrap()).collect(), notes.len())
    }

    #[test]
    fn rewrites_legacy_names() {
        assert_eq!(run(&["maand", "jobcommand", "hook_x"]), (vec!["maand".into(), "hooks".into(), "hook_x".into()], 1));
        let (out, n) = run(&["maand", "--bucket", "b", "job_command", "hook_x", "--concurrency", "3", "api"]);
        assert_eq!(out, ["maand", "--bucket", "b", "hooks", "hook_x", "api"]);
        assert_eq!(n, 2);
        assert_eq!(run(&["maand", "cat", "job_commands"]).0, ["maand", "cat", "hooks"]);
        assert_eq!(run(&["maand", "cat", "jobs"]), (vec!["maand".into(), "cat".into(), "jobs".into()], 0));
        assert_eq!(run(&["maand", "hooks", "jobcommand"]).1, 0);
    }
}
