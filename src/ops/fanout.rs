//! The one way maand runs work on many workers at once, with one failure
//! policy: every item gets exactly one result, in input order, and a
//! panicking task is a failure *of that item* carrying the panic message —
//! never a dropped result, never a success, never a crashed command.

use crate::error::{Error, Result};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// At most this many threads run at once (a batch of 10,000 allocations
/// does not start 10,000 threads; SSH fan-out beyond this gains nothing).
pub const MAX_THREADS: usize = 256;

/// Run `task` on every item in parallel and return one result per item, in
/// input order. `name` names an item in the failure made of a panic
/// (`worker 10.0.0.1: internal error: … panicked: …`).
pub fn fan_out<I, T, N, F>(items: &[I], name: N, task: F) -> Vec<Result<T>>
where
    I: Sync,
    T: Send,
    N: Fn(&I) -> String + Sync,
    F: Fn(&I) -> T + Sync,
{
    let run_one = |item: &I| -> Result<T> {
        catch_unwind(AssertUnwindSafe(|| task(item))).map_err(|payload| {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            Error::op(format!("{}: internal error: the task panicked: {msg}", name(item)))
        })
    };
    match items.len() {
        0 => Vec::new(),
        1 => vec![run_one(&items[0])],
        n => {
            let slots: Vec<Mutex<Option<Result<T>>>> = (0..n).map(|_| Mutex::new(None)).collect();
            let next = AtomicUsize::new(0);
            let spawned = std::thread::scope(|s| {
                let handles: Vec<_> = (0..n.min(MAX_THREADS))
                    .map(|_| {
                        s.spawn(|| {
                            loop {
                                let i = next.fetch_add(1, Ordering::SeqCst);
                                if i >= n {
                                    break;
                                }
                                let r = run_one(&items[i]);
                                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                            }
                        })
                    })
                    .collect();
                // run_one catches panics, so a thread can only die outside a
                // task; joining here keeps the scope from re-panicking.
                let joined: Vec<bool> = handles.into_iter().map(|h| h.join().is_ok()).collect();
                joined.into_iter().all(|ok| ok)
            });
            debug_assert!(spawned, "a fan-out thread died outside its task");
            slots
                .into_iter()
                .zip(items)
                .map(|(slot, item)| {
                    slot.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or_else(|| {
                        Err(Error::op(format!("{}: internal error: the task produced no result", name(item))))
                    })
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_in_order_and_a_panic_is_that_items_failure() {
        let items: Vec<u32> = (0..40).collect();
        let out = fan_out(
            &items,
            |i| format!("worker {i}"),
            |i| {
                if *i == 7 {
                    panic!("boom on {i}");
                }
                i * 2
            },
        );
        assert_eq!(out.len(), 40);
        for (i, r) in out.iter().enumerate() {
            if i == 7 {
                let e = r.as_ref().unwrap_err();
                assert_eq!(e.message(), "worker 7: internal error: the task panicked: boom on 7");
                assert_eq!(e.exit_code(), 1);
            } else {
                assert_eq!(r.as_ref().unwrap(), &(i as u32 * 2));
            }
        }
        let one = fan_out(&[1], |_| "w".into(), |_| -> u8 { panic!("alone") });
        assert!(one[0].as_ref().unwrap_err().message().contains("panicked: alone"));
        assert!(fan_out(&[] as &[u8], |_| String::new(), |_| 0).is_empty());
    }
}
