//! `ferrite`: run Node-RED flows. Thin on purpose: CLI and settings here, everything else in
//! `ferrite-runtime` (the engine) and `ferrite-nodes` (the node types).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ferrite_runtime::admin::{self, AdminState};
use ferrite_runtime::flows::raw::parse_flows_text;
use ferrite_runtime::{DeployKind, Registry, Runtime, Settings};
use serde_json::Value as Json;

/// Every message is a few small allocations; mimalloc serves them far faster than glibc's
/// malloc, above all when one thread allocates and another frees (see benches/engine.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Log lines waiting for the writer thread before new ones are dropped.
const LOG_QUEUE_LINES: usize = 4096;

/// A Node-RED-compatible flow runtime for industrial IoT.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Flows file to run (default: flows.json in the user directory, created when missing).
    flows: Option<PathBuf>,
    #[command(flatten)]
    options: Options,
}

#[derive(Debug, clap::Args)]
struct Options {
    /// User directory: flows, ferrite.db, settings (default: ~/.ferrite).
    #[arg(long, short = 'u', global = true)]
    userdir: Option<PathBuf>,
    /// Port for the admin API and editor.
    #[arg(long, short = 'p', global = true)]
    port: Option<u16>,
    /// Settings file (JSON with Node-RED's setting names: contextStorage, flowFile, ...).
    #[arg(long, short = 's', global = true)]
    settings: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a flows file: print the deploy report; exit non-zero on any issue (missing
    /// types stop every flow; a broken node would be skipped).
    Check {
        /// The flows file.
        flows: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs (debug nodes' console output among them) go through a writer thread: a slow or
    // blocked stdout drops lines (the writer counts them) instead of stalling flows. The
    // queue is allocated whole up front: the default 128,000 lines took 4 MB of RSS.
    let (writer, _log_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(writer)
        .init();
    let settings = match load_settings(&cli.options) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("ferrite: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // One worker by default: a message crosses several node tasks, and on one thread each
    // hop is a queue push, not a wake-up of another thread (measured in benches/mqtt.rs).
    // A script that runs long moves off it (block_in_place), so it never stalls the rest.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.worker_threads())
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrite: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Check { flows }) => check(&flows, settings).await,
            None => run(cli.flows, settings).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferrite: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Settings from the file (if any), then the command line.
fn load_settings(options: &Options) -> Result<Settings> {
    let mut settings: Settings = match &options.settings {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading settings {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("settings {}", path.display()))?
        }
        None => Settings::default(),
    };
    if let Some(dir) = &options.userdir {
        settings.user_dir = Some(dir.clone());
    }
    if settings.user_dir.is_none() {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        settings.user_dir = Some(home.join(".ferrite"));
    }
    if let Some(port) = options.port {
        settings.ui_port = u64::from(port);
    }
    Ok(settings)
}

fn registry() -> Result<Arc<Registry>> {
    Ok(Arc::new(Registry::new([ferrite_nodes::ALL])?))
}

fn read_flows(path: &Path) -> Result<Vec<Json>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading flows {}", path.display()))?;
    parse_flows_text(&text)
        .map_err(|report| anyhow::anyhow!("{}: {}", path.display(), report.to_string().trim_end()))
}

async fn check(flows: &Path, mut settings: Settings) -> Result<ExitCode> {
    // A check touches no user directory: no database, memory context only.
    settings.user_dir = None;
    settings.context_storage.clear();
    let items = read_flows(flows)?;
    let runtime = Runtime::new(registry()?, settings).await?;
    let report = runtime.check(&items);
    if report.is_clean() {
        println!("{}: {} objects, no issues", flows.display(), items.len());
        return Ok(ExitCode::SUCCESS);
    }
    print!("{report}");
    // Any issue fails the check: missing types stop every flow, a broken node is skipped.
    Ok(ExitCode::FAILURE)
}

async fn run(flows: Option<PathBuf>, mut settings: Settings) -> Result<ExitCode> {
    let shutdown = Shutdown::install();
    let user_dir = settings.user_dir.clone().unwrap_or_default();
    std::fs::create_dir_all(&user_dir)
        .with_context(|| format!("creating {}", user_dir.display()))?;
    let flows_path = flows
        .or_else(|| settings.flow_file.clone().map(|f| user_dir.join(f)))
        .unwrap_or_else(|| user_dir.join("flows.json"));
    if !flows_path.exists() {
        std::fs::write(&flows_path, "[]\n")
            .with_context(|| format!("creating {}", flows_path.display()))?;
        tracing::info!(path = %flows_path.display(), "Created an empty flows file.");
    }
    let items = read_flows(&flows_path)?;
    // Deploys from the editor write back to the file that was run (and its credentials
    // beside it); absolute, since the runtime resolves it against the user dir.
    settings.flow_file = Some(std::path::absolute(&flows_path)?);
    tracing::info!(userdir = %user_dir.display(), flows = %flows_path.display(), "Starting Ferrite {}.", env!("CARGO_PKG_VERSION"));
    // Bound before any flow starts: a port already in use stops Ferrite, as it stops
    // Node-RED, before a flow has touched a device.
    let listener = match settings.admin_root() {
        Some(_) => Some(bind_admin(&settings).await?),
        None => None,
    };
    let runtime = Runtime::new(registry()?, settings).await?;
    let admin = listener.map(|listener| (listener, AdminState::new(runtime.clone())));
    if let Some((_, state)) = &admin {
        admin::check(state).context("the editor's settings")?;
    }
    let report = runtime.deploy(items, DeployKind::Full).await;
    for issue in &report.issues {
        tracing::error!("{issue}");
    }
    if report.flows_can_start() {
        tracing::info!(nodes = runtime.running_ids().await.len(), "Flows started.");
    } else {
        tracing::error!(types = ?report.missing_types, "Flows not started: {}", report.to_string().trim_end());
    }
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = admin.map(|(listener, state)| {
        tokio::spawn(async move {
            let stopped = async {
                let _ = admin_stopped.await;
            };
            if let Err(e) = admin::serve(listener, state, stopped).await {
                tracing::error!(error = %e, "The editor and Admin API stopped.");
            }
        })
    });
    shutdown.wait().await;
    let _ = stop_admin.send(());
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    tracing::info!("Stopping flows.");
    runtime.stop().await;
    tracing::info!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// The editor's listener on `uiHost:uiPort` (port 0: any free port, logged).
async fn bind_admin(settings: &Settings) -> Result<tokio::net::TcpListener> {
    let port = u16::try_from(settings.ui_port)
        .with_context(|| format!("uiPort {} is not a port number", settings.ui_port))?;
    let address = (settings.ui_host.as_str(), port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{port} for the editor (uiHost, uiPort, --port)",
                settings.ui_host
            )
        })?;
    let local = listener.local_addr()?;
    let root = settings.admin_root().unwrap_or_default();
    tracing::info!(address = %local, "Editor at http://{local}{root}");
    Ok(listener)
}

/// SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is created, so
/// create it before starting flows: a signal that arrives during startup is not lost.
struct Shutdown {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok();
            Self { signals }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.signals {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
