//! The `maand` binary: parse arguments, run, render any error once.

use clap::Parser;

// Loading state decodes millions of small strings from a snapshot; mimalloc
// makes that allocation-heavy path markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    maand::process::setup();
    // MAAND_LOG=info|debug shows what maand is doing (phase timings among it).
    let level = match std::env::var("MAAND_LOG").as_deref() {
        Ok("error") => tracing::Level::ERROR,
        Ok("info") => tracing::Level::INFO,
        Ok("debug") => tracing::Level::DEBUG,
        Ok("trace") => tracing::Level::TRACE,
        _ => tracing::Level::WARN,
    };
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).init();
    let (args, notes) = maand::cli::legacy::rewrite(std::env::args_os().collect());
    for note in notes {
        eprintln!("deprecated: {note}");
    }
    let cli = maand::cli::Cli::parse_from(args);
    let journal = maand::bucket::BucketPaths::new(cli.bucket.as_deref().unwrap_or(std::path::Path::new("."))).journal();
    if let Err(e) = maand::process::guard_journal(&journal, || maand::cli::run(cli)) {
        eprintln!("maand: error: {}", maand::process::render_error(&e));
        std::process::exit(e.exit_code());
    }
}
