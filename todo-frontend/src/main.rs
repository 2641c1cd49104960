use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = todo_frontend::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("todo-frontend", &service, |listener| {
        todo_frontend::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
