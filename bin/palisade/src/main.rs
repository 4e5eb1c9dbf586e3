//! `palisade`: the command-line front end. Thin: parsing, output and exit codes; the work is in
//! the library crates.

/// `println!` that ends the process quietly when stdout is closed (`palisade ... | head`)
/// instead of panicking.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod assertions;
mod bench;
mod cli;
mod defense;
mod demo;
mod inspect;
mod output;
mod record;
mod replay;
mod risk;
mod status;
mod verify;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: blocks are decoded on worker threads and freed on the thread that commits them;
/// the system allocator serialises that cross-thread traffic (replay with 2 workers ran 1.56x
/// one worker with it; see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for usage and config errors.
pub(crate) const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_tracing(args.log_format, args.verbose);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::dispatch(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: cli::LogFormat, verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn,palisade=info",
        1 => "info",
        _ => "debug",
    };
    let filter =
        EnvFilter::try_from_env("PALISADE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only for a person at a terminal, never into a file or a log collector.
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == cli::LogFormat::Json {
        b.json().init();
    } else {
        b.init();
    }
}
