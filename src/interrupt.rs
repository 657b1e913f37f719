//! Stop requests the exact solvers poll once per iteration: a process-wide one (set by the command
//! line's Ctrl-C handler) and, for the duration of `with_token`, a caller's own token on this
//! thread ([`crate::CancelToken`]).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static TOKEN: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Asks every running solver to stop at its next iteration.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested, process-wide or through this thread's token.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst) || TOKEN.with(|t| t.borrow().as_ref().is_some_and(|f| f.load(Ordering::SeqCst)))
}

/// Runs `work` with `token` (when given) as this thread's stop request, as well as the process's.
pub(crate) fn with_token<T>(token: Option<Arc<AtomicBool>>, work: impl FnOnce() -> T) -> T {
    /// Puts the previous token back however `work` ends, a panic included.
    struct Restore(Option<Arc<AtomicBool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            TOKEN.with(|t| *t.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(TOKEN.with(|t| t.replace(token)));
    work()
}

/// [`Error::Interrupted`] at `iteration` when a stop was requested.
pub(crate) fn check(iteration: usize) -> Result<()> {
    if requested() {
        Err(Error::Interrupted { step: "iteration", at: iteration })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_stops_only_the_work_it_was_given_to() {
        let token = Arc::new(AtomicBool::new(true));
        assert!(with_token(Some(token.clone()), || check(3)).is_err());
        assert!(check(3).is_ok(), "the token must not outlive with_token");
        let caught = std::panic::catch_unwind(|| with_token(Some(token.clone()), || panic!("an observer panicked")));
        assert!(caught.is_err());
        assert!(check(3).is_ok(), "a panic must not leave the token behind");
        token.store(false, Ordering::SeqCst);
        assert!(with_token(Some(token), || check(4)).is_ok());
    }
}
