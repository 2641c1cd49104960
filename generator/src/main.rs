//! `generator`: parse the configuration and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = generator::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("generator", &service, |listener| {
        generator::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
