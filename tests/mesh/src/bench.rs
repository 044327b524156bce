//! What the mesh benches share: a markdown row of latency percentiles, and a closed-loop
//! load of concurrent clients.

use std::time::{Duration, Instant};

use platform::testing::bench::{ms, percentile};

/// `| name | p50 | p90 | p99 | max | per second |` of the latencies `v` measured over `wall`.
pub fn row(name: &str, mut v: Vec<Duration>, wall: Duration) -> String {
    v.sort();
    format!(
        "| {name} | {} | {} | {} | {} | {:.0} |",
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.9)),
        ms(percentile(&v, 0.99)),
        ms(*v.last().unwrap()),
        v.len() as f64 / wall.as_secs_f64()
    )
}

/// The `q` percentile of unsorted latencies, in seconds (for ratios).
pub fn quantile(v: &[Duration], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort();
    percentile(&v, q).as_secs_f64()
}

/// Runs `call` from `clients` tasks, each calling again as soon as the last call
/// returned, for `secs` seconds; every latency and the wall time.
pub async fn load<F, Fut>(clients: usize, secs: u64, call: F) -> (Vec<Duration>, Duration)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                while Instant::now() < until {
                    let t = Instant::now();
                    call().await;
                    out.push(t.elapsed());
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, started.elapsed())
}
