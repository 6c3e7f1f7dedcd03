//! `clockify-gateway` binary: configuration, logging and signal handling
//! around [`clockify_gateway::Application`].

use std::process::ExitCode;

use clockify_gateway::{Application, Config, startup::shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::from_env_or_exit();
    telemetry::init(config.log_format);

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
