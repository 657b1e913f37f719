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
        // At epoch 1 the loss is of the starting weights, before any step (full batch): the values
        // themselves overflow f32. Later, the steps are the likelier cause.
        Some(logreg::Error::Diverged { epoch: 1, .. }) => {
            ": the features may be too large for 32-bit floats: try --standardize (or a lower --lr)"
        }
        Some(logreg::Error::Diverged { .. }) => ": try a lower --lr (or --standardize)",
        _ => "",
    }
}

/// The exit status for `err`: 130 for a run stopped by Ctrl-C (as a shell reports SIGINT), else 2.
fn status(err: &anyhow::Error) -> u8 {
    let interrupted = err.chain().any(|e| {
        e.is::<cli::train::Interrupted>()
            || matches!(e.downcast_ref::<logreg::Error>(), Some(logreg::Error::Interrupted { .. }))
    });
    if interrupted {
        130
    } else {
        2
    }
}

/// The most `--threads` accepted: far past any machine's cores, far below what OpenMP cannot start.
const MAX_THREADS: i64 = 1024;

extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn _exit(status: i32) -> !;
}

/// SIGBUS: a memory-mapped input (`--stream`) was cut short by another process while a chunk of it
/// was in use. One line and exit 2, with only async-signal-safe calls (write, _exit).
extern "C" fn bus_error(_: i32) {
    const MESSAGE: &[u8] = b"error: an input file mapped into memory (--stream) shrank while it was read\n";
    // SAFETY: write(2) of a static buffer and _exit(2) are async-signal-safe.
    unsafe {
        write(2, MESSAGE.as_ptr(), MESSAGE.len());
        _exit(2);
    }
}

fn main() -> ExitCode {
    // SAFETY: SIGPIPE (13) back to its default action (SIG_DFL, 0), first thing (a plain libc call), so
    // that output into a closed pipe (`logreg predict … | head`) ends the process quietly as it
    // ends `cat`, instead of a failed write.
    unsafe { signal(13, 0) };
    // SAFETY: as above. SIGXFSZ (25) ignored (SIG_IGN, 1): past a file-size limit (`ulimit -f`) a
    // write then fails with EFBIG, which ends in one line and nothing written, instead of a kill.
    unsafe { signal(25, 1) };
    // SAFETY: as above; the handler makes only async-signal-safe calls.
    unsafe { signal(7, bus_error as extern "C" fn(i32) as usize) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            let _ = err.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        // `logreg` alone: the command list, as help prints it (folded, it would be one long line).
        Err(err) if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            return ExitCode::from(2);
        }
        Err(err) => {
            eprintln!("{}", one_line(&err));
            return ExitCode::from(2);
        }
    };
    match cli.threads {
        Some(n) if !(1..=MAX_THREADS).contains(&n) => {
            eprintln!("error: invalid --threads: {n} (must be between 1 and {MAX_THREADS})");
            return ExitCode::from(2);
        }
        Some(n) => tch::set_num_threads(n as i32),
        None => {}
    }
    cli::set_output(cli.json, cli.quiet);
    let result = match cli.command {
        Command::Tutorial(args) => cli::tutorial::tutorial(args),
        Command::Parity(args) => cli::tutorial::parity(args),
        Command::Train(args) => match cli::distributed::launch() {
            Ok(None) => cli::train::train(args),
            Ok(Some(launch)) => {
                let rank = launch.rank;
                cli::distributed::train(args, launch).map_err(|e| cli::distributed::named(e, rank))
            }
            Err(e) => Err(e),
        },
        Command::Path(args) => match cli::distributed::launch() {
            Err(e) => Err(e),
            Ok(Some(launch)) => {
                let rank = launch.rank;
                cli::distributed::path(args, launch).map_err(|e| cli::distributed::named(e, rank))
            }
            Ok(None) => cli::grid::path(args),
        },
        Command::Cv(args) => match cli::distributed::launch() {
            Err(e) => Err(e),
            Ok(Some(launch)) => {
                let rank = launch.rank;
                cli::distributed::cv(args, launch).map_err(|e| cli::distributed::named(e, rank))
            }
            Ok(None) => cli::grid::cv(args),
        },
        Command::Predict(args) => cli::score::predict(args),
        Command::Evaluate(args) => cli::score::evaluate(args),
        Command::Convert(args) => cli::convert::convert(args),
    };
    result.unwrap_or_else(|err| {
        // One write: a launcher's ranks share standard error, and a line written in pieces mixes.
        let line = format!("error: {}{}\n", cli::render(&err), hint(&err));
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        ExitCode::from(status(&err))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_help_text() {
        use clap::CommandFactory;
        let root = Cli::command();
        let mut missing = vec![];
        for sub in root.get_subcommands() {
            for arg in sub.get_arguments().chain(root.get_arguments()) {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{} --{id}", sub.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    #[test]
    fn every_subcommand_ends_its_help_with_examples_that_parse() {
        let examples = cli::help_examples();
        for sub in ["tutorial", "parity", "train", "path", "cv", "predict", "convert", "evaluate"] {
            let n = examples.iter().filter(|(s, _)| s == sub).count();
            assert!((2..=3).contains(&n), "{sub}: {n} examples");
        }
        for (sub, line) in examples {
            assert!(line.starts_with(&format!("logreg {sub} ")), "{line}");
            if let Err(e) = Cli::try_parse_from(line.split_whitespace()) {
                panic!("{line}: {}", one_line(&e));
            }
        }
    }

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
        let diverged = anyhow::Error::from(logreg::Error::Diverged { epoch: 3, value: f64::NAN });
        assert_eq!(
            format!("{diverged:#}{}", hint(&diverged)),
            "loss became NaN at epoch 3: try a lower --lr (or --standardize)"
        );
        let at_start = anyhow::Error::from(logreg::Error::Diverged { epoch: 1, value: f64::INFINITY });
        assert!(cli::render(&at_start).ends_with("at epoch 1") && hint(&at_start).contains("try --standardize"));
        assert_eq!(hint(&anyhow::anyhow!("another error")), "");
    }
}
