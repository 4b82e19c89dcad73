//! The `tern` command line: parses flags, runs one subcommand, maps errors to
//! exit codes. All logic lives in the library.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tern::exposition::Format;

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
    /// Print the built-in host collector's metrics once, in the text format.
    Hostmetrics,
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse { format, file } => parse(format.into(), file),
        Command::Run { .. } | Command::CheckConfig { .. } | Command::Hostmetrics => {
            Err(anyhow::anyhow!("not implemented yet: see the status table in README.md"))
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tern: {err:#}");
            ExitCode::from(2)
        }
    }
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
