//! The `tern` command line: parses flags, runs one subcommand, maps errors to
//! exit codes. All logic lives in the library.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tern::config::host_metrics_defaults::{
    DISKSTATS_DEVICE_EXCLUDE, FILESYSTEM_FS_TYPES_EXCLUDE, FILESYSTEM_MOUNT_POINTS_EXCLUDE,
    NETDEV_DEVICE_EXCLUDE, TEXTFILE_DIRECTORY,
};
use tern::exposition::Format;

/// mimalloc instead of glibc's malloc (feature `mimalloc`, off by default:
/// since series and their label sets became one allocation, glibc's malloc
/// keeps about 7 MiB less resident on bench/e2e.sh for the same CPU; README,
/// Performance, has the measurements).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc gives memory that is freed back to the OS at once instead of
/// after 10 ms (its option `purge_delay`, 15 in its `mi_option_t`; the
/// environment variable `MIMALLOC_PURGE_DELAY` still overrides it): the
/// pipeline's short-lived buffers (scrape bodies, batches, requests) then
/// stop holding resident pages between uses. Measured on bench/e2e.sh: peak
/// RSS 57.7 MiB instead of 61.5 MiB, CPU no higher (README, Performance).
#[cfg(feature = "mimalloc")]
fn purge_freed_memory_at_once() {
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc's own setter (linked in with the allocator);
        // plain integer arguments, valid at any time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

/// No transparent huge pages for tern's memory: a huge page stays resident
/// whole once any byte of it is touched. mimalloc asks for them on its
/// arenas, so on a kernel in THP `madvise` mode (Debian's default) its peak
/// RSS was 128 MiB instead of 96 MiB on bench/e2e.sh; on a kernel in
/// `always` mode glibc's heap gets them too. Set before the heap is
/// touched; a kernel without the option just keeps THP.
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc != 0 {
        eprintln!(
            "tern: note: cannot disable transparent huge pages: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[derive(Parser)]
#[command(name = "tern", version, about = "A Prometheus-compatible scrape-and-remote-write agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent: scrape the configured targets and remote-write the samples.
    Run {
        /// The prometheus.yml to load.
        #[arg(long)]
        config: PathBuf,
        /// Directory holding the WAL.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Address of tern's own HTTP endpoints (/metrics, /-/healthy, ...).
        #[arg(long, default_value = "127.0.0.1:9464")]
        listen: String,
    },
    /// Validate a configuration file: exit 0 with a summary, or 1 with
    /// `FILE:LINE:COL: message` for each problem.
    CheckConfig {
        /// The prometheus.yml to check.
        file: PathBuf,
    },
    /// Parse an exposition body and print one JSON object per sample:
    /// {"labels":{...},"value":"1","timestamp_ms":null}. On invalid input,
    /// exit 1 with `line N: message` on stderr and print nothing.
    Parse {
        /// Exposition format of the input.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// File to read; standard input when absent.
        file: Option<PathBuf>,
    },
    /// Print the built-in host collector's metrics once, in the text format
    /// (node_exporter 1.5 compatible). Flags as node_exporter's, or `--config`
    /// to take them from the config file's `host_metrics:` block.
    Hostmetrics(Box<HostmetricsArgs>),
}

#[derive(clap::Args)]
struct HostmetricsArgs {
    /// procfs mount point.
    #[arg(long = "path.procfs", default_value = "/proc")]
    procfs: PathBuf,
    /// sysfs mount point.
    #[arg(long = "path.sysfs", default_value = "/sys")]
    sysfs: PathBuf,
    /// Root filesystem mount point.
    #[arg(long = "path.rootfs", default_value = "/")]
    rootfs: PathBuf,
    /// Directory of `*.prom` files for the textfile collector ("" for none).
    #[arg(long = "collector.textfile.directory", default_value = TEXTFILE_DIRECTORY)]
    textfile_directory: String,
    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude", default_value = FILESYSTEM_MOUNT_POINTS_EXCLUDE)]
    mount_points_exclude: String,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude", default_value = FILESYSTEM_FS_TYPES_EXCLUDE)]
    fs_types_exclude: String,
    /// Regexp of net devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.netdev.device-exclude", default_value = NETDEV_DEVICE_EXCLUDE)]
    netdev_device_exclude: String,
    /// Regexp of net devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.netdev.device-include", default_value = "")]
    netdev_device_include: String,
    /// Regexp of diskstats devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.diskstats.device-exclude", default_value = DISKSTATS_DEVICE_EXCLUDE)]
    diskstats_device_exclude: String,
    /// Regexp of diskstats devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.diskstats.device-include", default_value = "")]
    diskstats_device_include: String,
    /// Collectors to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    collectors: Option<Vec<String>>,
    /// Take the settings from this config file's `host_metrics:` block
    /// (other flags are then ignored).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    Openmetrics,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Openmetrics => Format::OpenMetrics,
        }
    }
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    #[cfg(feature = "mimalloc")]
    purge_freed_memory_at_once();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse { format, file } => parse(format.into(), file),
        Command::Run { config, data_dir, listen } => run(config, data_dir, listen),
        Command::CheckConfig { file } => Ok(check_config(&file)),
        Command::Hostmetrics(args) => hostmetrics(*args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tern: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// `tern check-config`: a one-line summary, or `FILE:LINE:COL: message` per
/// problem and exit 1.
fn check_config(file: &std::path::Path) -> ExitCode {
    match tern::config::load(file) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}", loaded.summary());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

/// `tern run`: the agent, until SIGTERM or SIGINT; SIGHUP reloads the config.
fn run(config: PathBuf, data_dir: PathBuf, listen: String) -> anyhow::Result<ExitCode> {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("listening on {listen}"))?;
        let handle = tern::app::start_agent(config, &data_dir, Some(listener)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        wait_for_signals(&handle).await?;
        tracing::info!("shutting down: scraping stops, queued samples are stored, endpoints get a last chance to send");
        handle.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

async fn wait_for_signals(handle: &tern::app::Handle) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                if let Err(e) = handle.reload().await {
                    tracing::error!(error = %e, "reload on SIGHUP failed");
                }
            }
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws_config=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

/// `tern hostmetrics`: one collection on stdout. Collector failures are
/// logged on stderr and reported as `node_scrape_collector_success 0`.
fn hostmetrics(args: HostmetricsArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let settings = match &args.config {
        Some(path) => {
            let loaded = tern::config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
            let host = loaded
                .config
                .host_metrics
                .with_context(|| format!("{}: no enabled host_metrics: block", path.display()))?;
            tern::hostmetrics::Settings::from_config(&host)
        }
        None => tern::hostmetrics::Settings {
            roots: tern::hostmetrics::Roots {
                proc: args.procfs,
                sys: args.sysfs,
                root: args.rootfs,
            },
            textfile_directory: (!args.textfile_directory.is_empty())
                .then(|| PathBuf::from(args.textfile_directory)),
            collectors: args.collectors,
            options: tern::hostmetrics::Options {
                filesystem_mount_points_exclude: args.mount_points_exclude,
                filesystem_fs_types_exclude: args.fs_types_exclude,
                netdev_device_exclude: args.netdev_device_exclude,
                netdev_device_include: args.netdev_device_include,
                diskstats_device_exclude: args.diskstats_device_exclude,
                diskstats_device_include: args.diskstats_device_include,
            },
        },
    };
    let set = tern::hostmetrics::collect(settings)?;
    let mut out = Vec::with_capacity(64 * 1024);
    set.render_text(&mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out).context("writing standard output")?;
    stdout.flush().context("writing standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// `tern parse`: the whole output is built before anything is printed, so a
/// body that fails half-way prints nothing on stdout.
fn parse(format: Format, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut body = Vec::new();
    match &file {
        Some(path) => {
            body = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => {
            std::io::stdin().read_to_end(&mut body).context("reading standard input")?;
        }
    }
    match tern::exposition::json_lines(format, &body) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes()).context("writing standard output")?;
            stdout.flush().context("writing standard output")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("{err}");
            Ok(ExitCode::FAILURE)
        }
    }
}
