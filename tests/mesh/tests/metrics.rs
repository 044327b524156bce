//! Every process's `/metrics`, scraped from the real binaries: the series exist with their
//! bounded labels and move with what the mesh does (an extraction moves the edge's, ds's and
//! the expense consumer's series; a poison event moves dead-lettered; the consumer's lag
//! shows the backlog of a stopped expense-service and comes back to 0 once it has caught up), and promtool accepts every scrape when it is installed.

use std::time::Duration;

use contracts::topics;
use mesh::{Mesh, Proc};
use platform::{
    kafka::{EventProducer, RawEvent},
    testing::{eventually, metric_sum, parse_metrics, promtool_check_metrics, Sample},
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

async fn samples(mesh: &Mesh, p: Proc) -> Vec<Sample> {
    let (status, text) = mesh.scrape(p).await;
    assert_eq!(status, 200, "{} /metrics: {text}", p.binary());
    parse_metrics(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extraction_moves_the_series_of_every_hop_and_a_poison_event_is_counted_dead() {
    let mesh = Mesh::start().await;
    let asha = mesh.signup("metrics").await;
    let token = asha.access_token.as_str();
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(token),
            json!({"text": "spent 250 on lunch at Subway yesterday"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(token),
            json!({"text": "Your OTP is 483920. Do not share it with anyone."}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // The edge: by route template, method and status; never by raw path.
    let edge = samples(&mesh, Proc::Edge).await;
    let http = "http_server_request_duration_seconds_count";
    let route = [("http_route", "/v1/extractions"), ("http_request_method", "POST")];
    assert!(
        metric_sum(
            &edge,
            http,
            &[route[0], route[1], ("http_response_status_code", "200")]
        ) >= 1.0
    );
    assert!(
        metric_sum(
            &edge,
            http,
            &[route[0], route[1], ("http_response_status_code", "400")]
        ) >= 1.0
    );
    assert!(
        !edge.iter().any(|s| s
            .labels
            .get("http_route")
            .is_some_and(|r| r.contains(&asha.user_id))),
        "a user id became a label"
    );

    // ds: the RPC, the extractions by extractor and outcome, the call to user-service, the publish.
    let ds = samples(&mesh, Proc::Ds).await;
    let rpc = [
        ("rpc_service", "expense_tracker.ds.v1.ExtractionService"),
        ("rpc_method", "ExtractExpense"),
    ];
    assert!(
        metric_sum(
            &ds,
            "rpc_server_duration_seconds_count",
            &[rpc[0], rpc[1], ("rpc_grpc_status_code", "0")]
        ) >= 1.0
    );
    assert!(
        metric_sum(
            &ds,
            "rpc_server_duration_seconds_count",
            &[rpc[0], rpc[1], ("rpc_grpc_status_code", "3")]
        ) >= 1.0
    );
    let extractions = |outcome| {
        metric_sum(
            &ds,
            "ds_extractions_total",
            &[("extractor", "rules"), ("outcome", outcome)],
        )
    };
    assert_eq!(extractions("ok"), 1.0);
    assert_eq!(extractions("not_an_expense"), 1.0);
    assert!(
        metric_sum(
            &ds,
            "rpc_client_duration_seconds_count",
            &[("rpc_method", "GetUser")]
        ) >= 1.0
    );
    assert!(
        metric_sum(
            &ds,
            "messaging_publish_duration_seconds_count",
            &[
                ("messaging_destination_name", topics::EXPENSE_EXTRACTED),
                ("outcome", "ok")
            ],
        ) >= 1.0
    );

    // expense-service consumed it, and its lag on that topic comes back to 0.
    let extracted = mesh.topic(topics::EXPENSE_EXTRACTED);
    let on_topic = [("messaging_destination_name", extracted.as_str())];
    assert!(
        eventually(WAIT, || async {
            mesh.metric(Proc::Expense, "messaging_consumed_messages_total", &on_topic)
                .await
                >= 1.0
        })
        .await,
        "expense-service did not count the ExpenseExtracted it consumed"
    );
    assert!(
        eventually(WAIT, || async {
            let s = samples(&mesh, Proc::Expense).await;
            let lag: Vec<&Sample> = s
                .iter()
                .filter(|x| {
                    x.name == "messaging_kafka_consumer_lag"
                        && x.labels.get("messaging_destination_name") == Some(&extracted)
                })
                .collect();
            !lag.is_empty() && lag.iter().all(|x| x.value == 0.0)
        })
        .await,
        "no lag series at 0 for {extracted} on expense-service"
    );

    // auth published UserRegistered through its outbox, whose backlog is measured.
    assert!(
        eventually(WAIT, || async {
            let s = samples(&mesh, Proc::Auth).await;
            metric_sum(&s, "outbox_published_events_total", &[]) >= 1.0
                && s.iter().any(|x| x.name == "outbox_pending_rows")
                && s.iter().any(|x| x.name == "outbox_oldest_age_seconds")
        })
        .await,
        "auth's outbox series"
    );

    // A poison event (a type expense-service does not read) is dead-lettered and counted.
    let poison = RawEvent {
        ce_type: "expense_tracker.events.v1.NotAThing".into(),
        payload: b"\xff not protobuf".to_vec(),
        ..RawEvent::new(&contracts::events::ExpenseExtracted::default())
    };
    EventProducer::new(&mesh.infra.brokers, "/tests/poison", Duration::from_secs(10))
        .unwrap()
        .with_topic_suffix(&mesh.topic_suffix)
        .send(&poison)
        .await
        .unwrap();
    assert!(
        eventually(WAIT, || async {
            mesh.metric(Proc::Expense, "messaging_dead_lettered_messages_total", &on_topic)
                .await
                >= 1.0
        })
        .await,
        "the poison event was not counted as dead-lettered; expense log:\n{}",
        mesh.tail(Proc::Expense, 20)
    );

    // Every process: the pool, process and build series, and promtool's lint.
    for p in Proc::SERVICES.iter().chain([&Proc::Edge]) {
        let (_, text) = mesh.scrape(*p).await;
        let s = parse_metrics(&text);
        let build = s
            .iter()
            .find(|x| x.name == "build_info")
            .unwrap_or_else(|| panic!("{}: no build_info", p.binary()));
        assert!(!build.labels["git_commit"].is_empty());
        assert!(s
            .iter()
            .any(|x| x.name == "process_resident_memory_bytes" && x.value > 0.0));
        if *p != Proc::Edge {
            assert!(
                metric_sum(&s, "db_client_connections_max", &[]) >= 1.0,
                "{}",
                p.binary()
            );
        }
        if let Some(complaints) = promtool_check_metrics(&text) {
            assert!(
                complaints.is_empty(),
                "{}: promtool check metrics:\n{complaints}",
                p.binary()
            );
        }
    }
}

/// The lag an operator watches: expense-service stopped while events keep coming, then
/// started again — its `messaging_kafka_consumer_lag` on `expense.expense-extracted.v1`
/// shows the backlog and comes back to 0 as it catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_lag_shows_the_backlog_of_a_stopped_service_and_returns_to_zero() {
    use contracts::events::ExpenseExtracted;
    use futures::{stream, StreamExt};

    const EVENTS: usize = 20_000;
    let mesh = Mesh::start_with(mesh::Options {
        env: vec![("KAFKA_STATISTICS_INTERVAL_MS".into(), "100".into())],
        ..Default::default()
    })
    .await;
    let extracted = mesh.topic(topics::EXPENSE_EXTRACTED);
    let lag = |s: &[Sample]| -> Option<f64> {
        let series: Vec<f64> = s
            .iter()
            .filter(|x| {
                x.name == "messaging_kafka_consumer_lag"
                    && x.labels.get("messaging_destination_name") == Some(&extracted)
            })
            .map(|x| x.value)
            .collect();
        (!series.is_empty()).then(|| series.iter().sum())
    };

    mesh.stop(Proc::Expense, libc::SIGTERM);
    let producer = EventProducer::new(&mesh.infra.brokers, "/tests/lag", Duration::from_secs(30))
        .unwrap()
        .with_topic_suffix(&mesh.topic_suffix);
    let users: Vec<String> = (0..50).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let published = stream::iter(0..EVENTS)
        .map(|i| {
            let event = ExpenseExtracted {
                expense_id: uuid::Uuid::now_v7().to_string(),
                user_id: users[i % users.len()].clone(),
                amount: format!("{}.50", 1 + i % 300),
                currency: "EUR".into(),
                merchant: format!("Shop {}", i % 17),
                category: 1 + (i % 15) as i32,
                occurred_on: "2026-11-20".into(),
                raw_text: format!("lag {i}"),
                source: 2,
                confidence: 0.9,
                extractor: "rules".into(),
                extracted_at: None,
            };
            let producer = &producer;
            async move { producer.publish(&event).await.is_ok() }
        })
        .buffer_unordered(256)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(published, EVENTS, "every event acknowledged by the broker");

    mesh.start_again(Proc::Expense);
    let (mut highest, started) = (0.0_f64, std::time::Instant::now());
    let caught_up = loop {
        let (status, text) = mesh.scrape(Proc::Expense).await;
        if let Some(now) = (status == 200).then(|| lag(&parse_metrics(&text))).flatten() {
            highest = highest.max(now);
            if highest > 0.0 && now == 0.0 {
                break true;
            }
        }
        if started.elapsed() > Duration::from_secs(90) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        highest > 0.0,
        "the lag never showed the {EVENTS} events published while expense-service was down"
    );
    assert!(
        caught_up,
        "the lag did not come back to 0 within 90 s (highest {highest}); expense log:\n{}",
        mesh.tail(Proc::Expense, 20)
    );
    let stored = mesh
        .metric(
            Proc::Expense,
            "messaging_consumed_messages_total",
            &[("messaging_destination_name", extracted.as_str())],
        )
        .await;
    assert!(stored >= EVENTS as f64, "consumed {stored} of {EVENTS}");
    println!(
        "lag: highest {highest} after the restart, 0 again {:.1} s after it",
        started.elapsed().as_secs_f64()
    );
}
