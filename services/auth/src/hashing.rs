//! Where argon2id runs: a few dedicated threads, as many as the memory budget allows, each
//! reusing one buffer for the hash's memory (19 MiB with OWASP's parameters).
//!
//! Why not `spawn_blocking`: every concurrent call got a blocking thread (up to 512) and
//! a fresh 19 MiB allocation, and glibc kept the freed buffers in its per-thread arenas,
//! so RSS grew with each burst and stayed (measured: `docs/PERFORMANCE.md`). Here:
//! - `PASSWORD_HASH_MEMORY_MIB / memory per hash` workers exist, and only workers hold
//!   argon2 memory, so the budget bounds it whatever the concurrency;
//! - a call first takes a slot (running or queued; twice as many as workers) from a FIFO
//!   semaphore, waits at most `PASSWORD_HASH_MAX_WAIT_MS` for one, and is otherwise
//!   refused with RESOURCE_EXHAUSTED and a retry hint, so a burst queues briefly and
//!   sheds the rest instead of piling up;
//! - a worker idle for [`RELEASE_AFTER`] frees its buffer, so an idle service returns to
//!   its idle size.

use std::{
    collections::VecDeque,
    panic::AssertUnwindSafe,
    sync::{Arc, Condvar, Mutex},
    time::Duration,
};

use argon2::Block;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::domain::{Password, PasswordHasher};

/// How long a worker keeps its buffer without work before freeing it.
pub const RELEASE_AFTER: Duration = Duration::from_secs(10);

/// The retry hint of a refusal. The queue holds at most two hashes per worker, well
/// under a second of work, so the smallest whole-second hint is the honest one.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Slots (running or queued hashes) per worker.
const SLOTS_PER_WORKER: u32 = 2;

/// Settings of the pool (`PASSWORD_HASH_MEMORY_MIB`, `PASSWORD_HASH_MAX_WAIT_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashBudget {
    /// Memory all concurrent hashes may hold together, in MiB.
    pub memory_mib: u32,
    /// How long a call waits for a slot before it is refused.
    pub max_wait: Duration,
}

impl HashBudget {
    pub const DEFAULT_MEMORY_MIB: u32 = 64;
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(2);
}

/// Why a hash did not run.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many sign-ups and sign-ins are being checked right now; retry in {} s", retry_after.as_secs())]
    Busy { retry_after: Duration },
    #[error("argon2id failed: {0}")]
    Failed(String),
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The argon2id workers. Cheap to clone; the threads end when the last clone is dropped.
#[derive(Clone)]
pub struct HashPool {
    inner: Arc<Inner>,
}

struct Inner {
    hasher: PasswordHasher,
    slots: Arc<Semaphore>,
    workers: u32,
    max_wait: Duration,
    queue: Arc<Queue>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut s) = self.queue.state.lock() {
            s.closed = true;
        }
        self.queue.ready.notify_all();
    }
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("workers", &self.inner.workers)
            .field("max_wait", &self.inner.max_wait)
            .finish()
    }
}

/// The jobs waiting for a worker. A `Mutex` + `Condvar` rather than a channel: every idle
/// worker waits with its own timeout, so each frees its buffer on time.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl HashPool {
    /// How many hashes with `hasher`'s parameters fit in `memory_mib` (0 if not one).
    pub fn workers_for(hasher: &PasswordHasher, memory_mib: u32) -> u32 {
        let per_hash_kib = hasher.memory_blocks().max(1) as u64; // a block is 1 KiB
        u32::try_from(u64::from(memory_mib) * 1024 / per_hash_kib).unwrap_or(u32::MAX)
    }

    /// Starts `budget.memory_mib / memory per hash` worker threads, at least one (the
    /// configuration refuses a budget smaller than one hash).
    pub fn new(hasher: PasswordHasher, budget: HashBudget) -> std::io::Result<Self> {
        let workers = Self::workers_for(&hasher, budget.memory_mib).clamp(1, 1024);
        let queue = Arc::new(Queue::default());
        for i in 0..workers {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(&queue))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                hasher,
                slots: Arc::new(Semaphore::new((workers * SLOTS_PER_WORKER) as usize)),
                workers,
                max_wait: budget.max_wait,
                queue,
            }),
        })
    }

    pub fn workers(&self) -> u32 {
        self.inner.workers
    }

    /// A slot for one hash, waiting at most `max_wait`; `Busy` beyond. Take it before any
    /// other work of the request, so a refused request has changed nothing.
    pub async fn slot(&self) -> Result<HashSlot, HashError> {
        let inner = &self.inner;
        match tokio::time::timeout(inner.max_wait, inner.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(HashSlot {
                pool: self.clone(),
                permit,
            }),
            // Timed out (the semaphore is never closed).
            _ => {
                tracing::warn!(
                    workers = inner.workers,
                    waited_ms = inner.max_wait.as_millis() as u64,
                    "password hashing saturated; request refused"
                );
                Err(HashError::Busy {
                    retry_after: RETRY_AFTER,
                })
            }
        }
    }

    /// `slot()` then [`HashSlot::hash`].
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.slot().await?.hash(password).await
    }
}

/// The right to run one hash: queued behind at most the other slot holders.
pub struct HashSlot {
    pool: HashPool,
    permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for HashSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashSlot")
    }
}

