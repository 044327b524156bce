//! Edge transcoding overhead: the same unary RPC (`GetExpense`, JWT-verified by the
//! service) called directly over gRPC and through the edge (HTTP/1.1 JSON → gRPC), at the
//! same concurrency, as p50/p99 latency and throughput, and their ratios.
//!
//! `cargo bench -p edge --bench edge_overhead`; `EDGE_BENCH_SECS` (default 5) and
//! `EDGE_BENCH_CONCURRENCY` (a list, default `1,16`) tune it. Everything (clients, edge, service)
//! shares one process and the machine's cores, so absolute numbers are pessimistic;
//! the ratio is the figure to watch (issue 7's target: the edge adds ≤ 30% at p50).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use contracts::expense::{
    self,
    expense_service_client::ExpenseServiceClient,
    expense_service_server::{ExpenseService, ExpenseServiceServer},
};
use edge::{Application, Config};
use platform::{grpc::GrpcServer, jwt::JwtVerifier, testing::tokens};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use uuid::Uuid;

#[derive(Clone)]
struct Ledger;

type Res<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ExpenseService for Ledger {
    async fn create_expense(&self, _: Request<expense::CreateExpenseRequest>) -> Res<expense::Expense> {
        Err(Status::unimplemented(""))
    }
    async fn get_expense(&self, req: Request<expense::GetExpenseRequest>) -> Res<expense::Expense> {
        Ok(Response::new(expense::Expense {
            id: req.into_inner().id,
            user_id: "0190f2a4-0000-7000-8000-000000000001".into(),
            amount: "250.00".into(),
            currency: "INR".into(),
            merchant: "Subway".into(),
            category: expense::Category::FoodAndDrink as i32,
            occurred_on: "2024-05-01".into(),
            note: "lunch".into(),
            raw_text: "spent 250 on lunch at Subway yesterday".into(),
            source: expense::Source::TextRules as i32,
            confidence: 0.9,
            created_at: Some(prost_types::Timestamp {
                seconds: 1_714_558_830,
                nanos: 0,
            }),
            updated_at: Some(prost_types::Timestamp {
                seconds: 1_714_558_830,
                nanos: 0,
            }),
            version: 1,
        }))
    }
    async fn list_expenses(
        &self,
        _: Request<expense::ListExpensesRequest>,
    ) -> Res<expense::ListExpensesResponse> {
        Err(Status::unimplemented(""))
    }
    async fn update_expense(&self, _: Request<expense::UpdateExpenseRequest>) -> Res<expense::Expense> {
        Err(Status::unimplemented(""))
    }
    async fn delete_expense(
        &self,
        _: Request<expense::DeleteExpenseRequest>,
    ) -> Res<expense::DeleteExpenseResponse> {
        Err(Status::unimplemented(""))
    }
    async fn summarize_expenses(
        &self,
        _: Request<expense::SummarizeExpensesRequest>,
    ) -> Res<expense::SummarizeExpensesResponse> {
        Err(Status::unimplemented(""))
    }
    async fn export_expenses(
        &self,
        _: Request<expense::ExportExpensesRequest>,
    ) -> Res<expense::ExportExpensesResponse> {
        Err(Status::unimplemented(""))
    }
    async fn list_recurring_expenses(
        &self,
        _: Request<expense::ListRecurringExpensesRequest>,
    ) -> Res<expense::ListRecurringExpensesResponse> {
        Err(Status::unimplemented(""))
    }
}

struct Figures {
    p50: Duration,
    p99: Duration,
    rps: f64,
    errors: usize,
}

