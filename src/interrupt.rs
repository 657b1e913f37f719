//! A process-wide stop request (set by the command line's Ctrl-C handler), polled by the exact
//! solvers once per iteration.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every running solver to stop at its next iteration.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// [`Error::Interrupted`] at `iteration` when a stop was requested.
pub fn check(iteration: usize) -> Result<()> {
    if requested() {
        Err(Error::Interrupted { step: "iteration", at: iteration })
    } else {
        Ok(())
    }
}
