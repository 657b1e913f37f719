//! `logreg`, the command line: clap parses the flags ([`cli`]), the command runs, and any error is
//! one line on standard error with exit status 2.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// clap's error, folded onto one line (its hints joined with "; ").
fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    lines.join("; ")
}

/// What the command line adds to a library error: the flags that are a way forward.
fn hint(err: &anyhow::Error) -> &'static str {
    match err.chain().find_map(|e| e.downcast_ref::<logreg::Error>()) {
        Some(logreg::Error::GpuOutOfMemory { .. }) => {
            "; use --device cpu (or, to train on a .npy file larger than memory, --stream)"
        }
        _ => "",
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            let _ = err.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("{}", one_line(&err));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Tutorial(args) => cli::tutorial::tutorial(args),
        Command::Parity(args) => cli::tutorial::parity(args),
        Command::Train(args) => cli::train::train(args),
        Command::Path(args) => cli::grid::path(args),
        Command::Cv(args) => cli::grid::cv(args),
        Command::Predict(args) => cli::score::predict(args),
        Command::Evaluate(args) => cli::score::evaluate(args),
        Command::Convert(args) => cli::convert::convert(args),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err:#}{}", hint(&err));
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_gpu_memory_gets_the_flags_that_are_a_way_forward() {
        let oom =
            logreg::Error::GpuOutOfMemory { size: "2.00 GiB".into(), device: "cuda:0".into(), free: String::new() };
        let err = anyhow::Error::from(oom).context("--data big.npy");
        assert_eq!(
            format!("{err:#}{}", hint(&err)),
            "--data big.npy: out of GPU memory: 2.00 GiB did not fit on cuda:0; \
             use --device cpu (or, to train on a .npy file larger than memory, --stream)"
        );
        assert_eq!(hint(&anyhow::anyhow!("another error")), "");
    }
}
