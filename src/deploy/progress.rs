//! What the operator sees while a deploy runs: on a terminal, one live line
//! per batch with a spinner and the elapsed time; otherwise (pipes, CI,
//! logs) plain lines. `NO_COLOR` is respected (indicatif draws no colors in
//! these templates).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A running step (one batch, one gate).
pub struct Step {
    bar: Option<ProgressBar>,
    label: String,
}

/// Begin a step labelled `label`.
pub fn step(label: String) -> Step {
    if std::io::stdout().is_terminal() && std::env::var_os("MAAND_PLAIN").is_none() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        Step { bar: Some(bar), label }
    } else {
        println!("  {label}");
        Step { bar: None, label }
    }
}

impl Step {
    /// Finish with an outcome word (`ok`, `failed`, ...).
    pub fn finish(self, outcome: &str) {
        if let Some(bar) = self.bar {
            let secs = bar.elapsed().as_secs_f64();
            bar.finish_and_clear();
            println!("  {} — {outcome} ({secs:.1}s)", self.label);
        }
    }
}
