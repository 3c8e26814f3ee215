//! The `hotline` command; everything it does is in [`hotline::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    match hotline::cli::run(hotline::cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hotline: {}", hotline::cli::error_text(&e));
            ExitCode::FAILURE
        }
    }
}
