use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = worker::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("worker", &service, |listener| {
        worker::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
