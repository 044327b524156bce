//! A consecutive-failure circuit breaker: after `threshold` failed calls in a row the
//! provider is skipped for `cooldown`; then one trial call is let through (half-open) and
//! its outcome closes the circuit or opens it for another cool-down.
//!
//! Skipping costs nothing, and the offline extractor answers instead, so a provider that
//! is down or throttling us does not add its timeout to every request.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::time::Instant;

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

/// The circuit is open: no call for `retry_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub retry_in: Duration,
}

/// Leave to make one call; report its outcome with [`Permit::succeeded`] or
/// [`Permit::failed`]. Dropped without either (the caller went away), it counts as
/// neither.
#[derive(Debug)]
#[must_use = "report the outcome of the call"]
pub struct Permit {
    state: Arc<Mutex<State>>,
    threshold: u32,
    cooldown: Duration,
    trial: bool,
    reported: bool,
}

impl Breaker {
    /// `threshold` 0 is read as 1.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Arc::default(),
        }
    }

    /// Leave to call, unless the circuit is open (or half-open with its trial call out).
    pub fn permit(&self) -> Result<Permit, Open> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut trial = false;
        if let Some(until) = s.open_until {
            let now = Instant::now();
            if now < until {
                return Err(Open {
                    retry_in: until - now,
                });
            }
            // Half-open: one call tries the provider again; the others keep skipping it.
            if s.trial_in_flight {
                return Err(Open {
                    retry_in: Duration::ZERO,
                });
            }
            s.trial_in_flight = true;
            trial = true;
        }
        Ok(Permit {
            state: self.state.clone(),
            threshold: self.threshold,
            cooldown: self.cooldown,
            trial,
            reported: false,
        })
    }

    /// Is the circuit open now (for tests and health)?
    pub fn is_open(&self) -> bool {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.open_until.is_some_and(|until| Instant::now() < until)
    }
}

impl Permit {
    pub fn succeeded(mut self) {
        self.reported = true;
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.open_until.is_some() {
            tracing::info!("llm circuit closed: the provider answered again");
        }
        *s = State::default();
    }

    pub fn failed(mut self) {
        self.reported = true;
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.trial {
            s.trial_in_flight = false;
        }
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        if s.consecutive_failures >= self.threshold {
            s.open_until = Some(Instant::now() + self.cooldown);
            tracing::warn!(
                failures = s.consecutive_failures,
                cooldown_ms = self.cooldown.as_millis() as u64,
                "llm circuit open: skipping the provider"
            );
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.trial && !self.reported {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.trial_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time, short cool-downs: tokio's paused clock needs its `test-util` feature,
    // which would rebuild every tokio dependent for this crate's tests.
    const COOL: Duration = Duration::from_millis(60);

    fn wait_out_the_cooldown() {
        std::thread::sleep(COOL + Duration::from_millis(20));
    }

    #[test]
    fn opens_after_threshold_failures_in_a_row() {
        let b = Breaker::new(3, Duration::from_secs(30));
        b.permit().unwrap().failed();
        b.permit().unwrap().failed();
        // A success in between resets the count.
        b.permit().unwrap().succeeded();
        b.permit().unwrap().failed();
        b.permit().unwrap().failed();
        assert!(!b.is_open());
        b.permit().unwrap().failed();
        assert!(b.is_open());
        let open = b.permit().unwrap_err();
        assert!(open.retry_in > Duration::from_secs(29), "{open:?}");
    }

    #[test]
    fn half_open_lets_one_trial_through() {
        let b = Breaker::new(1, COOL);
        b.permit().unwrap().failed();
        assert!(b.permit().is_err());
        wait_out_the_cooldown();
        let trial = b.permit().expect("trial call after the cool-down");
        assert!(b.permit().is_err(), "only one trial at a time");
        trial.failed();
        assert!(b.permit().is_err(), "a failed trial opens the circuit again");
        wait_out_the_cooldown();
        b.permit().unwrap().succeeded();
        assert!(!b.is_open());
        b.permit().unwrap().succeeded();
    }

    #[test]
    fn an_abandoned_trial_frees_the_slot() {
        let b = Breaker::new(1, COOL);
        b.permit().unwrap().failed();
        wait_out_the_cooldown();
        drop(b.permit().unwrap());
        assert!(b.permit().is_ok());
    }
}
