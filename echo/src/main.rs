//! `echo`: parse the configuration and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = echo::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("echo", &service, |listener| {
        echo::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
