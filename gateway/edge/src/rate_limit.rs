//! Kong's rate-limiting plugin with `policy: local`: fixed windows aligned to the clock
//! (this second, minute, hour, UTC day, month, year), one counter per identifier and
//! period. The identifier is the authenticated consumer (`limit_by: consumer`, falling
//! back to the client address) or the client address (`limit_by: ip`).
//!
//! As in Kong 3.x's handler: a request is refused when any period has no quota left, and
//! refused requests are not counted. Every response carries `X-RateLimit-Limit-<Period>`
//! and `X-RateLimit-Remaining-<Period>` for each configured period, plus
//! `RateLimit-Limit`/`-Remaining`/`-Reset` for the period closest to running out (the
//! longer window on a tie); a 429 adds `Retry-After`.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use axum::body::Body;
use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};

use crate::{
    auth::Consumer,
    config::{LimitBy, RateLimitConfig},
    error::EdgeError,
    middleware::{middleware_layer, BoxFuture, Middleware, Next},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

impl Period {
    /// Kong's `EXPIRATION` table (a month is 30 days, a year 365).
    fn window_secs(self) -> i64 {
        match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3_600,
            Period::Day => 86_400,
            Period::Month => 2_592_000,
            Period::Year => 31_536_000,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Period::Second => "Second",
            Period::Minute => "Minute",
            Period::Hour => "Hour",
            Period::Day => "Day",
            Period::Month => "Month",
            Period::Year => "Year",
        }
    }

    /// Start of the current window, in milliseconds since the epoch.
    fn window_start(self, now: DateTime<Utc>) -> i64 {
        let start = match self {
            Period::Second => now.with_nanosecond(0),
            Period::Minute => now.with_nanosecond(0).and_then(|t| t.with_second(0)),
            Period::Hour => now
                .with_nanosecond(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_minute(0)),
            Period::Day => Utc
                .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
                .single(),
            Period::Month => Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single(),
            Period::Year => Utc.with_ymd_and_hms(now.year(), 1, 1, 0, 0, 0).single(),
        };
        start.unwrap_or(now).timestamp_millis()
    }
}

/// What the limiter decided for one request.
#[derive(Debug, Clone)]
pub struct Decision {
    pub allowed: bool,
    pub headers: HeaderMap,
    pub retry_after: i64,
}

/// The local counters.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Vec<(Period, u64)>,
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// (identifier, period) → (window start, requests counted in it).
    map: HashMap<(String, Period), (i64, u64)>,
    calls: u64,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        let limits = [
            (Period::Second, config.second),
            (Period::Minute, config.minute),
            (Period::Hour, config.hour),
            (Period::Day, config.day),
            (Period::Month, config.month),
            (Period::Year, config.year),
        ]
        .into_iter()
        .filter_map(|(p, l)| l.map(|l| (p, l)))
        .collect();
        Self {
            limits,
            counters: Mutex::default(),
        }
    }

    /// Checks and, when allowed, counts one request of `id` at `now`.
    pub fn check(&self, id: &str, now: DateTime<Utc>) -> Decision {
        let now_ms = now.timestamp_millis();
        let mut counters = self.counters.lock().expect("rate-limit counters");
        counters.calls += 1;
        if counters.calls.is_multiple_of(4096) {
            // Forget windows that have passed, so idle clients do not pile up.
            let limits = self.limits.clone();
            counters.map.retain(|(_, p), (start, _)| {
                limits.iter().any(|(lp, _)| lp == p) && *start == p.window_start(now)
            });
        }
        // Usage per period in the current window.
        let usage: Vec<(Period, u64, u64, i64)> = self
            .limits
            .iter()
            .map(|&(period, limit)| {
                let start = period.window_start(now);
                let used = match counters.map.get(&(id.to_owned(), period)) {
                    Some(&(s, n)) if s == start => n,
                    _ => 0,
                };
                (period, limit, used, start)
            })
            .collect();
        let stop = usage
            .iter()
            .filter(|(_, limit, used, _)| used >= limit)
            .map(|(p, ..)| *p)
            .next_back();

        let mut headers = HeaderMap::new();
        // (remaining, window, limit, reset) of the period shown in RateLimit-*.
        let mut shown: Option<(u64, i64, u64, i64)> = None;
        for &(period, limit, used, start) in &usage {
            let mut remaining = limit as i64 - used as i64;
            if stop.is_none() || stop == Some(period) {
                remaining -= 1;
            }
            let remaining = remaining.max(0) as u64;
            let window = period.window_secs();
            let better = match shown {
                None => true,
                Some((r, w, ..)) => remaining < r || (remaining == r && window > w),
            };
            if better {
                let reset = (window - (now_ms - start) / 1000).max(1);
                shown = Some((remaining, window, limit, reset));
            }
            insert(
                &mut headers,
                &format!("x-ratelimit-limit-{}", period.title()),
                limit,
            );
            insert(
                &mut headers,
                &format!("x-ratelimit-remaining-{}", period.title()),
                remaining,
            );
        }
        let mut retry_after = 0;
        if let Some((remaining, _, limit, reset)) = shown {
            insert(&mut headers, "ratelimit-limit", limit);
            insert(&mut headers, "ratelimit-remaining", remaining);
            insert(&mut headers, "ratelimit-reset", reset);
            retry_after = reset;
        }
        if stop.is_none() {
            for &(period, _, used, start) in &usage {
                counters.map.insert((id.to_owned(), period), (start, used + 1));
            }
        }
        Decision {
            allowed: stop.is_none(),
            headers,
            retry_after,
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: impl ToString) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(&value.to_string()),
    ) {
        headers.insert(n, v);
    }
}

