//! `edge`: serve the local edge (default), or generate Kong's configuration and proto
//! bundle from the same config.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use edge::{api, kong, Application, BoxError, Config};

#[derive(Parser)]
#[command(name = "edge", about = "Kong-faithful HTTP/JSON edge for the gRPC services")]
struct Cli {
    /// The edge config (YAML or TOML).
    #[arg(
        long,
        env = "EDGE_CONFIG",
        default_value = "gateway/edge/edge.yaml",
        global = true
    )]
    config: PathBuf,
    /// Overrides `listen` from the config (serve only).
    #[arg(long, env = "EDGE_LISTEN", global = true)]
    listen: Option<std::net::SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP/JSON (the default).
    Serve,
    /// Write the DB-less Kong configuration.
    KongConfig {
        #[arg(long, default_value = "gateway/kong/kong.yml")]
        out: PathBuf,
    },
    /// Write the OpenAPI 3.1 document of the JSON API (or, with --check, fail when the
    /// file differs from a fresh one).
    Openapi {
        #[arg(long, default_value = "gateway/openapi/openapi.yaml")]
        out: PathBuf,
        #[arg(long)]
        check: bool,
    },
    /// Write the proto files Kong's grpc-gateway plugin reads.
    ProtoBundle {
        #[arg(long, default_value = "gateway/kong/protos")]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let cli = Cli::parse();
    let mut config = Config::load(&cli.config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let _telemetry = platform::telemetry::init("edge");
            if let Some(addr) = cli.listen {
                config.listen = addr;
            }
            let app = Application::build(&config).await?;
            // `GET /metrics` on METRICS_ADDR (default 127.0.0.1:9080; `off`: none).
            let metrics_default = std::net::SocketAddr::from(([127, 0, 0, 1], 9080));
            let metrics = platform::config::metrics_addr(&platform::config::Env::process(), metrics_default)?;
            let stop = tokio_util::sync::CancellationToken::new();
            if let Some(addr) = metrics {
                let server = platform::metrics::MetricsServer::bind(addr).await?;
                tracing::info!(url = %format!("http://{}/metrics", server.local_addr()), "serving metrics");
                platform::metrics::set_service("edge");
                tokio::spawn(server.serve(stop.clone()));
            }
            app.run_until_stopped(platform::grpc::shutdown_signal()).await?;
            stop.cancel();
        }
        Command::KongConfig { out } => {
            let pool = api::load_pool(&config)?;
            let text = kong::kong_yaml(&config, &pool)?;
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, text)?;
            eprintln!("wrote {}", out.display());
        }
        Command::Openapi { out, check } => {
            let pool = api::load_pool(&config)?;
            let text = edge::openapi::yaml(&config, &pool)?;
            if check {
                if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
                    return Err(format!(
                        "{} is stale: run `make openapi` (edge openapi --out {})",
                        out.display(),
                        out.display()
                    )
                    .into());
                }
                eprintln!("{} is up to date", out.display());
            } else {
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&out, text)?;
                eprintln!("wrote {}", out.display());
            }
        }
        Command::ProtoBundle { out } => {
            let pool = api::load_pool(&config)?;
            let root = config
                .proto_root
                .as_deref()
                .map(|p| config.resolve(p))
                .ok_or("proto_root is not set in the edge config")?;
            let services = kong::services(&config, &pool)?;
            let files = kong::bundle::bundle(&root, &services)?;
            kong::bundle::write(&out, &files)?;
            eprintln!("wrote {} files under {}", files.len(), out.display());
        }
    }
    Ok(())
}
