//! Test support shared by every service's integration tests (feature `testing`): the
//! project's real Postgres and Kafka (started by `scripts/infra.sh`), a fresh database
//! per test and unique topic/group names, as in zero-to-production's `spawn_app`.

use std::time::Duration;

use rdkafka::{
    config::ClientConfig,
    consumer::{Consumer, StreamConsumer},
    message::{Headers, Message},
};
use uuid::Uuid;

/// The running infrastructure, from `ET_PG_URL` and `KAFKA_BROKERS` (as printed by
/// `scripts/infra.sh env`), defaulting to the script's default ports.
#[derive(Debug, Clone)]
pub struct Infra {
    pub pg_url: String,
    pub brokers: String,
}

impl Infra {
    /// Reads the settings and installs telemetry once (logs only when `TEST_LOG` is set).
    pub fn from_env() -> Self {
        static TELEMETRY: std::sync::Once = std::sync::Once::new();
        TELEMETRY.call_once(|| {
            std::mem::forget(crate::telemetry::init_with(
                "tests",
                std::env::var("TEST_LOG").is_ok(),
            ));
        });
        let env = crate::config::Env::process();
        Self {
            pg_url: env
                .raw("ET_PG_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:55432".into()),
            brokers: env
                .raw("KAFKA_BROKERS")
                .unwrap_or_else(|| "127.0.0.1:59092".into()),
        }
    }

    /// Creates a database named after a fresh UUID and returns its URL.
    pub async fn fresh_database(&self) -> String {
        let name = format!("test_{}", Uuid::new_v4().simple());
        crate::db::create_database(&self.pg_url, &name).await.unwrap_or_else(|e| {
            panic!("cannot create a test database on {} ({e}); is the infrastructure up? run `scripts/infra.sh up`", self.pg_url)
        })
    }
}

/// A name unique to this test run, for topics and consumer groups.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// One message read back from Kafka.
#[derive(Debug, Clone)]
pub struct ReadMessage {
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: std::collections::HashMap<String, String>,
    pub partition: i32,
    pub offset: i64,
}

/// Reads `topic` from the beginning (read_committed) until `expected` messages arrived or
/// `timeout` passed, then keeps listening for `linger` to catch extra (duplicate) messages.
pub async fn read_topic(
    brokers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
    linger: Duration,
) -> Vec<ReadMessage> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("reader consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = vec![];
    let deadline = tokio::time::Instant::now() + timeout;
    let mut linger_until: Option<tokio::time::Instant> = None;
    loop {
        let until = linger_until.unwrap_or(deadline);
        match tokio::time::timeout_at(until, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "reader");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Ok(m)) => {
                let mut headers = std::collections::HashMap::new();
                if let Some(h) = m.headers() {
                    for x in h.iter() {
                        if let Some(v) = x.value {
                            headers.insert(x.key.to_owned(), String::from_utf8_lossy(v).into_owned());
                        }
                    }
                }
                out.push(ReadMessage {
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec),
                    headers,
                    partition: m.partition(),
                    offset: m.offset(),
                });
                if out.len() >= expected && linger_until.is_none() {
                    linger_until = Some(tokio::time::Instant::now() + linger);
                }
            }
        }
    }
    out
}

/// Waits until `check` returns true, polling every 50 ms, for at most `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}

/// Test-only RSA keys and tokens signed with them (fixtures under platform's
/// `tests/fixtures`; never used outside tests).
pub mod tokens {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use uuid::Uuid;

    use crate::jwt::Claims;

    pub const SIGNING_KEY_PEM: &str = include_str!("../tests/fixtures/signing.key.pem");
    pub const PUBLIC_KEY_PEM: &str = include_str!("../tests/fixtures/signing.pub.pem");
    pub const OTHER_KEY_PEM: &str = include_str!("../tests/fixtures/other.key.pem");
    pub const KID: &str = "dev-1";
    pub const ISSUER: &str = "expense-tracker";
    pub const AUDIENCE: &str = "expense-tracker-api";

    /// Environment variables that make a service accept [`access_token`]s.
    pub fn verifier_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("JWT_PUBLIC_KEY_PEM", PUBLIC_KEY_PEM),
            ("JWT_KEY_ID", KID),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
        ]
    }

    pub fn claims(user_id: Uuid) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: ISSUER.into(),
            sub: user_id.to_string(),
            aud: AUDIENCE.into(),
            exp: now + 900,
            iat: now,
            nbf: now,
            jti: Uuid::now_v7().to_string(),
        }
    }

    /// Signs `claims` with the test key under `kid`.
    pub fn sign(claims: &Claims, key_pem: &str, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("test key"),
        )
        .expect("sign")
    }

    /// A valid 15-minute access token for `user_id`.
    pub fn access_token(user_id: Uuid) -> String {
        sign(&claims(user_id), SIGNING_KEY_PEM, KID)
    }

    /// `Bearer <token>` as metadata value.
    pub fn bearer(user_id: Uuid) -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
        format!("Bearer {}", access_token(user_id))
            .parse()
            .expect("ascii token")
    }
}

