//! Events in async code (feature `tokio`): the subscription is a
//! `futures_core::Stream` driven by tokio's reactor; a dump, which is
//! blocking, runs on tokio's blocking pool.
//!
//!   sudo cargo run --example async_events --features tokio [NETNS]

use std::ops::ControlFlow;
use std::time::Duration;

use ctctl::async_events::Notice;
use ctctl::{Conntrack, EventOptions, Filter};
use futures_core::Stream;

/// The next item of a stream (what `StreamExt::next` does, without the
/// futures crate).
async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ctctl::Error> {
    let netns = std::env::args().nth(1);
    let ct = match &netns {
        Some(ns) => Conntrack::in_netns(ns)?,
        None => Conntrack::open()?,
    };
    let mut events = ct.events_async(&EventOptions::default(), &Filter::all())?;
    // The table as it is now, counted off the runtime's threads.
    let count = tokio::task::spawn_blocking(move || {
        let mut ct = ct;
        let mut n = 0u64;
        ct.for_each(&Filter::all(), |_| {
            n += 1;
            ControlFlow::Continue(())
        })
        .map(|()| n)
    })
    .await
    .expect("the dump task")?;
    println!("{count} entries now");
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            item = next(&mut events) => match item {
                Some(Ok(Notice::Event(e))) => println!("{:?} {}", e.kind, e.flow.orig),
                Some(Ok(Notice::Overrun)) => eprintln!("events lost: re-read the table"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            },
        }
    }
    Ok(())
}
