//! The `maand` binary: parse arguments, run, render any error once.

use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .init();
    let cli = maand::cli::Cli::parse();
    if let Err(e) = maand::cli::run(cli) {
        eprintln!("maand: error: {e}");
        std::process::exit(e.exit_code());
    }
}