/// Helpers shared by the benchmarks and load generators.
pub mod bench {
    use std::{
        net::{TcpStream, ToSocketAddrs},
        time::Duration,
    };

    /// A size from the environment (`BENCH_EVENTS=…`), else `default`.
    pub fn env_usize(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// Is something listening on the `host:port` part of `url_or_addr` (a `postgres://`
    /// URL or a broker list)?
    pub fn reachable(url_or_addr: &str) -> bool {
        let host_port = url_or_addr
            .rsplit('@')
            .next()
            .unwrap_or(url_or_addr)
            .trim_start_matches("postgres://")
            .split(['/', ','])
            .next()
            .unwrap_or_default()
            .to_owned();
        host_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
    }

    /// The nearest-rank `q` percentile of sorted latencies.
    pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
        sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
    }

    /// `1.23 ms`.
    pub fn ms(d: Duration) -> String {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}

/// Reads a child process's JSON log lines (its stdout) until the line whose `message` is
/// `message`, and answers that line's `addr` field, plus a handle that yields every line
/// read, first to last, once the child's stdout closes. Panics with the lines so far if the
/// child exits or `within` passes first.
pub async fn watch_log(
    stdout: tokio::process::ChildStdout,
    message: &str,
    within: Duration,
) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut reader = BufReader::new(stdout).lines();
    let mut lines = vec![];
    let deadline = tokio::time::Instant::now() + within;
    let addr = loop {
        let line = tokio::time::timeout_at(deadline, reader.next_line())
            .await
            .unwrap_or_else(|_| panic!("no {message:?} line within {within:?}: {lines:#?}"))
            .expect("reading the child's stdout")
            .unwrap_or_else(|| panic!("the child exited before {message:?}: {lines:#?}"));
        let addr = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .filter(|v| v["message"] == message)
            .and_then(|v| v["addr"].as_str().map(str::to_owned));
        lines.push(line);
        if let Some(addr) = addr {
            break addr;
        }
    };
    let rest = tokio::spawn(async move {
        while let Ok(Some(line)) = reader.next_line().await {
            lines.push(line);
        }
        lines
    });
    (addr, rest)
}

/// One `GET /metrics` of the server at `addr` (plain HTTP/1.1, as Prometheus scrapes):
/// the status code and the body.
pub async fn scrape(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the metrics server at {addr}: {e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the scrape");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read the scrape");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Connection: close answers without chunking only when hyper knows the length.
    (status, body.to_owned())
}

/// One sample of a Prometheus text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the samples of a Prometheus text exposition (comments skipped); panics on a line
/// that is not `name{label="value",…} number`, which is what a test wants to know.
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = vec![];
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), Default::default()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (name.to_owned(), parse_labels(body, line))
            }
        };
        out.push(Sample { name, labels, value });
    }
    out
}

fn parse_labels(mut body: &str, line: &str) -> std::collections::BTreeMap<String, String> {
    let mut labels = std::collections::BTreeMap::new();
    while !body.is_empty() {
        let (key, rest) = body
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in {line:?}"));
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape in {line:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        body = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The sum of the samples named `name` whose labels include every pair of `labels`.
pub fn metric_sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// `promtool check metrics` on `text` when promtool is at hand (`PROMTOOL`, else `promtool`
/// on the PATH, else `~/go/bin/promtool`, where `scripts/promtool.sh` installs it): `Some`
/// with its complaints (empty when clean), `None` when there is no promtool.
pub fn promtool_check_metrics(text: &str) -> Option<String> {
    use std::io::Write;
    let candidates = [
        std::env::var("PROMTOOL").ok(),
        Some("promtool".to_owned()),
        std::env::var("HOME").ok().map(|h| format!("{h}/go/bin/promtool")),
    ];
    for tool in candidates.into_iter().flatten() {
        let child = std::process::Command::new(&tool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else { continue };
        child
            .stdin
            .take()
            .expect("promtool's stdin")
            .write_all(text.as_bytes())
            .expect("feed promtool");
        let out = child.wait_with_output().expect("promtool ran");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return Some(if out.status.success() { String::new() } else { said });
    }
    None
}
