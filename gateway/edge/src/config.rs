//! The edge's configuration file (YAML or TOML, chosen by extension). One file feeds both
//! the local edge and `edge kong-config`, so the two cannot drift.
//!
//! Relative paths in the file (descriptor set, keys, proto root) resolve against the
//! file's own directory, so the edge can be started from anywhere.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the edge listens (default `0.0.0.0:8080`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `builtin` (the contracts crate's compiled-in set) or a path to an encoded
    /// `FileDescriptorSet` (e.g. from `protoc --include_imports -o`).
    #[serde(default)]
    pub descriptor_set: DescriptorSource,
    /// The `.proto` sources behind the descriptor set, for `edge proto-bundle`.
    #[serde(default)]
    pub proto_root: Option<PathBuf>,
    /// Fully qualified gRPC service name → where it runs.
    pub upstreams: BTreeMap<String, Upstream>,
    /// Services (`pkg.Service`) or methods (`pkg.Service.Method`) reachable without a token.
    #[serde(default)]
    pub public: Vec<String>,
    #[serde(default)]
    pub jwt: JwtConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Largest accepted request body in bytes on every route (Kong: request-size-limiting,
    /// one instance per route), unless `body_limits` names the route's service or method.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Per service (`pkg.Service`) or method (`pkg.Service.Method`) body limits in bytes;
    /// a method's entry wins over its service's.
    #[serde(default)]
    pub body_limits: BTreeMap<String, usize>,
    #[serde(default)]
    pub cors: CorsConfig,
    #[serde(default)]
    pub correlation_id: CorrelationIdConfig,
    #[serde(default)]
    pub kong: KongConfig,
    /// The directory relative paths resolve against (set by the loader).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum DescriptorSource {
    #[default]
    Builtin,
    File(PathBuf),
}

impl<'de> Deserialize<'de> for DescriptorSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s == "builtin" {
            DescriptorSource::Builtin
        } else {
            DescriptorSource::File(s.into())
        })
    }
}

/// One gRPC upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `http://host:port` (or `host:port`) the edge dials.
    pub address: String,
    /// Host Kong dials in production (a Kubernetes Service DNS name); defaults to the
    /// address's host.
    #[serde(default)]
    pub kong_host: Option<String>,
    /// Port Kong dials; defaults to the address's port.
    #[serde(default)]
    pub kong_port: Option<u16>,
    /// Connect timeout in milliseconds (Kong service `connect_timeout`).
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Per-call timeout in milliseconds (Kong service `read_timeout`/`write_timeout`).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl Upstream {
    /// The address as a URI tonic can dial.
    pub fn uri(&self) -> String {
        if self.address.contains("://") {
            self.address.clone()
        } else {
            format!("http://{}", self.address)
        }
    }

    /// (host, port) of the address.
    pub fn host_port(&self) -> Result<(String, u16), ConfigError> {
        let uri: http::Uri = self
            .uri()
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("upstream address {:?}: {e}", self.address)))?;
        let host = uri.host().ok_or_else(|| {
            ConfigError::Invalid(format!("upstream address {:?} has no host", self.address))
        })?;
        let port = uri.port_u16().unwrap_or(80);
        Ok((host.trim_matches(['[', ']']).to_owned(), port))
    }

    /// Host and port Kong dials.
    pub fn kong_target(&self) -> Result<(String, u16), ConfigError> {
        let (host, port) = self.host_port()?;
        Ok((
            self.kong_host.clone().unwrap_or(host),
            self.kong_port.unwrap_or(port),
        ))
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Kong's jwt plugin: the token's `iss` claim selects one of these credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    #[serde(default)]
    pub issuers: Vec<Issuer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    /// The `iss` claim (Kong: the jwt credential's `key`).
    pub iss: String,
    /// The `aud` claim. Kong does not check it; the edge reuses the services' verifier,
    /// which does (a wrong audience is refused by the service behind Kong anyway).
    pub audience: String,
    /// RSA public key (PEM). Kong's `rsa_public_key`.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// The `kid` tokens signed by that key carry (the verifier selects keys by `kid`).
    #[serde(default)]
    pub kid: Option<String>,
    /// Or a JWKS document, keys selected by `kid` (edge only; kong-config needs a PEM).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Kong consumer username owning the credential (default: the issuer).
    #[serde(default)]
    pub consumer: Option<String>,
}

impl Issuer {
    pub fn consumer_username(&self) -> String {
        self.consumer.clone().unwrap_or_else(|| self.iss.clone())
    }

    /// A stable consumer id, so kong.yml and the edge send the same `X-Consumer-ID`.
    pub fn consumer_id(&self) -> uuid::Uuid {
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("kong-consumer:{}", self.consumer_username()).as_bytes(),
        )
    }
}

/// Kong's rate-limiting plugin (policy `local`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default)]
    pub limit_by: LimitBy,
    pub second: Option<u64>,
    pub minute: Option<u64>,
    pub hour: Option<u64>,
    pub day: Option<u64>,
    pub month: Option<u64>,
    pub year: Option<u64>,
}

impl RateLimitConfig {
    pub fn is_enabled(&self) -> bool {
        [
            self.second,
            self.minute,
            self.hour,
            self.day,
            self.month,
            self.year,
        ]
        .iter()
        .any(Option::is_some)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitBy {
    /// The authenticated Kong consumer (one per issuer), else the client address.
    #[default]
    Consumer,
    /// The client address.
    Ip,
}

impl LimitBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitBy::Consumer => "consumer",
            LimitBy::Ip => "ip",
        }
    }
}

