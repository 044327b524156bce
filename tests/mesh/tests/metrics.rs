//! Every process's `/metrics`, scraped from the real binaries: the series exist with their
//! bounded labels and move with what the mesh does (an extraction moves the edge's, ds's and
//! the expense consumer's series; a poison event moves dead-lettered; the consumer's lag
//! comes back to 0), and promtool accepts every scrape when it is installed.

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

async fn value(mesh: &Mesh, p: Proc, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric_sum(&samples(mesh, p).await, name, labels)
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
            value(
                &mesh,
                Proc::Expense,
                "messaging_consumed_messages_total",
                &on_topic,
            )
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
            value(
                &mesh,
                Proc::Expense,
                "messaging_dead_lettered_messages_total",
                &on_topic,
            )
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
