//! The `visita` binary: parse the command line, load the configuration, run
//! the command. Exit status 2 means "your configuration or arguments are
//! wrong", 1 "something failed while running".

use clap::Parser;
use server::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Two rustls back-ends are compiled in (ring, aws-lc-rs, by different
    // crates): clients that ask rustls for "the" provider (the directory's
    // LDAP client) need one chosen for the process, or they panic.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let config = match server::config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    server::logging::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let outcome = server::commands::run(cli.command, config).await;
        server::commands::wait_for_background_tasks().await;
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(error.exit_code())
        }
    }
}
