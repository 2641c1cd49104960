use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = sender::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("sender", &service, |listener| {
        // The transcript ("********  Sending ...", then the reply) goes to
        // stdout as the seed's script prints it; structured logs go to stderr.
        sender::run(
            listener,
            config,
            Box::new(std::io::stdout()),
            service_kit::shutdown_signal(),
        )
    })
    .await
}
