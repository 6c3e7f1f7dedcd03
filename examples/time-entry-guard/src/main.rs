//! `time-entry-guard` binary: the gateway's configuration (environment and
//! arguments, as `clockify-gateway --help` lists them) with this add-on.

use std::process::ExitCode;

use clockify_gateway::{Config, startup::shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::from_env_or_exit();
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
    let app = time_entry_guard::builder(config).build().await?;
    tracing::info!("time entry guard listening on http://{}", app.addr());
    app.run_until(shutdown_signal()).await?;
    Ok(())
}
