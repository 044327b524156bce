//! The Mistral path: a small client for `POST {base}/v1/chat/completions` (any
//! OpenAI-compatible server works too), with a strict JSON schema, bounded retries, an
//! overall timeout and a circuit breaker; and [`LlmExtractor`], which checks every answer
//! before it is used ([`answer::validate`]).
//!
//! Neither the API key nor the user's text is ever logged.

pub mod answer;
pub mod breaker;

use std::{fmt, time::Duration};

use backon::{ExponentialBuilder, Retryable};
use platform::{config::Env, BoxError};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::domain::{ExtractContext, Extraction};
use breaker::Breaker;

/// An API key; its `Debug` never shows it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// How to reach the model.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// `MISTRAL_API_KEY`: without it there is no LLM path.
    pub api_key: ApiKey,
    /// `MISTRAL_BASE_URL` (default https://api.mistral.ai): the server, without `/v1`.
    pub base_url: String,
    /// `MISTRAL_MODEL` (default mistral-small-latest).
    pub model: String,
    /// `LLM_TIMEOUT_MS` (default 8000): the whole call, retries included.
    pub timeout: Duration,
    /// `LLM_MAX_RETRIES` (default 2): retries after a 429 or 5xx.
    pub max_retries: usize,
    /// `LLM_RETRY_BACKOFF_MS` (default 250): the first retry delay, doubled each time and
    /// jittered; a longer `Retry-After` wins.
    pub retry_backoff: Duration,
    /// `LLM_BREAKER_FAILURES` (default 5): failed calls in a row that open the circuit.
    pub breaker_failures: u32,
    /// `LLM_BREAKER_COOLDOWN_MS` (default 30000): how long an open circuit skips the model.
    pub breaker_cooldown: Duration,
    /// `LLM_MODE` (default `first`): `first` asks the model about every expense and keeps the
    /// rules as fallback; `fallback` lets the rules answer first and asks the model only when
    /// their confidence is below [`Self::below_confidence`] or they found no amount.
    pub mode: LlmMode,
    /// `LLM_BELOW_CONFIDENCE` (default 0.6, in 0..=1): with `LLM_MODE=fallback`, rules
    /// answers below this confidence go to the model.
    pub below_confidence: f32,
}

/// When the model is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmMode {
    /// Every expense goes to the model; the rules answer when it fails.
    First,
    /// The rules answer; the model only when they are unsure.
    Fallback,
}

impl std::str::FromStr for LlmMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "first" => Ok(LlmMode::First),
            "fallback" => Ok(LlmMode::Fallback),
            other => Err(format!("'{other}' is neither 'first' nor 'fallback'")),
        }
    }
}

/// A confidence threshold between 0 and 1.
#[derive(Debug, Clone, Copy)]
struct Threshold(f32);

impl std::str::FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().parse::<f32>() {
            Ok(v) if (0.0..=1.0).contains(&v) => Ok(Threshold(v)),
            _ => Err(format!("'{s}' is not a number between 0 and 1")),
        }
    }
}

impl LlmConfig {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.mistral.ai";
    pub const DEFAULT_MODEL: &'static str = "mistral-small-latest";
    /// Below it the offline extractor also warns "low confidence".
    pub const DEFAULT_BELOW_CONFIDENCE: f32 = 0.6;

    /// `None` when `MISTRAL_API_KEY` is unset or empty.
    pub fn from_env(env: &Env) -> Result<Option<Self>, BoxError> {
        let Some(key) = env.raw("MISTRAL_API_KEY") else {
            return Ok(None);
        };
        let base_url: String = env.or(
            "MISTRAL_BASE_URL",
            Self::DEFAULT_BASE_URL.to_owned(),
            "an http(s) URL such as https://api.mistral.ai",
        )?;
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(
                format!("MISTRAL_BASE_URL={base_url:?} is invalid: expected an http(s):// URL").into(),
            );
        }
        Ok(Some(Self {
            api_key: ApiKey::new(key.trim()),
            base_url,
            model: env.or("MISTRAL_MODEL", Self::DEFAULT_MODEL.to_owned(), "a model name")?,
            timeout: env.millis("LLM_TIMEOUT_MS", Duration::from_secs(8))?,
            max_retries: env.or("LLM_MAX_RETRIES", 2, "a whole number of retries")?,
            retry_backoff: env.millis("LLM_RETRY_BACKOFF_MS", Duration::from_millis(250))?,
            breaker_failures: env.or("LLM_BREAKER_FAILURES", 5, "a whole number of failures")?,
            breaker_cooldown: env.millis("LLM_BREAKER_COOLDOWN_MS", Duration::from_secs(30))?,
            mode: env.or("LLM_MODE", LlmMode::First, "first or fallback")?,
            below_confidence: env
                .or(
                    "LLM_BELOW_CONFIDENCE",
                    Threshold(Self::DEFAULT_BELOW_CONFIDENCE),
                    "a confidence between 0 and 1",
                )?
                .0,
        }))
    }

    /// A configuration for `base_url` with the defaults (tests, tools).
    pub fn new(api_key: &str, base_url: &str, model: &str) -> Self {
        Self {
            api_key: ApiKey::new(api_key),
            base_url: base_url.to_owned(),
            model: model.to_owned(),
            timeout: Duration::from_secs(8),
            max_retries: 2,
            retry_backoff: Duration::from_millis(250),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            mode: LlmMode::First,
            below_confidence: Self::DEFAULT_BELOW_CONFIDENCE,
        }
    }
}

