//! SIGINT / SIGTERM (stop cleanly) and SIGHUP (reopen the output file),
//! recorded in flags. The handlers are installed without `SA_RESTART`, so a
//! blocking wait returns early and the loop sees the flag at once.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static TERMINATE: AtomicBool = AtomicBool::new(false);
static HANGUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_terminate(_: libc::c_int) {
    TERMINATE.store(true, Ordering::SeqCst);
}

extern "C" fn on_hangup(_: libc::c_int) {
    HANGUP.store(true, Ordering::SeqCst);
}

/// Installs the handlers.
///
/// # Errors
///
/// When the signal handlers cannot be installed.
pub fn install() -> nix::Result<()> {
    let term = SigAction::new(
        SigHandler::Handler(on_terminate),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let hup = SigAction::new(
        SigHandler::Handler(on_hangup),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handlers only store to atomics, which is async-signal-safe.
    unsafe {
        sigaction(Signal::SIGINT, &term)?;
        sigaction(Signal::SIGTERM, &term)?;
        sigaction(Signal::SIGHUP, &hup)?;
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived.
pub fn terminated() -> bool {
    TERMINATE.load(Ordering::SeqCst)
}

/// Whether SIGHUP arrived since the last call.
pub fn take_hangup() -> bool {
    HANGUP.swap(false, Ordering::SeqCst)
}

/// The longest a wait for events lasts before the loop looks at its signal
/// flags again: a signal that lands just before the wait starts does not
/// interrupt it, so without this bound SIGTERM could go unseen until the
/// next event.
pub const SIGNAL_TICK: std::time::Duration = std::time::Duration::from_millis(250);
