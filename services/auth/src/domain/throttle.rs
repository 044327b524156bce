//! Login throttling: after a number of failed attempts for one account (or one client
//! address) within a window, every further failure locks that subject for a growing
//! delay (1 s, 2 s, 4 s, … capped), so online guessing slows to a crawl while a person
//! who mistyped twice never notices.
//!
//! The window slides: the count restarts once a subject has had no failure for a whole
//! window. The state lives in Postgres (`login_attempts`) so every replica sees it.

use std::{
    net::{IpAddr, Ipv6Addr},
    time::Duration,
};

use chrono::{DateTime, Utc};

/// What is being throttled: the account named by the email (whether it exists or not, so
/// throttling reveals nothing) or the client address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Account(String),
    Client(String),
}

impl Subject {
    /// The subject of a client address: IPv4 as is (also when IPv4-mapped), IPv6 by its
    /// /64 prefix, since one host usually controls a whole /64.
    pub fn client(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Subject::Client(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Subject::Client(v4.to_string()),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Subject::Client(format!("{}/64", Ipv6Addr::from(prefix)))
                }
            },
        }
    }

    /// `(kind, key)` as stored.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Subject::Account(email) => ("account", email),
            Subject::Client(addr) => ("client", addr),
        }
    }
}

/// The failure record of one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptState {
    /// Failures since the window (re)started.
    pub failures: u32,
    pub last_failure_at: DateTime<Utc>,
    /// No attempt is accepted before this instant.
    pub locked_until: Option<DateTime<Utc>>,
}

impl AttemptState {
    /// How long the subject still has to wait at `now`, if locked.
    pub fn retry_after(&self, now: DateTime<Utc>) -> Option<Duration> {
        let until = self.locked_until?;
        (until > now).then(|| (until - now).to_std().unwrap_or_default())
    }
}

/// How many failures are free and how the delay grows after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// The failure that first causes a delay (5: the fifth failure locks for `base_delay`).
    pub max_failures: u32,
    /// Failures older than this (counted from the latest) are forgotten.
    pub window: Duration,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl ThrottlePolicy {
    /// Per account: 5 failures in 15 minutes, then 1 s doubling up to 15 minutes.
    pub fn per_account() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
        }
    }

    /// Per client address: more lenient, since many people may share one address (NAT).
    pub fn per_client() -> Self {
        Self {
            max_failures: 20,
            ..Self::per_account()
        }
    }

    /// The lock that the `failures`-th failure earns.
    pub fn delay_after(&self, failures: u32) -> Option<Duration> {
        if failures < self.max_failures.max(1) {
            return None;
        }
        let doublings = (failures - self.max_failures.max(1)).min(31);
        let delay = self.base_delay.saturating_mul(1u32 << doublings);
        Some(delay.min(self.max_delay))
    }

    /// The state after a failure at `now`, given the previous state (if any).
    pub fn record_failure(&self, previous: Option<&AttemptState>, now: DateTime<Utc>) -> AttemptState {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        let failures = match previous {
            Some(p) if now - p.last_failure_at <= window => p.failures.saturating_add(1),
            _ => 1,
        };
        let locked_until = self
            .delay_after(failures)
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| now + d);
        AttemptState {
            failures,
            last_failure_at: now,
            locked_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn four_failures_are_free_then_the_delay_doubles_up_to_the_cap() {
        let p = ThrottlePolicy::per_account();
        let delays: Vec<_> = (1..=16).map(|n| p.delay_after(n).map(|d| d.as_secs())).collect();
        assert_eq!(&delays[..4], &[None, None, None, None]);
        assert_eq!(&delays[4..9], &[Some(1), Some(2), Some(4), Some(8), Some(16)]);
        assert_eq!(delays[13], Some(512));
        assert_eq!(delays[14], Some(900), "1024 s, capped at 15 minutes");
        assert_eq!(
            p.delay_after(u32::MAX),
            Some(Duration::from_secs(900)),
            "no overflow"
        );
    }

    #[test]
    fn the_fifth_failure_locks_the_subject_for_one_second() {
        let p = ThrottlePolicy::per_account();
        let mut state = None;
        for i in 0..5 {
            state = Some(p.record_failure(state.as_ref(), t(i)));
        }
        let s = state.unwrap();
        assert_eq!(s.failures, 5);
        assert_eq!(s.retry_after(t(4)), Some(Duration::from_secs(1)));
        assert_eq!(s.retry_after(t(5)), None, "the lock is over");
        let next = p.record_failure(Some(&s), t(6));
        assert_eq!(next.retry_after(t(6)), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_quiet_window_forgets_earlier_failures() {
        let p = ThrottlePolicy::per_account();
        let s = AttemptState {
            failures: 9,
            last_failure_at: t(0),
            locked_until: Some(t(16)),
        };
        assert_eq!(p.record_failure(Some(&s), t(901)).failures, 1);
        assert_eq!(
            p.record_failure(Some(&s), t(900)).failures,
            10,
            "still inside the window"
        );
    }

    #[test]
    fn clients_are_keyed_by_ipv4_address_or_ipv6_slash_64() {
        let key = |s: &str| Subject::client(s.parse().unwrap()).parts().1.to_owned();
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn the_client_policy_allows_more_failures() {
        let p = ThrottlePolicy::per_client();
        assert_eq!(p.delay_after(19), None);
        assert_eq!(p.delay_after(20), Some(Duration::from_secs(1)));
    }
}
