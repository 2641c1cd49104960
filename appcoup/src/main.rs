//! `appcoup`: parse the configuration and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    appcoup::main(appcoup::Config::parse()).await
}