/// Kong's cors plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    #[serde(default = "default_origins")]
    pub origins: Vec<String>,
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
    /// Allowed request headers; empty mirrors `Access-Control-Request-Headers` (Kong's default).
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub exposed_headers: Vec<String>,
    #[serde(default)]
    pub credentials: bool,
    #[serde(default = "default_max_age")]
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            origins: default_origins(),
            methods: default_methods(),
            headers: vec![],
            exposed_headers: vec![],
            credentials: false,
            max_age_secs: default_max_age(),
        }
    }
}

/// Kong's correlation-id plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationIdConfig {
    #[serde(default = "default_request_id_header")]
    pub header_name: String,
    #[serde(default = "default_true")]
    pub echo_downstream: bool,
}

impl Default for CorrelationIdConfig {
    fn default() -> Self {
        Self {
            header_name: default_request_id_header(),
            echo_downstream: true,
        }
    }
}

/// What only `edge kong-config` / `edge proto-bundle` need.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KongConfig {
    /// Where the proto bundle sits on the Kong nodes.
    #[serde(default = "default_proto_dir")]
    pub proto_dir: String,
    /// Placeholder for the jwt credential's `secret` (unused for RS256; decK insists).
    #[serde(default = "default_jwt_secret_placeholder")]
    pub jwt_secret_placeholder: String,
}

impl Default for KongConfig {
    fn default() -> Self {
        Self {
            proto_dir: default_proto_dir(),
            jwt_secret_placeholder: default_jwt_secret_placeholder(),
        }
    }
}

fn default_listen() -> SocketAddr {
    ([0, 0, 0, 0], 8080).into()
}
fn default_body_limit() -> usize {
    64 * 1024
}
fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_timeout_ms() -> u64 {
    60_000
}
fn default_origins() -> Vec<String> {
    vec!["*".into()]
}
fn default_methods() -> Vec<String> {
    ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        .map(String::from)
        .to_vec()
}
fn default_max_age() -> u64 {
    3600
}
fn default_request_id_header() -> String {
    "X-Request-Id".into()
}
fn default_true() -> bool {
    true
}
fn default_proto_dir() -> String {
    "/usr/local/kong/protos".into()
}
fn default_jwt_secret_placeholder() -> String {
    "unused-for-rs256".into()
}

impl Config {
    /// Reads a `.yaml`/`.yml` or `.toml` file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let toml = path.extension().is_some_and(|e| e == "toml");
        let parsed = if toml {
            Self::from_toml_str(&text, &base)
        } else {
            Self::from_yaml_str(&text, &base)
        };
        parsed.map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    pub fn from_yaml_str(text: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
            path: "<yaml>".into(),
            message: e.to_string(),
        })?;
        cfg.base_dir = base_dir.to_owned();
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "<toml>".into(),
            message: e.to_string(),
        })?;
        cfg.base_dir = base_dir.to_owned();
        cfg.validate()?;
        Ok(cfg)
    }

    /// `path` resolved against the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Is this method (`pkg.Service.Method`) reachable without a token?
    pub fn is_public(&self, service: &str, method: &str) -> bool {
        self.public
            .iter()
            .any(|p| p == service || *p == format!("{service}.{method}"))
    }

    /// The body limit of one method (`pkg.Service`, `Method`).
    pub fn body_limit(&self, service: &str, method: &str) -> usize {
        self.body_limits
            .get(&format!("{service}.{method}"))
            .or_else(|| self.body_limits.get(service))
            .copied()
            .unwrap_or(self.body_limit_bytes)
    }

    /// The largest body any route accepts: Kong's nginx must buffer at least this much in
    /// memory (`nginx_http_client_body_buffer_size`), or grpc-gateway sends an empty
    /// message upstream, and refuses anything larger outright (`client_max_body_size`).
    pub fn largest_body_limit(&self) -> usize {
        self.body_limits
            .values()
            .copied()
            .chain([self.body_limit_bytes])
            .max()
            .unwrap_or(self.body_limit_bytes)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.body_limit_bytes == 0 || self.body_limits.values().any(|&n| n == 0) {
            return Err(ConfigError::Invalid(
                "body_limit_bytes and body_limits must be at least 1 byte".into(),
            ));
        }
        for (name, up) in &self.upstreams {
            up.host_port()
                .map_err(|e| ConfigError::Invalid(format!("upstreams.{name}: {e}")))?;
        }
        for iss in &self.jwt.issuers {
            match (&iss.public_key_file, &iss.jwks_file) {
                (Some(_), None) if iss.kid.is_none() => {
                    return Err(ConfigError::Invalid(format!(
                        "jwt issuer {:?}: a public_key_file needs the `kid` its tokens carry",
                        iss.iss
                    )))
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "jwt issuer {:?}: set exactly one of public_key_file and jwks_file",
                        iss.iss
                    )))
                }
            }
        }
        if self.cors.credentials && self.cors.origins.iter().any(|o| o == "*") {
            return Err(ConfigError::Invalid(
                "cors: credentials cannot be combined with origin \"*\"".into(),
            ));
        }
        Ok(())
    }
}
