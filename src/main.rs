//! The `confab` command: `confab serve` (the default) runs the server;
//! `confab admin …` administers its accounts (see [`confab::admin`]).
//!
//! Owns: command-line parsing, logging and signals. May not touch: the
//! server's internals — it builds `app::App` and runs it.

use anyhow::Context;
use clap::{Parser, Subcommand};
use confab::app::App;
use confab::config::{Config, LogFormat, Overrides, PushOverrides};
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
    /// Administer accounts, on the server's database (while it runs or not).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Disable an account: it cannot log in, every session ends, and its
    /// sockets close on every running node within about a second.
    DisableUser(AdminUserArgs),
    /// Enable a disabled account again (the user logs in anew).
    EnableUser(AdminUserArgs),
    /// Delete an account for good, as the user can (DELETE /api/users/me):
    /// sessions end on every node, push devices and uploads are removed, its
    /// messages stay for the other members, from "Deleted user" (or are
    /// deleted too, with --delete-messages).
    DeleteUser(DeleteUserArgs),
    /// Copy the SQLite database consistently into FILE (a new file), while
    /// the server runs or not. Restore: see docs/DEPLOY.md.
    Backup(BackupArgs),
}

#[derive(clap::Args)]
struct BackupArgs {
    /// The new file to write (it must not exist).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args)]
struct DeleteUserArgs {
    /// Delete the user's messages too (as `?messages=delete` does).
    #[arg(long)]
    delete_messages: bool,
    #[command(flatten)]
    user: AdminUserArgs,
}

#[derive(clap::Args)]
struct AdminUserArgs {
    username: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Where the configuration and the database are: the same flags for
/// `serve` and `admin`, so an admin command finds the server's database.
#[derive(clap::Args, Default)]
struct StoreArgs {
    /// Configuration file (TOML). Default: ./confab.toml if it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the embedded database. Default: ./data
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: DATA_DIR/confab.db), or
    /// postgres://USER@HOST/DB to run as a node of a cluster.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

/// Settings come from defaults, then `confab.toml` (or --config), then
/// CONFAB_* environment variables, then these flags.
#[derive(clap::Args, Default)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
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
        Some(Command::Admin(command)) => return admin(command),
    };
    let overrides = Overrides {
        listen: args.listen,
        redis_url: args.redis_url,
        push: args.push_allow_http_endpoints.then_some(PushOverrides { allow_http_endpoints: true }),
        ..args.store.overrides()
    };
    let config = Config::load(args.store.config.as_deref(), overrides)?;
    init_tracing(&config.log, config.log_format);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(config))
}

impl StoreArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Default::default()
        }
    }
}

fn admin(command: AdminCommand) -> anyhow::Result<()> {
    let (disable, args) = match command {
        AdminCommand::DisableUser(args) => (true, args),
        AdminCommand::EnableUser(args) => (false, args),
        AdminCommand::DeleteUser(DeleteUserArgs { delete_messages, user: args }) => {
            let config = Config::load(args.store.config.as_deref(), args.store.overrides())?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let name = &args.username;
            let policy = if delete_messages {
                confab::accounts::MessagesOnDelete::Delete
            } else {
                confab::accounts::MessagesOnDelete::Keep
            };
            let done = runtime.block_on(confab::admin::delete_user(&config, name, policy))?;
            println!(
                "deleted {name} (id {}): {} sessions ended, {} groups left, {} uploads removed; running nodes close its sockets within seconds",
                done.user, done.sessions_ended, done.groups_left, done.uploads_deleted
            );
            return Ok(());
        }
        AdminCommand::Backup(args) => {
            let config = Config::load(args.store.config.as_deref(), args.store.overrides())?;
            let from = confab::admin::backup(&config, &args.file)?;
            println!(
                "backed up {} to {}; also keep the media directory and the VAPID key file (docs/DEPLOY.md)",
                from.display(),
                args.file.display()
            );
            return Ok(());
        }
    };
    let config = Config::load(args.store.config.as_deref(), args.store.overrides())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let name = &args.username;
    if disable {
        let done = runtime.block_on(confab::admin::disable_user(&config, name))?;
        println!(
            "disabled {name} (id {}): {} sessions ended; running nodes close its sockets within seconds",
            done.user, done.sessions_ended
        );
    } else {
        let done = runtime.block_on(confab::admin::enable_user(&config, name))?;
        println!("enabled {name} (id {})", done.user);
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let addr = app.local_addr()?;
    // A stable line on stdout, so scripts and tests can find a port-0 server.
    println!("confab listening on http://{addr}");
    tracing::info!(%addr, "confab is ready");
    app.run(shutdown_signal()).await.context("server failed")
}

fn init_tracing(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => fmt.init(),
        // One object per line; the fields of the spans around an event
        // (request_id, user, …) are flattened in as `spans`/`span`.
        LogFormat::Json => fmt.json().with_current_span(true).with_span_list(true).init(),
    }
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
