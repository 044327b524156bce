//! Load generator: bursts of signups and logins against the real auth-service binary (the
//! shared PostgreSQL and Kafka, a fresh database and topic suffix per process), sampling
//! the process's RSS from `/proc/<pid>/status` every 100 ms.
//!
//! For every binary in `AUTH_BINS` (`name=path,name=path`; default: this build's
//! `auth-service`, named `this`), one process is started and driven through
//! `BURSTS` bursts (default 3) at each concurrency in `CONCURRENCY` (default `4,8,16`),
//! each burst `BURST_SECS` long (default 15) followed by `IDLE_SECS` (default 5) of idle.
//! Every connection loops: sign up a new account, then log in to it (so both argon2id
//! paths run: hash and verify). A/B: build the old commit's binary once into a separate
//! directory and pass both, e.g.
//!
//! ```text
//! AUTH_BINS=before=target/baseline/auth-service,after=target/release/auth-service \
//!   cargo bench -p auth-service --bench signup_memory
//! ```
//!
//! Prints one Markdown table (also written to `target/bench-report/auth-memory.md`) and
//! the RSS timeline of each process to `target/bench-report/auth-rss-<name>.csv`.
//! Refusals (RESOURCE_EXHAUSTED from the hash limiter) are counted, not errors; any other
//! failure stops the bench.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::PathBuf,
    process::Stdio,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use contracts::auth::{auth_service_client::AuthServiceClient, LoginRequest, SignupRequest};
use platform::testing::{
    bench::{env_usize, ms, percentile, reachable},
    unique, watch_log, Infra,
};
use tonic::{transport::Channel, Code};

const PASSWORD: &str = "correct horse battery staple";
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing we need.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

/// RSS and thread count of a process, from `/proc/<pid>/status`.
fn status_of(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("Threads:")?))
}

