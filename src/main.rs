//! The `confab` command: `confab serve` (the default) runs the server.

use anyhow::Context;
use clap::{Parser, Subcommand};
use confab::app::App;
use confab::config::{Config, Overrides, PushOverrides};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Confab: a self-hosted real-time chat server (Socket.IO v4 + REST).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server (the default when no command is given).
    Serve(ServeArgs),
}

/// Settings come from defaults, then `confab.toml` (or --config), then
/// CONFAB_* environment variables, then these flags.
#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Configuration file (TOML). Default: ./confab.toml if it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Directory for the embedded database. Default: ./data
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: DATA_DIR/confab.db), or
    /// postgres://USER@HOST/DB to run as a node of a cluster.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Redis URL (redis://HOST:6379) for cluster mode: presence and
    /// cross-node delivery. Default: none (a single node).
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// Accept http:// push endpoints (tests, private push services).
    /// Default: https:// only.
    #[arg(long)]
    push_allow_http_endpoints: bool,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the cause chain on one line, without a backtrace.
            eprintln!("confab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => ServeArgs::default(),
    };
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        redis_url: args.redis_url,
        push: args.push_allow_http_endpoints.then_some(PushOverrides { allow_http_endpoints: true }),
    };
    let config = Config::load(args.config.as_deref(), overrides)?;
    init_tracing(&config.log);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let addr = app.local_addr()?;
    // A stable line on stdout, so scripts and tests can find a port-0 server.
    println!("confab listening on http://{addr}");
    tracing::info!(%addr, "confab is ready");
    app.run(shutdown_signal()).await.context("server failed")
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
