use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = todo_backend::Config::parse();
    let service = config.service.clone();
    service_kit::run_main("todo-backend", &service, |listener| {
        todo_backend::run(listener, config, service_kit::shutdown_signal())
    })
    .await
}