/// Why the model gave no usable completion.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("skipped: circuit open after repeated failures")]
    CircuitOpen,
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("cannot reach the server: {0}")]
    Transport(String),
    #[error("finish_reason {0:?}, not \"stop\"")]
    FinishReason(String),
    /// The detail is kept for debugging but not shown: it may quote the model's output,
    /// which may quote the user's text.
    #[error("malformed response")]
    Malformed(String),
}

impl LlmError {
    /// Only throttling and server errors are worth another try.
    fn is_retryable(&self) -> bool {
        matches!(self, LlmError::Status { status, .. } if *status == 429 || (500..=599).contains(status))
    }
}

/// A chat-completions client with retries, a deadline and a circuit breaker.
pub struct Client {
    http: reqwest::Client,
    url: String,
    config: LlmConfig,
    breaker: Breaker,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("llm::Client")
            .field("url", &self.url)
            .field("model", &self.config.model)
            .finish()
    }
}

impl Client {
    pub fn new(config: LlmConfig) -> Result<Self, BoxError> {
        // reqwest is built without a default crypto provider (ring builds much faster than
        // aws-lc); installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("expense-tracker-ds/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the LLM HTTP client: {e}"))?;
        let url = format!("{}/v1/chat/completions", config.base_url.trim_end_matches('/'));
        let breaker = Breaker::new(config.breaker_failures, config.breaker_cooldown);
        Ok(Self {
            http,
            url,
            config,
            breaker,
        })
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Is the circuit open (the model is being skipped)?
    pub fn circuit_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Sends `body` and returns the message content of the first choice.
    pub async fn complete(&self, body: &Value) -> Result<String, LlmError> {
        let permit = self.breaker.permit().map_err(|_| {
            platform::metrics::llm_breaker(true);
            LlmError::CircuitOpen
        })?;
        let started = std::time::Instant::now();
        let timeout = self.config.timeout;
        let deadline = Instant::now() + timeout;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.retry_backoff)
            .with_max_delay(self.config.retry_backoff * 8)
            .with_max_times(self.config.max_retries)
            .with_jitter();
        let calls = (|| self.attempt(body, deadline))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(LlmError::is_retryable)
            .adjust(|err, delay| {
                // No retries left: give up. A Retry-After longer than our backoff wins; one
                // past the deadline means the answer would come too late anyway.
                let delay = delay?;
                let wait = match err {
                    LlmError::Status {
                        retry_after: Some(after),
                        ..
                    } => delay.max(*after),
                    _ => delay,
                };
                (Instant::now() + wait < deadline).then_some(wait)
            })
            .notify(|err, wait| {
                tracing::info!(model = %self.config.model, error = %err, retry_in_ms = wait.as_millis() as u64, "llm call failed; retrying");
            });
        let result = match tokio::time::timeout_at(deadline, calls).await {
            Ok(r) => r,
            Err(_) => Err(LlmError::Timeout(timeout.as_millis() as u64)),
        };
        match &result {
            Ok(_) => permit.succeeded(),
            Err(e) => {
                if let LlmError::Malformed(detail) = e {
                    tracing::debug!(%detail, "malformed llm response");
                }
                tracing::warn!(model = %self.config.model, error = %e, "llm call failed");
                permit.failed();
            }
        }
        platform::metrics::llm_call(result.is_ok(), started, self.breaker.is_open());
        result
    }

