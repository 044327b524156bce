//! The whole mesh for end-to-end tests: the real `auth-service`, `user-service`,
//! `expense-service`, `ds-service`, `budget-service` and `edge` binaries, started as child
//! processes on the project's PostgreSQL and Kafka (`scripts/infra.sh`), each mesh with its
//! own databases (one per service, ds- and budget-service's included), topic suffix and free
//! ports, so meshes of concurrent tests never meet.
//!
//! The binaries come from the same target directory as the test (`cargo test --workspace`
//! builds them; `cargo build --workspace --bins` otherwise), or from `MESH_BIN_DIR`.
//! Logs go to `target/mesh-tests/<mesh>/<process>.log` and are kept after the test.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use platform::testing::{unique, Infra};
use serde_json::Value;

pub mod bench;

/// One process of the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proc {
    Auth,
    User,
    Expense,
    Ds,
    Budget,
    Edge,
}

impl Proc {
    pub const SERVICES: [Proc; 5] = [Proc::Auth, Proc::User, Proc::Expense, Proc::Ds, Proc::Budget];

    pub fn binary(self) -> &'static str {
        match self {
            Proc::Auth => "auth-service",
            Proc::User => "user-service",
            Proc::Expense => "expense-service",
            Proc::Ds => "ds-service",
            Proc::Budget => "budget-service",
            Proc::Edge => "edge",
        }
    }

    /// Every service but the edge owns a database (ds keeps each user's extraction rules,
    /// budget its budgets, its projection of the expenses and the alerts).
    fn has_database(self) -> bool {
        !matches!(self, Proc::Edge)
    }
}

/// What to start, beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra environment for every process (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub env: Vec<(String, String)>,
    /// Requests per second the edge allows per consumer (default: high enough not to
    /// interfere with a test).
    pub rate_limit_per_second: Option<u32>,
}

