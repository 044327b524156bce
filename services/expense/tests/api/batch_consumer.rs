//! The batching consumer on its own, with a scripted handler: dedupe inside a batch,
//! rejection and isolation of poison events, retry of transient failures, offsets stored
//! only after success.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use contracts::events::UserDeleted;
use platform::{
    batch_consumer::{consume_batches, BatchSettings, Rejected},
    kafka::{ConsumerSettings, Envelope, EventProducer, HandlerError, RawEvent},
    testing::{eventually, read_topic, unique, Infra},
};
use tokio_util::sync::CancellationToken;

/// What the scripted handler saw and did.
#[derive(Default)]
struct Script {
    /// Batch sizes, in call order.
    calls: Mutex<Vec<usize>>,
    /// user_ids applied, in order.
    applied: Mutex<Vec<String>>,
    failed_once: AtomicBool,
}

/// user_id "poison" fails any batch it is in (permanently); "reject" is refused by name;
/// the very first call fails transiently.
async fn handle(
    script: Arc<Script>,
    batch: Arc<[Envelope<UserDeleted>]>,
) -> Result<Vec<Rejected>, HandlerError> {
    script.calls.lock().unwrap().push(batch.len());
    if !script.failed_once.swap(true, Ordering::SeqCst) {
        return Err(HandlerError::Transient("database restarting".into()));
    }
    if batch.iter().any(|e| e.event.user_id == "poison") {
        return Err(HandlerError::Permanent("check constraint violated".into()));
    }
    let mut rejected = vec![];
    for (index, e) in batch.iter().enumerate() {
        if e.event.user_id == "reject" {
            rejected.push(Rejected {
                index,
                reason: "user_id is not a UUID".into(),
            });
        } else {
            script.applied.lock().unwrap().push(e.event.user_id.clone());
        }
    }
    Ok(rejected)
}

fn start(
    infra: &Infra,
    topic: &str,
    group: &str,
    script: Arc<Script>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let mut consumer = ConsumerSettings::new(&infra.brokers, group, topic);
    consumer.min_backoff = Duration::from_millis(50);
    consumer.max_backoff = Duration::from_millis(200);
    let settings = BatchSettings {
        consumer,
        max_messages: 100,
        max_wait: Duration::from_millis(500),
    };
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move {
        let handler = move |batch| handle(script.clone(), batch);
        consume_batches(settings, handler, token).await.unwrap();
    });
    (stop, task)
}

fn deleted(user_id: &str) -> RawEvent {
    RawEvent::new(&UserDeleted {
        user_id: user_id.into(),
        deleted_at: None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_deduped_retried_and_split_around_its_poison() {
    let infra = Infra::from_env();
    let topic = unique("batch-test");
    platform::kafka::ensure_topics(&infra.brokers, &[&topic], 1)
        .await
        .unwrap();
    let producer = EventProducer::new(&infra.brokers, "/tests", Duration::from_secs(10)).unwrap();
    let send = |raw: RawEvent| {
        let (producer, topic) = (&producer, &topic);
        async move {
            let mut raw = raw;
            raw.topic = topic.clone();
            producer.send(&raw).await.unwrap();
            raw
        }
    };
    // All on the topic before the consumer starts, so they arrive as one batch.
    let first = send(deleted("a")).await;
    send(first.clone()).await; // the same ce_id again
    let mut garbage = deleted("garbage");
    garbage.payload = b"\x0a\xff\xff\xff".to_vec();
    send(garbage.clone()).await;
    let poison = send(deleted("poison")).await;
    let reject = send(deleted("reject")).await;
    send(deleted("b")).await;

    let script = Arc::new(Script::default());
    let group = unique("g");
    let (stop, task) = start(&infra, &topic, &group, script.clone());
    assert!(
        eventually(Duration::from_secs(30), || async {
            script.applied.lock().unwrap().len() >= 2
        })
        .await,
        "the good events were applied"
    );
    let dlq = read_topic(
        &infra.brokers,
        &contracts::topics::dlq(&topic),
        3,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    stop.cancel();
    task.await.unwrap();

    assert_eq!(*script.applied.lock().unwrap(), ["a", "b"], "each once, in order");
    // Transient failure of the batch of 4 distinct decodable events, its retry fails
    // permanently (poison), then one call per event.
    assert_eq!(*script.calls.lock().unwrap(), [4, 4, 1, 1, 1, 1]);
    let reasons: Vec<(String, String)> = dlq
        .iter()
        .map(|m| (m.headers["ce_id"].clone(), m.headers["dlq_error"].clone()))
        .collect();
    assert_eq!(dlq.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, garbage.id.to_string());
    assert!(reasons[0].1.contains("undecodable"), "{reasons:?}");
    assert_eq!(
        reasons[1],
        (poison.id.to_string(), "check constraint violated".into())
    );
    assert_eq!(
        reasons[2],
        (reject.id.to_string(), "user_id is not a UUID".into())
    );
    assert_eq!(dlq[1].headers["dlq_original_topic"], topic);
    assert_eq!(dlq[1].headers["dlq_consumer"], group);

    // The offsets were stored and committed: the same group starts after the batch.
    let again = Arc::new(Script::default());
    again.failed_once.store(true, Ordering::SeqCst);
    let (stop, task) = start(&infra, &topic, &group, again.clone());
    send(deleted("c")).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            !again.applied.lock().unwrap().is_empty()
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(*again.applied.lock().unwrap(), ["c"], "nothing redelivered");
}
