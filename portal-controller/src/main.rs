//! `portal-controller`: parse the configuration and hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use portal_controller::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let service = config.service.clone();
    service_kit::run_main("portal-controller", &service, |listener| {
        portal_controller::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