/// A running mesh. Dropping it kills every process.
pub struct Mesh {
    pub infra: Infra,
    /// Appended to every topic and consumer group of this mesh.
    pub topic_suffix: String,
    /// Where the logs and the edge config are.
    pub dir: PathBuf,
    /// The edge's base URL, `http://127.0.0.1:<port>`.
    pub edge: String,
    pub http: reqwest::Client,
    ports: HashMap<Proc, u16>,
    /// Where each process serves `GET /metrics` (`METRICS_ADDR`).
    metrics_ports: HashMap<Proc, u16>,
    databases: HashMap<Proc, String>,
    bin_dir: PathBuf,
    procs: Mutex<HashMap<Proc, Child>>,
    extra_env: Vec<(String, String)>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test key pair the edge trusts (kid `dev-1`), shared with every service's tests.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("services/platform/tests/fixtures").join(name)
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MESH_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/<test or bench binary>, or target/<profile>/<binary> for the
    // crate's own tools (learning-curve).
    let exe = std::env::current_exe().expect("the running binary's path");
    let dir = exe.parent().expect("the binary's folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// A loopback port for a child process to listen on.
///
/// Taken below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`): a port from
/// `bind(127.0.0.1:0)` is released before the child binds it, and in that gap any outbound
/// connection of a concurrent mesh (to Kafka, PostgreSQL, another service) can be given it as its
/// local port, and the child then dies with "Address already in use" (seen in CI). Below the
/// range only listeners compete, so each port is handed out once per test binary, starting
/// at an offset chosen by pid, and checked free.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(LOWEST).max(1_000);
    let start = std::process::id().wrapping_mul(7_919) % span;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < span, "no free loopback port below the ephemeral range");
        let port = u16::try_from(LOWEST + (start + n) % span).expect("a port below 65536");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Mesh {
    /// Starts the five services and the edge and waits until the edge reports every
    /// upstream healthy.
    pub async fn start() -> Mesh {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Mesh {
        let infra = Infra::from_env();
        let id = unique("mesh");
        let bin_dir = bin_dir();
        for p in Proc::SERVICES.iter().chain([&Proc::Edge]) {
            let path = bin_dir.join(p.binary());
            assert!(
                path.exists(),
                "{} is missing: build the binaries first (`cargo build --workspace --bins`), \
                 or point MESH_BIN_DIR at them",
                path.display()
            );
        }
        let dir = repo_root().join("target/mesh-tests").join(&id);
        std::fs::create_dir_all(&dir).expect("the mesh's log folder");

        let mut ports = HashMap::new();
        let mut databases = HashMap::new();
        for p in Proc::SERVICES {
            ports.insert(p, free_port());
            if p.has_database() {
                databases.insert(p, infra.fresh_database().await);
            }
        }
        let edge_port = free_port();
        ports.insert(Proc::Edge, edge_port);
        let metrics_ports = ports.keys().map(|p| (*p, free_port())).collect();

        let _ = rustls::crypto::ring::default_provider().install_default();
        let mesh = Mesh {
            topic_suffix: format!(".{}", id),
            edge: format!("http://127.0.0.1:{edge_port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            infra,
            dir,
            ports,
            metrics_ports,
            databases,
            bin_dir,
            procs: Mutex::new(HashMap::new()),
            extra_env: options.env,
        };
        mesh.write_edge_config(options.rate_limit_per_second.unwrap_or(100_000));
        for p in Proc::SERVICES.iter().chain([&Proc::Edge]) {
            mesh.spawn(*p);
        }
        mesh.wait_healthy(Duration::from_secs(90)).await;
        // Every process serves its metrics once the mesh is up (unless switched off).
        let metrics_off = mesh
            .extra_env
            .iter()
            .any(|(k, v)| k == "METRICS_ADDR" && v == "off");
        for p in Proc::SERVICES
            .iter()
            .chain([&Proc::Edge])
            .filter(|_| !metrics_off)
        {
            let (status, body) = mesh.scrape(*p).await;
            assert_eq!(status, 200, "{} /metrics: {body}", p.binary());
        }
        mesh
    }

    pub fn port(&self, p: Proc) -> u16 {
        self.ports[&p]
    }

    /// The process's Prometheus endpoint, `http://127.0.0.1:<port>/metrics`.
    pub fn metrics_url(&self, p: Proc) -> String {
        format!("http://127.0.0.1:{}/metrics", self.metrics_ports[&p])
    }

    /// One scrape of the process's `/metrics` (status and text).
    pub async fn scrape(&self, p: Proc) -> (u16, String) {
        match self.http.get(self.metrics_url(p)).send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    /// The sum of a series of the process's `/metrics` over the samples matching `labels`
    /// (NaN when the scrape fails, so no comparison holds).
    pub async fn metric(&self, p: Proc, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.scrape(p).await {
            (200, text) => {
                platform::testing::metric_sum(&platform::testing::parse_metrics(&text), name, labels)
            }
            _ => f64::NAN,
        }
    }

    pub fn database_url(&self, p: Proc) -> &str {
        &self.databases[&p]
    }

    /// A topic of this mesh (the base name from `contracts::topics` plus the suffix).
    pub fn topic(&self, base: &str) -> String {
        format!("{base}{}", self.topic_suffix)
    }

    fn write_edge_config(&self, per_second: u32) {
        let mut upstreams = String::new();
        for (p, service) in [
            (Proc::Auth, "expense_tracker.auth.v1.AuthService"),
            (Proc::User, "expense_tracker.user.v1.UserService"),
            (Proc::Expense, "expense_tracker.expense.v1.ExpenseService"),
            (Proc::Ds, "expense_tracker.ds.v1.ExtractionService"),
            (Proc::Budget, "expense_tracker.budget.v1.BudgetService"),
        ] {
            upstreams.push_str(&format!(
                "  {service}:\n    address: http://127.0.0.1:{}\n    kong_host: x\n",
                self.ports[&p]
            ));
        }
        let config = format!(
            "listen: 127.0.0.1:{edge}\n\
             descriptor_set: builtin\n\
             proto_root: {proto}\n\
             upstreams:\n{upstreams}\
             public:\n  - expense_tracker.auth.v1.AuthService\n\
             jwt:\n  issuers:\n    - iss: expense-tracker\n      audience: expense-tracker-api\n      \
             public_key_file: {key}\n      kid: dev-1\n      consumer: expense-tracker-users\n\
             rate_limit:\n  limit_by: consumer\n  second: {per_second}\n  minute: {per_minute}\n\
             body_limit_bytes: 65536\n\
             correlation_id:\n  header_name: X-Request-Id\n  echo_downstream: true\n",
            edge = self.ports[&Proc::Edge],
            proto = repo_root().join("proto").display(),
            key = fixture("signing.pub.pem").display(),
            per_minute = per_second.saturating_mul(60),
        );
        std::fs::write(self.dir.join("edge.yaml"), config).expect("the edge config");
    }

    fn base_env(&self, p: Proc) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("KAFKA_BROKERS".into(), self.infra.brokers.clone()),
            ("KAFKA_TOPIC_SUFFIX".into(), self.topic_suffix.clone()),
            (
                "JWT_PUBLIC_KEY_FILE".into(),
                fixture("signing.pub.pem").display().to_string(),
            ),
            (
                "JWT_PRIVATE_KEY_FILE".into(),
                fixture("signing.key.pem").display().to_string(),
            ),
            ("JWT_KEY_ID".into(), "dev-1".into()),
            (
                "USER_SERVICE_ADDR".into(),
                format!("http://127.0.0.1:{}", self.ports[&Proc::User]),
            ),
            ("RUST_LOG".into(), "info".into()),
            ("OTEL_SERVICE_NAME".into(), p.binary().into()),
            // Meshes run in parallel: each relay needs its own Kafka transactional.id (the
            // same across a restart of the process, so the successor fences its predecessor).
            (
                "OUTBOX_INSTANCE".into(),
                self.topic_suffix.trim_start_matches('.').into(),
            ),
        ];
        env.push((
            "METRICS_ADDR".into(),
            format!("127.0.0.1:{}", self.metrics_ports[&p]),
        ));
        if p == Proc::Edge {
            env.push((
                "EDGE_CONFIG".into(),
                self.dir.join("edge.yaml").display().to_string(),
            ));
        } else {
            env.push(("GRPC_ADDR".into(), format!("127.0.0.1:{}", self.ports[&p])));
        }
        if let Some(url) = self.databases.get(&p) {
            env.push(("DATABASE_URL".into(), url.clone()));
        }
        env
    }

    fn log_file(&self, p: Proc) -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(p))
            .expect("a log file")
    }