/// Runs `concurrency` workers calling `call` for `secs` (after a 1 s warm-up).
async fn load<F, Fut>(concurrency: usize, secs: u64, call: F) -> Figures
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let warm_until = Instant::now() + Duration::from_secs(1);
    let end = warm_until + Duration::from_secs(secs);
    let mut workers = vec![];
    for _ in 0..concurrency {
        let call = call.clone();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(4096);
            let mut errors = 0;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let ok = call().await;
                if started >= warm_until {
                    samples.push(started.elapsed());
                    errors += usize::from(!ok);
                }
            }
            (samples, errors)
        }));
    }
    let mut all = vec![];
    let mut errors = 0;
    for w in workers {
        let (s, e) = w.await.unwrap();
        all.extend(s);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Figures {
        p50: pct(0.50),
        p99: pct(0.99),
        rps: all.len() as f64 / secs as f64,
        errors,
    }
}

fn main() {
    let secs: u64 = std::env::var("EDGE_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let levels: Vec<usize> = std::env::var("EDGE_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,16".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let stop = CancellationToken::new();
        let verifier = JwtVerifier::new(tokens::ISSUER, tokens::AUDIENCE)
            .with_pem(tokens::KID, tokens::PUBLIC_KEY_PEM.as_bytes())
            .unwrap();
        let server = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
            .require_auth(verifier, &[])
            .add_service(ExpenseServiceServer::new(Ledger));
        let grpc_addr = server.local_addr();
        platform::grpc::spawn(server, stop.clone());

        let yaml = format!(
            r#"
listen: 127.0.0.1:0
upstreams:
  expense_tracker.expense.v1.ExpenseService: {{ address: "http://{grpc_addr}" }}
jwt:
  issuers:
    - {{ iss: {}, audience: {}, kid: {}, public_key_file: ../../services/platform/tests/fixtures/signing.pub.pem }}
"#,
            tokens::ISSUER,
            tokens::AUDIENCE,
            tokens::KID
        );
        let config = Config::from_yaml_str(&yaml, std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let app = Application::build(&config).await.unwrap();
        let edge_url = format!("http://127.0.0.1:{}/v1/expenses/0190f2a4-0000-7000-8000-00000000abcd", app.port());
        let s = stop.clone();
        tokio::spawn(app.run_until_stopped(async move { s.cancelled().await }));

        let token = tokens::access_token(Uuid::new_v4());
        let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();

        println!("edge_overhead: GetExpense (JWT-verified by the service), {secs} s per run, one process");
        println!("{:<6} {:<14} {:>10} {:>10} {:>12} {:>8}", "conc.", "path", "p50 ms", "p99 ms", "req/s", "errors");
        for concurrency in levels {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let direct = {
                let client = ExpenseServiceClient::new(channel);
                let bearer = bearer.clone();
                load(concurrency, secs, move || {
                    let mut client = client.clone();
                    let bearer = bearer.clone();
                    async move {
                        let mut req = Request::new(expense::GetExpenseRequest {
                            id: "0190f2a4-0000-7000-8000-00000000abcd".into(),
                        });
                        req.metadata_mut().insert("authorization", bearer);
                        client.get_expense(req).await.is_ok()
                    }
                })
                .await
            };
            let via_edge = {
                // reqwest may carry ds-service's `rustls-no-provider` (workspace features).
                let _ = rustls::crypto::ring::default_provider().install_default();
                let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
                let edge_url = edge_url.clone();
                let token = token.clone();
                load(concurrency, secs, move || {
                    let req = http.get(&edge_url).bearer_auth(&token).send();
                    async move {
                        match req.await {
                            Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                            Err(_) => false,
                        }
                    }
                })
                .await
            };
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            for (name, f) in [("direct gRPC", &direct), ("via edge", &via_edge)] {
                println!(
                    "{:<6} {:<14} {:>10.3} {:>10.3} {:>12.0} {:>8}",
                    concurrency,
                    name,
                    ms(f.p50),
                    ms(f.p99),
                    f.rps,
                    f.errors
                );
            }
            println!(
                "{:<6} edge/direct: p50 x{:.2}, p99 x{:.2}, throughput x{:.2}",
                concurrency,
                ms(via_edge.p50) / ms(direct.p50),
                ms(via_edge.p99) / ms(direct.p99),
                via_edge.rps / direct.rps
            );
        }
        stop.cancel();
    });
}
