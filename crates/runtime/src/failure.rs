//! User code fails by panicking (or a connector by returning an error, which the operator wrapper
//! turns into a panic with an [`OperatorError`] payload). Each chained operator catches the unwind,
//! records *which* operator failed in a thread-local slot (the innermost one wins, since it catches
//! first), and resumes unwinding; the task loop catches it for good and reports a
//! [`TaskFailure`](crate::error::TaskFailure). A panic hook keeps task threads from printing panic
//! noise; the failure is reported once, in the job result.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// A panic payload that carries an error of a source, sink or operator (not a user bug).
#[derive(Debug)]
pub struct OperatorError(pub String);

/// Fails the current operator with a message. Never returns.
pub fn fail(message: impl Into<String>) -> ! {
    panic::panic_any(OperatorError(message.into()))
}

/// A panic payload that stops a task because the job is being cancelled (not a failure).
#[derive(Debug)]
pub struct TaskCancelled;

/// Unwinds the current task because the job is being cancelled. Never returns.
pub fn cancelled() -> ! {
    panic::panic_any(TaskCancelled)
}

/// How a task body ended when it did not return.
#[derive(Debug, PartialEq, Eq)]
pub enum Unwound {
    /// The job is being cancelled.
    Cancelled,
    /// An operator failed.
    Failed { operator: String, message: String },
}

thread_local! {
    static IN_TASK: RefCell<bool> = const { RefCell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static FAILED_OPERATOR: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs the panic hook (once per process) and marks this thread as a task thread.
pub fn enter_task_thread() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_TASK.with(|t| *t.borrow()) {
                let msg = payload_message(info.payload());
                let msg = match info.location() {
                    Some(l) if !info.payload().is::<OperatorError>() => {
                        format!("{msg} (at {}:{})", l.file(), l.line())
                    }
                    _ => msg,
                };
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
            } else {
                previous(info);
            }
        }));
    });
    IN_TASK.with(|t| *t.borrow_mut() = true);
    FAILED_OPERATOR.with(|f| *f.borrow_mut() = None);
}

/// The text of a panic payload.
pub fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(e) = payload.downcast_ref::<OperatorError>() {
        e.0.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// Runs `f` as code of `operator`: if it unwinds, the operator and message are recorded (unless an
/// operator further down the chain already recorded itself) and the unwind continues.
#[inline]
pub fn guard<R>(operator: &str, f: impl FnOnce() -> R) -> R {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            record(operator, &*payload);
            panic::resume_unwind(payload)
        }
    }
}

fn record(operator: &str, payload: &(dyn Any + Send)) {
    if payload.is::<TaskCancelled>() {
        return;
    }
    FAILED_OPERATOR.with(|f| {
        let mut f = f.borrow_mut();
        if f.is_none() {
            let msg = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| payload_message(payload));
            *f = Some((operator.to_string(), msg));
        }
    });
}

/// Runs a whole task body; on unwind returns the failed operator and message (falling back to
/// `default_operator` when the panic happened outside any operator).
pub fn catch_task<R>(default_operator: &str, f: impl FnOnce() -> R) -> Result<R, Unwound> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(payload) if payload.is::<TaskCancelled>() => Err(Unwound::Cancelled),
        Err(payload) => {
            record(default_operator, &*payload);
            let (operator, message) = FAILED_OPERATOR
                .with(|f| f.borrow_mut().take())
                .unwrap_or_else(|| (default_operator.to_string(), payload_message(&*payload)));
            Err(Unwound::Failed { operator, message })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn innermost_operator_is_reported() {
        enter_task_thread();
        let r = catch_task("task", || {
            guard("outer", || guard("inner", || panic!("boom {}", 42)));
        });
        let Err(Unwound::Failed {
            operator: op,
            message: msg,
        }) = r
        else {
            panic!()
        };
        assert_eq!(op, "inner");
        assert!(msg.starts_with("boom 42 (at "), "{msg}");
    }

    #[test]
    fn operator_errors_carry_their_message_without_location() {
        enter_task_thread();
        let r = catch_task("task", || guard("sink", || fail("disk full")));
        assert_eq!(
            r,
            Err(Unwound::Failed {
                operator: "sink".into(),
                message: "disk full".into()
            })
        );
    }

    #[test]
    fn panics_outside_operators_name_the_task() {
        enter_task_thread();
        let r = catch_task("Source: x", || panic!("early"));
        assert!(matches!(r, Err(Unwound::Failed { operator, .. }) if operator == "Source: x"));
    }

    #[test]
    fn cancellation_is_not_a_failure() {
        enter_task_thread();
        let r = catch_task("task", || guard("op", || cancelled()));
        assert_eq!(r, Err(Unwound::Cancelled));
    }
}