    /// The process's log (JSON lines, appended across restarts).
    pub fn log_path(&self, p: Proc) -> PathBuf {
        self.dir.join(format!("{}.log", p.binary()))
    }

    pub fn log(&self, p: Proc) -> String {
        std::fs::read_to_string(self.log_path(p)).unwrap_or_default()
    }

    fn spawn(&self, p: Proc) {
        let mut env = self.base_env(p);
        env.extend(self.extra_env.iter().cloned());
        let out = self.log_file(p);
        let err = out.try_clone().expect("a log file");
        let child = Command::new(self.bin_dir.join(p.binary()))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", p.binary()));
        self.procs.lock().unwrap().insert(p, child);
    }

    /// Sends `signal` (`libc::SIGKILL`, `libc::SIGTERM`, ...) and waits for the exit. A
    /// process still running 30 s after it is killed and the test fails: a service must
    /// stop when asked, whatever else is down.
    pub fn stop(&self, p: Proc, signal: i32) {
        let child = self.procs.lock().unwrap().remove(&p);
        if let Some(mut child) = child {
            // SAFETY: kill(2) on our own child, which has not been reaped yet.
            unsafe { libc::kill(child.id() as i32, signal) };
            let asked = Instant::now();
            while matches!(child.try_wait(), Ok(None)) {
                if asked.elapsed() > Duration::from_secs(30) {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{} did not exit within 30 s of signal {signal}; its log:\n{}",
                        p.binary(),
                        self.tail(p, 20)
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts a stopped process again (same port, database and settings).
    pub fn start_again(&self, p: Proc) {
        assert!(!self.procs.lock().unwrap().contains_key(&p), "{p:?} is running");
        self.spawn(p);
    }

    /// Waits until the edge's `/healthz` reports every upstream serving.
    pub async fn wait_healthy(&self, within: Duration) {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < within {
            if let Some(dead) = self.exited() {
                panic!(
                    "{} exited during start-up; its log:\n{}",
                    dead.binary(),
                    self.tail(dead, 40)
                );
            }
            match self.http.get(format!("{}/healthz", self.edge)).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => last = r.text().await.unwrap_or_default(),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "the mesh is not healthy after {within:?}: {last}; logs in {}",
            self.dir.display()
        );
    }

    /// The first process that has exited on its own, if any.
    fn exited(&self) -> Option<Proc> {
        let mut procs = self.procs.lock().unwrap();
        procs
            .iter_mut()
            .find_map(|(p, c)| matches!(c.try_wait(), Ok(Some(_))).then_some(*p))
    }

    /// The last `lines` lines of a process's log.
    pub fn tail(&self, p: Proc, lines: usize) -> String {
        let log = self.log(p);
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// `METHOD path` through the edge with an optional bearer token and JSON body; the
    /// status and the JSON answer (`Value::Null` when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.edge));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    /// Polls `GET path` until `done(status, body)` holds or `within` passes; the last answer.
    pub async fn get_until(
        &self,
        path: &str,
        token: &str,
        within: Duration,
        done: impl Fn(u16, &Value) -> bool,
    ) -> (u16, Value) {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(path, token).await;
            if done(status, &body) || started.elapsed() >= within {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signs up a fresh user; their access and refresh tokens and user id.
    pub async fn signup(&self, name: &str) -> User {
        let email = format!("{}@example.com", unique(name));
        let (status, body) = self
            .post(
                "/v1/auth/signup",
                None,
                serde_json::json!({"email": email, "password": "correct horse battery", "display_name": name}),
            )
            .await;
        assert_eq!(status, 200, "signup: {body}");
        User {
            email,
            user_id: body["user_id"].as_str().expect("user_id").to_owned(),
            access_token: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh_token: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
        }
    }
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct User {
    pub email: String,
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for (_, child) in procs.iter_mut() {
            let _ = child.kill();
        }
        for (_, child) in procs.iter_mut() {
            let _ = child.wait();
        }
    }
}
