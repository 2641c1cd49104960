use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = result::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("result", &service, |listener| {
        result::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
