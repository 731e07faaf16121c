//! What the operator sees while a long command runs (deploy batches and
//! gates, hook batches of `maand hooks` and `maand job run`, `job`,
//! `run_command`, `health_check` and `worker_facts` fan-outs): on a
//! terminal, one live line per step with a spinner and the elapsed time;
//! otherwise (pipes, CI, logs, `MAAND_PLAIN=1`) plain lines. `NO_COLOR` is
//! respected (indicatif draws no colors in these templates).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Whether to draw live progress: the human output goes to a terminal
/// (stdout, or stderr under `--json`) and `MAAND_PLAIN` is not set.
pub fn live() -> bool {
    let tty = if crate::output::json() { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
    tty && std::env::var_os("MAAND_PLAIN").is_none()
}

/// A running step (one batch, one gate).
pub struct Step {
    bar: Option<ProgressBar>,
    label: String,
}

/// Begin a step labelled `label`.
pub fn step(label: String) -> Step {
    begin(label, crate::output::stream)
}

/// Begin a step of a command whose stdout is its data (`run_command`,
/// `job`: the workers' output): without a live view its plain line goes to
/// stderr, so a pipe receives only that data.
pub fn step_aside(label: String) -> Step {
    begin(label, |line| eprintln!("{line}"))
}

/// Begin a phase of a command that already prints its result in one line
/// (`maand build`): a live view on a terminal, nothing otherwise (phase
/// timings for logs come with `MAAND_LOG=info`).
pub fn phase(label: String) -> Step {
    begin(label, |_| {})
}

fn begin(label: String, plain: fn(&str)) -> Step {
    if live() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        Step { bar: Some(bar), label }
    } else {
        plain(&format!("  {label}"));
        Step { bar: None, label }
    }
}

impl Step {
    /// Finish with an outcome word (`ok`, `failed`, ...).
    pub fn finish(mut self, outcome: &str) {
        if let Some(bar) = self.bar.take() {
            let secs = bar.elapsed().as_secs_f64();
            bar.finish_and_clear();
            crate::output::stream(&format!("  {} — {outcome} ({secs:.1}s)", self.label));
        }
    }
}

/// A step abandoned by an error (`?`) clears its live line, so the error
/// printed next stands alone.
impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
