//! One request, one trace: the client's `traceparent` travels edge → ds-service →
//! user-service (gRPC metadata) → Kafka headers → expense-service, and every process
//! exports its spans over OTLP to one collector (a real OTLP/gRPC server in the test).

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use mesh::{Mesh, Options};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        trace_service_server::{TraceService, TraceServiceServer},
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    },
    common::v1::any_value,
};
use platform::testing::eventually;
use serde_json::json;
use tonic::{Request, Response, Status};

/// (service.name, span name, trace id as hex) — and one entry per link.
type Spans = Arc<Mutex<Vec<(String, String, String)>>>;

#[derive(Clone, Default)]
struct Collector {
    spans: Spans,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                .and_then(|v| match v {
                    any_value::Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            let hex = |id: &[u8]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                // A consumer batch of several messages links to their traces instead.
                for link in &span.links {
                    spans.push((
                        service.clone(),
                        format!("{} (link)", span.name),
                        hex(&link.trace_id),
                    ));
                }
                spans.push((service.clone(), span.name, hex(&span.trace_id)));
            }
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn start_collector() -> (String, Spans) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = Collector::default();
    let spans = collector.spans.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (format!("http://{addr}"), spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extraction_is_one_trace_across_every_hop() {
    let (endpoint, spans) = start_collector().await;
    let mesh = Mesh::start_with(Options {
        env: vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint),
            // Export batches every 200 ms instead of every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
        ],
        ..Options::default()
    })
    .await;
    let user = mesh.signup("traced").await;
    let (status, _) = mesh
        .get_until(
            "/v1/users/me",
            &user.access_token,
            Duration::from_secs(30),
            |s, _| s == 200,
        )
        .await;
    assert_eq!(status, 200, "no profile");

    let trace_id = format!("{:032x}", uuid::Uuid::new_v4().as_u128());
    let resp = mesh
        .http
        .post(format!("{}/v1/extractions", mesh.edge))
        .bearer_auth(&user.access_token)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"text": "uber to the office 320 today"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let want = ["edge", "ds-service", "user-service", "expense-service"];
    let in_trace = || -> BTreeSet<String> {
        spans
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, t)| *t == trace_id)
            .map(|(service, _, _)| service.clone())
            .collect()
    };
    let complete = eventually(Duration::from_secs(30), || {
        let seen = in_trace();
        async move { want.iter().all(|w| seen.contains(*w)) }
    })
    .await;
    let names: Vec<String> = spans
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, t)| *t == trace_id)
        .map(|(s, n, _)| format!("{s}: {n}"))
        .collect();
    assert!(
        complete,
        "trace {trace_id} reached only {:?}, want {want:?}; its spans: {names:#?}",
        in_trace()
    );

    // The trace id is in the JSON logs too, so logs and traces meet.
    for p in [mesh::Proc::Ds, mesh::Proc::Edge] {
        assert!(
            mesh.log(p).contains(&trace_id),
            "{} logged nothing with trace id {trace_id}",
            p.binary()
        );
    }
}