fn mib(kib: u64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

/// One RSS sample: seconds since start, RSS in KiB, threads, phase label.
#[derive(Clone)]
struct Sample {
    t: f64,
    rss_kib: u64,
    threads: u64,
    phase: String,
}

#[derive(Default)]
struct Burst {
    signups: Vec<Duration>,
    logins: Vec<Duration>,
    refused: u64,
    wall: Duration,
    peak_kib: u64,
    peak_threads: u64,
    idle_after_kib: u64,
}

struct Process {
    child: tokio::process::Child,
    pid: u32,
    addr: String,
}

async fn start(bin: &str, infra: &Infra) -> Process {
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/signing.key.pem");
    let db = infra.fresh_database().await;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db)
        .env("GRPC_ADDR", "127.0.0.1:0")
        .env("KAFKA_BROKERS", &infra.brokers)
        .env("KAFKA_TOPIC_SUFFIX", format!("-{}", unique("bench")))
        .env("OUTBOX_INSTANCE", unique("auth-bench"))
        .env("JWT_PRIVATE_KEY_FILE", key)
        .env(
            "RUST_LOG",
            std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // Settings of the binary under test (e.g. PASSWORD_HASH_MEMORY_MIB) pass through.
    for (k, v) in std::env::vars() {
        if k.starts_with("PASSWORD_HASH_") || k.starts_with("MALLOC_") || k == "DATABASE_POOL_SIZE" {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let pid = child.id().expect("pid");
    let stdout = child.stdout.take().expect("stdout");
    let (addr, _lines) = watch_log(stdout, "serving", Duration::from_secs(60)).await;
    Process {
        child,
        pid,
        addr: format!("http://{addr}"),
    }
}

async fn client(addr: &str) -> AuthServiceClient<Channel> {
    // One channel (one HTTP/2 connection) per simulated client.
    let ch = Channel::from_shared(addr.to_owned())
        .expect("address")
        .connect()
        .await
        .expect("connect");
    AuthServiceClient::new(ch)
}

/// `clients` connections, each signing up and logging in until `secs` have passed.
async fn burst(addr: &str, clients: usize, secs: u64) -> Burst {
    let until = Instant::now() + Duration::from_secs(secs);
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut c = client(addr).await;
        let refused = refused.clone();
        tasks.push(tokio::spawn(async move {
            let (mut s, mut l) = (Vec::new(), Vec::new());
            while Instant::now() < until {
                let email = format!("{}@bench.example", unique("u"));
                let t = Instant::now();
                let r = c
                    .signup(SignupRequest {
                        email: email.clone(),
                        password: PASSWORD.into(),
                        display_name: "Bench User".into(),
                        default_currency: String::new(),
                        timezone: String::new(),
                    })
                    .await;
                match r {
                    Ok(_) => s.push(t.elapsed()),
                    Err(e) if e.code() == Code::ResourceExhausted => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Err(e) => panic!("signup failed: {e:?}"),
                }
                let t = Instant::now();
                let r = c
                    .login(LoginRequest {
                        email,
                        password: PASSWORD.into(),
                    })
                    .await;
                match r {
                    Ok(_) => l.push(t.elapsed()),
                    Err(e) if e.code() == Code::ResourceExhausted => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("login failed: {e:?}"),
                }
            }
            (s, l)
        }));
    }
    let mut b = Burst::default();
    for t in tasks {
        let (s, l) = t.await.expect("client task");
        b.signups.extend(s);
        b.logins.extend(l);
    }
    b.wall = started.elapsed();
    b.refused = refused.load(Ordering::Relaxed);
    b
}

fn rate(n: usize, wall: Duration) -> f64 {
    n as f64 / wall.as_secs_f64()
}

fn p99(v: &mut [Duration]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort();
    ms(percentile(v, 0.99))
}

async fn run() {
    let infra = Infra::from_env();
    if !reachable(&infra.pg_url) || !reachable(&infra.brokers) {
        eprintln!(
            "signup_memory: PostgreSQL ({}) or Kafka ({}) is not reachable; run `scripts/infra.sh up` and \
             `eval \"$(scripts/infra.sh env)\"` first",
            infra.pg_url, infra.brokers
        );
        std::process::exit(1);
    }
    let bins: Vec<(String, String)> = std::env::var("AUTH_BINS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            v.split(',')
                .map(|pair| {
                    let (name, path) = pair.split_once('=').unwrap_or_else(|| {
                        eprintln!("AUTH_BINS: {pair:?} is not name=path");
                        std::process::exit(2)
                    });
                    (name.trim().to_owned(), path.trim().to_owned())
                })
                .collect()
        })
        .unwrap_or_else(|| vec![("this".into(), env!("CARGO_BIN_EXE_auth-service").into())]);
    let bursts = env_usize("BURSTS", 3);
    let burst_secs = env_usize("BURST_SECS", 15) as u64;
    let idle_secs = env_usize("IDLE_SECS", 5) as u64;
    let levels: Vec<usize> = std::env::var("CONCURRENCY")
        .unwrap_or_else(|_| "4,8,16".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let sync_commit = synchronous_commit(&infra).await;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    let mut report = String::new();
    let _ = writeln!(
        report,
        "## auth-service RSS under signup+login bursts\n\n\
         {cores} cores; PostgreSQL synchronous_commit={sync_commit}; {bursts} bursts of {burst_secs} s \
         per concurrency, {idle_secs} s idle after each; RSS sampled every 100 ms from /proc. \
         Load client on the same machine.\n"
    );
    let _ = writeln!(
        report,
        "| binary | conns | burst | signups/s | logins/s | signup p99 | login p99 | refused | peak RSS MiB | idle RSS MiB after | peak threads |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut summary: BTreeMap<String, (f64, u64, u64)> = BTreeMap::new();
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-report");
    let _ = std::fs::create_dir_all(&out_dir);

    for (name, bin) in &bins {
        let mut p = start(bin, &infra).await;
        let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
        let phase = Arc::new(Mutex::new("idle".to_owned()));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (samples, phase, stop, pid) = (samples.clone(), phase.clone(), stop.clone(), p.pid);
            tokio::spawn(async move {
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if let Some((rss_kib, threads)) = status_of(pid) {
                        let phase = phase.lock().unwrap().clone();
                        samples.lock().unwrap().push(Sample {
                            t: t0.elapsed().as_secs_f64(),
                            rss_kib,
                            threads,
                            phase,
                        });
                    }
                    tokio::time::sleep(SAMPLE_EVERY).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle_start = status_of(p.pid).map_or(0, |s| s.0);
        let _ = writeln!(
            report,
            "| {name} | 0 | start | - | - | - | - | - | - | {} | - |",
            mib(idle_start)
        );
        let (mut all_s, mut peak_all, mut last_idle) = (0usize, 0u64, 0u64);
        let mut wall_all = Duration::ZERO;
        for &conns in &levels {
            for i in 1..=bursts {
                let label = format!("c{conns}-b{i}");
                *phase.lock().unwrap() = label.clone();
                let from = samples.lock().unwrap().len();
                let mut b = burst(&p.addr, conns, burst_secs).await;
                *phase.lock().unwrap() = format!("{label}-idle");
                tokio::time::sleep(Duration::from_secs(idle_secs)).await;
                {
                    let s = samples.lock().unwrap();
                    b.peak_kib = s[from..].iter().map(|x| x.rss_kib).max().unwrap_or(0);
                    b.peak_threads = s[from..].iter().map(|x| x.threads).max().unwrap_or(0);
                    b.idle_after_kib = s.last().map_or(0, |x| x.rss_kib);
                }
                all_s += b.signups.len();
                wall_all += b.wall;
                peak_all = peak_all.max(b.peak_kib);
                last_idle = b.idle_after_kib;
                let line = format!(
                    "| {name} | {conns} | {i} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} |",
                    rate(b.signups.len(), b.wall),
                    rate(b.logins.len(), b.wall),
                    p99(&mut b.signups),
                    p99(&mut b.logins),
                    b.refused,
                    mib(b.peak_kib),
                    mib(b.idle_after_kib),
                    b.peak_threads,
                );
                eprintln!("{line}");
                let _ = writeln!(report, "{line}");
            }
        }
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.await;
        let _ = p.child.kill().await;
        summary.insert(name.clone(), (rate(all_s, wall_all), peak_all, last_idle));
        let mut csv = String::from("t_s,rss_kib,threads,phase\n");
        for s in samples.lock().unwrap().iter() {
            let _ = writeln!(csv, "{:.1},{},{},{}", s.t, s.rss_kib, s.threads, s.phase);
        }
        let _ = std::fs::write(out_dir.join(format!("auth-rss-{name}.csv")), csv);
    }

    let _ = writeln!(
        report,
        "\n| binary | signups/s (all bursts) | peak RSS MiB | RSS MiB idle at the end |\n|---|---|---|---|"
    );
    for (name, (r, peak, idle)) in &summary {
        let _ = writeln!(report, "| {name} | {r:.1} | {} | {} |", mib(*peak), mib(*idle));
    }
    if let (Some(base), true) = (bins.first(), bins.len() > 1) {
        let base_rate = summary[&base.0].0;
        for (name, (r, _, _)) in &summary {
            if *name != base.0 {
                let _ = writeln!(
                    report,
                    "\nsignup throughput {name} / {}: ×{:.2}",
                    base.0,
                    r / base_rate
                );
            }
        }
    }
    println!("{report}");
    let _ = std::fs::write(out_dir.join("auth-memory.md"), &report);
}

async fn synchronous_commit(infra: &Infra) -> String {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        synchronous_commit: String,
    }
    let Ok(mut conn) = AsyncPgConnection::establish(&infra.pg_url).await else {
        return "unknown".into();
    };
    diesel::sql_query("SHOW synchronous_commit")
        .get_result::<Row>(&mut conn)
        .await
        .map_or_else(|_| "unknown".into(), |r| r.synchronous_commit)
}