impl HashSlot {
    /// The PHC string of `password` with a fresh salt.
    pub async fn hash(self, password: Password) -> Result<String, HashError> {
        let hasher = self.pool.inner.hasher.clone();
        self.run(move |mem| hasher.hash_in(&password, mem))
            .await?
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    /// Whether `password` matches `stored` (`None`: the dummy hash is checked, false).
    pub async fn verify(self, password: String, stored: Option<String>) -> Result<bool, HashError> {
        let hasher = self.pool.inner.hasher.clone();
        self.run(move |mem| hasher.verify_in(&password, stored.as_deref(), mem))
            .await
    }

    /// Runs `f` on a worker. The slot travels with the job: a caller that goes away
    /// (client cancelled) frees it only once the hash has finished.
    async fn run<T: Send + 'static>(
        self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        let permit = self.permit;
        let job: Job = Box::new(move |mem| {
            let _slot = permit;
            let _ = tx.send(f(mem));
        });
        let queue = &self.pool.inner.queue;
        match queue.state.lock() {
            Ok(mut s) if !s.closed => s.jobs.push_back(job),
            _ => return Err(HashError::Failed("the hashing workers have stopped".into())),
        }
        queue.ready.notify_one();
        rx.await
            .map_err(|_| HashError::Failed("a hashing job failed (see the log)".into()))
    }
}

/// One worker: takes jobs until the pool is dropped, reusing `mem` across them and freeing
/// it after [`RELEASE_AFTER`] without work.
fn worker(queue: &Queue) {
    let mut mem: Vec<Block> = Vec::new();
    loop {
        let job = {
            let Ok(mut s) = queue.state.lock() else { return };
            loop {
                if let Some(job) = s.jobs.pop_front() {
                    break job;
                }
                if s.closed {
                    return;
                }
                let Ok((next, waited)) = queue.ready.wait_timeout(s, RELEASE_AFTER) else {
                    return;
                };
                s = next;
                if waited.timed_out() && s.jobs.is_empty() && !mem.is_empty() {
                    mem = Vec::new();
                }
            }
        };
        // argon2 does not panic on input it accepts; if it ever did, the caller gets an
        // internal error (its reply channel is dropped) and this worker lives on.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut mem))).is_err() {
            tracing::error!("a password-hashing job panicked");
            mem = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(memory_mib: u32, max_wait_ms: u64) -> HashPool {
        // m = 1024 KiB: one hash per MiB of budget, fast enough for tests.
        let hasher = PasswordHasher::with_params(1024, 1, 1).unwrap();
        HashPool::new(
            hasher,
            HashBudget {
                memory_mib,
                max_wait: Duration::from_millis(max_wait_ms),
            },
        )
        .unwrap()
    }

    #[test]
    fn the_budget_sets_the_number_of_workers() {
        let owasp = PasswordHasher::owasp();
        assert_eq!(HashPool::workers_for(&owasp, 18), 0);
        assert_eq!(HashPool::workers_for(&owasp, 19), 1);
        assert_eq!(HashPool::workers_for(&owasp, HashBudget::DEFAULT_MEMORY_MIB), 3);
        assert_eq!(pool(4, 0).workers(), 4);
    }

    #[tokio::test]
    async fn hashes_made_on_the_workers_verify() {
        let p = pool(2, 1000);
        let pw = Password::parse("tr0ub4dor&3-horse").unwrap();
        let phc = p.hash(pw.clone()).await.unwrap();
        let ok = p
            .slot()
            .await
            .unwrap()
            .verify(pw.expose().into(), Some(phc.clone()));
        assert!(ok.await.unwrap());
        let wrong = p
            .slot()
            .await
            .unwrap()
            .verify("tr0ub4dor&3-horsE".into(), Some(phc));
        assert!(!wrong.await.unwrap());
        let unknown = p.slot().await.unwrap().verify("anything".into(), None);
        assert!(!unknown.await.unwrap());
    }

    #[tokio::test]
    async fn a_saturated_pool_refuses_after_the_wait_and_recovers() {
        // One worker, two slots, 50 ms of patience.
        let p = pool(1, 50);
        let held = [p.slot().await.unwrap(), p.slot().await.unwrap()];
        let started = std::time::Instant::now();
        let err = p.slot().await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(matches!(err, HashError::Busy { retry_after } if retry_after == RETRY_AFTER));
        assert!(err.to_string().contains("retry in 1 s"), "{err}");
        drop(held);
        let pw = Password::parse("tr0ub4dor&3-horse").unwrap();
        assert!(p.hash(pw).await.unwrap().starts_with("$argon2id$"));
    }

    #[tokio::test]
    async fn a_cancelled_caller_keeps_its_slot_until_the_hash_is_done() {
        // A real-cost hash (tens of ms), so it is still running when the caller is gone.
        let hasher = PasswordHasher::owasp();
        let budget = HashBudget {
            memory_mib: 19,
            max_wait: Duration::ZERO,
        };
        let p = HashPool::new(hasher, budget).unwrap();
        let pw = Password::parse("tr0ub4dor&3-horse").unwrap();
        let slot = p.slot().await.unwrap();
        let _second = p.slot().await.unwrap();
        // Start the hash, then drop the caller's future right away.
        let fut = slot.hash(pw);
        drop(tokio::time::timeout(Duration::from_millis(0), fut).await);
        assert_eq!(p.inner.slots.available_permits(), 0);
        // Once the worker is done the slot comes back.
        for _ in 0..200 {
            if p.inner.slots.available_permits() == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the slot was not returned");
    }
}