    async fn attempt(&self, body: &Value, deadline: Instant) -> Result<String, LlmError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout_ms = self.config.timeout.as_millis() as u64;
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.config.api_key.0)
            .timeout(left)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    LlmError::Timeout(timeout_ms)
                } else {
                    // Without the URL: it is configuration, and logs do not need it twice.
                    LlmError::Transport(e.without_url().to_string())
                }
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(LlmError::Status {
                status: status.as_u16(),
                retry_after: response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after),
            });
        }
        let completion: Completion = response.json().await.map_err(|e| {
            if e.is_timeout() {
                LlmError::Timeout(timeout_ms)
            } else {
                LlmError::Malformed(e.without_url().to_string())
            }
        })?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::Malformed("no choices".into()))?;
        match choice.finish_reason.as_deref() {
            Some("stop") => {}
            other => return Err(LlmError::FinishReason(other.unwrap_or("none").to_owned())),
        }
        match choice.message.content {
            Some(Content::Text(s)) => Ok(s),
            Some(Content::Chunks(chunks)) => Ok(chunks
                .into_iter()
                .filter(|c| c.kind == "text")
                .filter_map(|c| c.text)
                .collect()),
            None => Err(LlmError::Malformed("no content".into())),
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[derive(Debug, Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<Content>,
}

/// Mistral answers a string, or a list of chunks (`{"type": "text", "text": …}`, and
/// others such as `thinking` that are not the answer).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Chunks(Vec<Chunk>),
}

#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// Why the LLM's extraction was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmFailure {
    #[error("llm unavailable ({0})")]
    Call(#[from] LlmError),
    /// The reason may quote the answer (a merchant, a code), so it goes to the caller's
    /// warnings and to debug logs only.
    #[error("llm answer rejected ({0})")]
    Invalid(#[from] answer::Invalid),
}

/// Text to a checked extraction through the model.
#[derive(Debug)]
pub struct LlmExtractor {
    client: Client,
    mode: LlmMode,
    below_confidence: f32,
}

impl LlmExtractor {
    pub fn new(config: LlmConfig) -> Result<Self, BoxError> {
        let (mode, below_confidence) = (config.mode, config.below_confidence);
        Ok(Self {
            client: Client::new(config)?,
            mode,
            below_confidence,
        })
    }

    /// Whether the model is worth asking, given what the rules read (`None`: no amount).
    /// With `LLM_MODE=fallback` a rules answer at or above the threshold is kept as is.
    pub fn wanted(&self, offline: Option<&Extraction>) -> bool {
        match (self.mode, offline) {
            (LlmMode::First, _) | (LlmMode::Fallback, None) => true,
            (LlmMode::Fallback, Some(x)) => x.confidence < self.below_confidence,
        }
    }

    pub fn model(&self) -> &str {
        self.client.model()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Asks the model about `text` and checks the answer; `offline` is what the rules read,
    /// `hints` the caller's most relevant rules, one line each (none for `ds-extract`).
    pub async fn extract(
        &self,
        text: &str,
        ctx: &ExtractContext,
        zone: &str,
        offline: Option<&Extraction>,
        hints: &[String],
    ) -> Result<Extraction, LlmFailure> {
        let body = answer::request_body(self.client.model(), text, ctx, zone, hints);
        let content = self.client.complete(&body).await?;
        let extraction = answer::validate(&content, text, ctx, offline)?;
        Ok(extraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let d = parse_retry_after(&later).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn only_throttling_and_server_errors_are_retried() {
        let status = |status| LlmError::Status {
            status,
            retry_after: None,
        };
        assert!(status(429).is_retryable());
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(!LlmError::Timeout(10).is_retryable());
        assert!(!LlmError::FinishReason("length".into()).is_retryable());
    }

    #[test]
    fn content_is_a_string_or_chunks() {
        let c: Completion = serde_json::from_str(
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"thinking","thinking":[]},{"type":"text","text":"{\"a\":"},{"type":"text","text":"1}"}]},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        let Some(Content::Chunks(chunks)) = &c.choices[0].message.content else {
            panic!("chunks")
        };
        let text: String = chunks
            .iter()
            .filter(|c| c.kind == "text")
            .filter_map(|c| c.text.clone())
            .collect();
        assert_eq!(text, r#"{"a":1}"#);
    }

    #[test]
    fn the_key_never_shows() {
        let c = LlmConfig::new("sk-secret", "http://127.0.0.1:1", "m");
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
