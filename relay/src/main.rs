use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = relay::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("relay", &service, |listener| {
        relay::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
