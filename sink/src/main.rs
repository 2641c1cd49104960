use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = sink::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("sink", &service, |listener| {
        sink::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