/// The client's address: the peer of the TCP connection (Kong's `get_forwarded_ip`
/// without trusted proxies).
pub fn client_ip(req: &Request<Body>) -> Option<IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Counts requests and refuses those over quota with 429.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<RateLimiter>,
    limit_by: LimitBy,
}

impl RateLimitLayer {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            limiter: Arc::new(RateLimiter::new(config)),
            limit_by: config.limit_by,
        }
    }
}

middleware_layer!(RateLimitLayer);

impl Middleware for RateLimitLayer {
    fn handle(&self, req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        let consumer = match self.limit_by {
            LimitBy::Consumer => req.extensions().get::<Consumer>().map(|c| c.id.clone()),
            LimitBy::Ip => None,
        };
        let id = consumer.unwrap_or_else(|| client_ip(&req).map(|ip| ip.to_string()).unwrap_or_default());
        let decision = self.limiter.check(&id, Utc::now());
        if !decision.allowed {
            let mut err = EdgeError::with_status(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded");
            err.headers = decision.headers;
            let err = err.header(http::header::RETRY_AFTER, HeaderValue::from(decision.retry_after));
            return Box::pin(async move { err.into_response() });
        }
        Box::pin(async move {
            let mut res = next.run(req).await;
            res.headers_mut().extend(decision.headers);
            res
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn counts_per_window_and_refuses_without_counting() {
        let limiter = RateLimiter::new(&RateLimitConfig {
            minute: Some(2),
            hour: Some(10),
            ..Default::default()
        });
        let t = at("2024-05-01T10:20:30.500Z");
        let d = limiter.check("a", t);
        assert!(d.allowed);
        assert_eq!(d.headers["x-ratelimit-remaining-minute"], "1");
        assert_eq!(d.headers["x-ratelimit-remaining-hour"], "9");
        assert_eq!(d.headers["ratelimit-remaining"], "1");
        assert_eq!(d.headers["ratelimit-limit"], "2");
        assert_eq!(d.headers["ratelimit-reset"], "30");
        assert!(limiter.check("a", t).allowed);
        let d = limiter.check("a", t);
        assert!(!d.allowed);
        assert_eq!(d.headers["x-ratelimit-remaining-minute"], "0");
        assert_eq!(d.headers["x-ratelimit-remaining-hour"], "8");
        assert_eq!(d.retry_after, 30);
        // Another client has its own quota; the next minute starts afresh.
        assert!(limiter.check("b", t).allowed);
        assert!(limiter.check("a", at("2024-05-01T10:21:00Z")).allowed);
    }
}
