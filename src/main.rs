//! The `maand` binary: parse arguments, run, render any error once.

use clap::Parser;

// Loading state decodes millions of small strings from a snapshot; mimalloc
// makes that allocation-heavy path markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
