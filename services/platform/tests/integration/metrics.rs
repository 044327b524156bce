//! `GET /metrics`: a real gRPC server and a real pool, scraped over HTTP the way Prometheus
//! does; the series parse, carry their bounded labels, and move when something happens.

use std::net::SocketAddr;

use contracts::{
    expense::{expense_service_client::ExpenseServiceClient, GetExpenseRequest},
    user::{
        user_service_client::UserServiceClient, user_service_server::UserService, DeleteMeRequest,
        DeleteMeResponse, GetMeRequest, GetUserRequest, UpdateMeRequest, UserProfile,
    },
};
use platform::{
    metrics::MetricsServer,
    testing::{metric_sum, parse_metrics, promtool_check_metrics, scrape, Sample},
};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};

struct Profiles;

#[tonic::async_trait]
impl UserService for Profiles {
    async fn get_me(&self, _: Request<GetMeRequest>) -> Result<Response<UserProfile>, Status> {
        Ok(Response::new(UserProfile::default()))
    }
    async fn update_me(&self, _: Request<UpdateMeRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::invalid_argument("nothing to update"))
    }
    async fn delete_me(&self, _: Request<DeleteMeRequest>) -> Result<Response<DeleteMeResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }
    async fn get_user(&self, _: Request<GetUserRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::not_found("no such user"))
    }
}

/// A user-service stack (JWT required) and its metrics endpoint, both on free ports.
async fn spawn() -> (String, SocketAddr, CancellationToken) {
    let (grpc, stop) = crate::spawn_user_service(Profiles).await;
    let metrics = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = metrics.local_addr();
    tokio::spawn(metrics.serve(stop.clone()));
    (grpc, addr, stop)
}

async fn samples(addr: SocketAddr) -> Vec<Sample> {
    let (status, text) = scrape(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    parse_metrics(&text)
}

const RPC_COUNT: &str = "rpc_server_duration_seconds_count";

fn rpcs(samples: &[Sample], method: &str, code: &str) -> f64 {
    metric_sum(
        samples,
        RPC_COUNT,
        &[
            ("rpc_system", "grpc"),
            ("rpc_service", "expense_tracker.user.v1.UserService"),
            ("rpc_method", method),
            ("rpc_grpc_status_code", code),
        ],
    )
}

#[tokio::test]
async fn an_rpc_moves_its_duration_histogram_by_service_method_and_code() {
    let (grpc, metrics, stop) = spawn().await;
    let before = samples(metrics).await;
    let mut client = UserServiceClient::connect(grpc.clone()).await.unwrap();
    // No token: the auth layer answers UNAUTHENTICATED (16), and the call still counts.
    for _ in 0..3 {
        let err = client.get_me(GetMeRequest {}).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let after = samples(metrics).await;
    assert!(
        rpcs(&after, "GetMe", "16") >= rpcs(&before, "GetMe", "16") + 3.0,
        "three refused GetMe calls are not counted"
    );
    // The histogram has its buckets, in seconds, up to +Inf, and a sum.
    let buckets: Vec<&Sample> = after
        .iter()
        .filter(|s| {
            s.name == "rpc_server_duration_seconds_bucket"
                && s.labels.get("rpc_method").map(String::as_str) == Some("GetMe")
        })
        .collect();
    assert!(buckets.iter().any(|b| b.labels["le"] == "0.005"), "{buckets:?}");
    assert!(buckets.iter().any(|b| b.labels["le"] == "+Inf"), "{buckets:?}");
    assert!(
        metric_sum(
            &after,
            "rpc_server_duration_seconds_sum",
            &[("rpc_method", "GetMe")]
        ) > 0.0
    );
    stop.cancel();
}

#[tokio::test]
async fn methods_the_server_does_not_route_are_one_bounded_other_series() {
    let (grpc, metrics, stop) = spawn().await;
    let before = samples(metrics).await;
    // ExpenseService is not served here: UNIMPLEMENTED, and its name is not kept.
    let mut other = ExpenseServiceClient::connect(grpc).await.unwrap();
    let err = other.get_expense(GetExpenseRequest::default()).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::Unimplemented | Code::Unauthenticated),
        "{err}"
    );
    let after = samples(metrics).await;
    let others = |s: &[Sample]| {
        metric_sum(
            s,
            RPC_COUNT,
            &[("rpc_service", "_OTHER"), ("rpc_method", "_OTHER")],
        )
    };
    assert!(others(&after) >= others(&before) + 1.0);
    assert!(
        !after.iter().any(|s| s
            .labels
            .get("rpc_service")
            .is_some_and(|v| v.contains("ExpenseService"))),
        "an unrouted service became a label"
    );
    stop.cancel();
}

#[tokio::test]
async fn a_pool_shows_its_connections_in_use_and_its_limit() {
    let infra = crate::infra();
    let db = infra.fresh_database().await;
    let pool = platform::db::pool(&db, 3).unwrap();
    let (_, metrics, stop) = spawn().await;
    let held = pool.get().await.unwrap();
    let s = samples(metrics).await;
    assert!(metric_sum(&s, "db_client_connections_usage", &[("state", "used")]) >= 1.0);
    assert!(metric_sum(&s, "db_client_connections_max", &[]) >= 3.0);
    assert!(s
        .iter()
        .any(|x| x.name == "db_client_connections_pending_requests"));
    drop(held);
    stop.cancel();
}

#[tokio::test]
async fn the_process_and_build_series_are_there_and_promtool_accepts_the_scrape() {
    let (_, metrics, stop) = spawn().await;
    let (status, text) = scrape(metrics, "/metrics").await;
    assert_eq!(status, 200);
    let s = parse_metrics(&text);
    // CPU time is counted in whole seconds by the process collector: present, maybe 0 yet.
    assert!(s.iter().any(|x| x.name == "process_cpu_seconds_total"), "{text}");
    for name in ["process_resident_memory_bytes", "process_open_fds"] {
        assert!(
            s.iter().any(|x| x.name == name && x.value > 0.0),
            "{name} missing:\n{text}"
        );
    }
    let build = s
        .iter()
        .find(|x| x.name == "build_info")
        .unwrap_or_else(|| panic!("no build_info:\n{text}"));
    assert_eq!(build.value, 1.0);
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(!build.labels["git_commit"].is_empty());
    match promtool_check_metrics(&text) {
        Some(complaints) => assert!(complaints.is_empty(), "promtool check metrics:\n{complaints}"),
        None => eprintln!("promtool not found (scripts/promtool.sh installs it): lint skipped"),
    }
    stop.cancel();
}

#[tokio::test]
async fn only_get_metrics_is_served() {
    let (_, metrics, stop) = spawn().await;
    let (status, text) = scrape(metrics, "/").await;
    assert_eq!(status, 404);
    assert!(text.contains("GET /metrics"), "{text}");
    stop.cancel();
}
