//! `project-budget` binary: the gateway's configuration (environment and
//! arguments, as `clockify-gateway --help` lists them) with this add-on.

use std::process::ExitCode;

use clockify_gateway::{Config, startup::shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env_and_args(std::env::args_os()) {
        Ok(c) => c,
        Err(clockify_gateway::config::ConfigParse::Exit(e)) => e.exit(),
        Err(clockify_gateway::config::ConfigParse::Invalid(line)) => {
            eprintln!("error: {line}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.log_format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = project_budget::builder(config).build().await?;
    tracing::info!("project budget listening on http://{}", app.addr());
    app.run_until(shutdown_signal()).await?;
    Ok(())
}
