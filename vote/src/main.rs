use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = vote::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("vote", &service, |listener| {
        vote::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
