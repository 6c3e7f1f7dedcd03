//! `clockify-gateway` binary: configuration, logging and signal handling
//! around [`clockify_gateway::Application`].

use std::process::ExitCode;

use clap::Parser;
use clockify_gateway::{Application, Config, startup::shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints its own message (naming the bad flag or env var) and exits.
    let config = Config::parse();
    telemetry::init(config.log_format);
    if let Err(problem) = config.validate() {
        eprintln!("error: {problem}");
        return ExitCode::FAILURE;
    }

    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line on stderr, independent of the log format, so an operator
            // sees why startup failed even when logs go elsewhere.
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(config).await?;
    tracing::info!("listening on http://{}", app.addr());
    app.run_until(shutdown_signal()).await?;
    Ok(())
}
