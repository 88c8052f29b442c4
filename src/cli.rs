//! Command-line definitions. Flags follow pgbench where pgbench has them; `-h` is the host, so
//! help is `--help` only.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::load::script::ScriptArg;
use crate::load::workload::{Builtin, Protocol};
use crate::pg::conn::ConnOptions;
use crate::pg::mode::SyncCommit;

#[derive(Debug, Parser)]
#[command(
    name = "pgsyncbench",
    version,
    about = "Measures what PostgreSQL's synchronous_commit modes cost and buy on Patroni clusters",
    disable_help_flag = true
)]
pub struct Cli {
    #[arg(long, action = ArgAction::Help, global = true, help = "Print help")]
    pub help: Option<bool>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and load pgbench's tables (like `pgbench -i`)
    Init(InitArgs),
    /// Run a pgbench-compatible load and report latency and TPS
    Run(RunArgs),
    /// Run every cell of a plan (modes x scales x clients x threads x repetitions) and report
    Sweep(SweepArgs),
    /// Find each mode's highest offered rate whose latency percentile stays within an SLO
    Capacity(CapacityArgs),
    /// Run a failure scenario with a durability audit (workloads/scenarios/*.toml)
    Scenario(ScenarioArgs),
    /// A local etcd + Patroni + PostgreSQL cluster to measure on
    #[command(subcommand)]
    Lab(LabCommand),
    /// Inspect a Patroni cluster and switch its synchronous settings
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Write report.md and report.html for a results folder (sweep and scenario results)
    Report(ReportArgs),
    /// Compare two sweeps' results; exit 1 when something regressed beyond the threshold
    Compare(CompareArgs),
    /// Combine the results of load generators that ran together (run --generator) into one
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct MergeArgs {
    /// The generators' results (run --json), two or more
    #[arg(value_name = "RESULT.json", required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Write the combined result here (schema: schemas/run-result.schema.json)
    #[arg(long = "json", value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ReportArgs {
    /// Results folder a sweep wrote
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CompareArgs {
    /// Results folder of the baseline sweep
    #[arg(value_name = "BASE_DIR")]
    pub base: PathBuf,
    /// Results folder of the sweep to judge
    #[arg(value_name = "NEW_DIR")]
    pub new: PathBuf,
    /// Percent a change's whole 95% interval must lie beyond to count
    #[arg(long, value_name = "PCT", default_value_t = crate::analysis::compare::DEFAULT_THRESHOLD_PCT, value_parser = parse_threshold, allow_negative_numbers = true)]
    pub threshold: f64,
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a percentage: give a number of 0 or more, e.g. 5"
        )),
    }
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct SweepArgs {
    /// Plan file (TOML, see workloads/*.toml); flags below override its values
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Modes to compare [default: all five]
    #[arg(long, value_delimiter = ',', value_name = "MODE,...")]
    pub modes: Option<Vec<SyncCommit>>,
    /// The mode every other is compared against [default: off]
    #[arg(long, value_name = "MODE")]
    pub baseline: Option<SyncCommit>,
    /// Patroni's synchronous_mode for the whole sweep (left as it is when not given)
    #[arg(long = "synchronous-mode", value_enum)]
    pub synchronous_mode: Option<crate::cluster::control::SyncMode>,
    /// Patroni's synchronous_mode_strict for the whole sweep
    #[arg(long = "strict", value_name = "BOOL", action = ArgAction::Set)]
    pub strict: Option<bool>,
    /// Scale factors [default: 10]
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub scales: Option<Vec<i64>>,
    /// Client counts [default: 8]
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub clients: Option<Vec<usize>>,
    /// Thread counts [default: 2]
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub threads: Option<Vec<usize>>,
    /// Offered rates, transactions per second over all clients (pgbench's -R), each a cell of its own [default: none, closed loop]
    #[arg(long, value_delimiter = ',', value_name = "TPS,...")]
    pub rates: Option<Vec<u32>>,
    /// Load generators per cell, started together, each with its share of clients, threads and rate; their results are merged exactly [default: 1]
    #[arg(long, value_name = "N")]
    pub generators: Option<usize>,
    /// Measured seconds per cell [default: 30]
    #[arg(short = 'T', long = "time", value_name = "SECONDS")]
    pub time: Option<u64>,
    /// Warmup seconds per cell [default: 5]
    #[arg(long, value_name = "SECONDS")]
    pub warmup: Option<u64>,
    /// Repetitions of every cell, interleaved [default: 1]
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,
    /// Built-in script [default: tpcb-like]
    #[arg(short = 'b', long = "builtin", value_enum, value_name = "NAME")]
    pub builtin: Option<Builtin>,
    /// Query protocol [default: prepared]
    #[arg(short = 'M', long = "protocol", value_enum)]
    pub protocol: Option<Protocol>,
    /// Zones the lab's members take in turn, e.g. a,b,c (needs root; the plan's rtt_ms are then the round trips between zones)
    #[arg(long, value_name = "Z,...")]
    pub zones: Option<String>,
    /// Name of the sweep (names the results folder) [default: the plan's, or "sweep"]
    #[arg(long)]
    pub name: Option<String>,
    /// Results folder [default: bench-results/<time>-<name>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of the mode shuffles (default: from the clock); recorded in the manifest
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Run only the cells a results folder is missing, with its plan and seed, on the cluster
    /// it was measured on
    #[arg(long, value_name = "DIR", conflicts_with_all = ["plan", "out"])]
    pub resume: Option<PathBuf>,
    /// With --resume of a folder measured on a lab pgsyncbench started (and removed): finish it
    /// on a new lab; its cells record the new cluster and reports say the folder spans two
    #[arg(long = "new-lab", requires = "resume", conflicts_with = "patroni")]
    pub new_lab: bool,
    #[command(flatten)]
    pub patroni: PatroniArgs,
    /// Accepted for symmetry with `run`: a sweep always goes on, measuring a cell without a
    /// synchronous standby and recording it as such
    #[arg(long = "allow-no-sync-standby", hide = true)]
    pub allow_no_sync_standby: bool,
    /// Database user on the members (default postgres; hosts come from Patroni)
    #[arg(short = 'U', long = "username", value_name = "USERNAME")]
    pub user: Option<String>,
    /// Database on the members (default: the user's name)
    #[arg(short = 'd', long = "dbname", value_name = "DBNAME")]
    pub dbname: Option<String>,
}

/// A capacity search: a sweep's plan and flags, with the objective.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CapacityArgs {
    /// Latency objective in ms (the plan's capacity.slo_ms)
    #[arg(long = "slo-ms", value_name = "MS", value_parser = parse_positive)]
    pub slo_ms: Option<f64>,
    /// Percentile the objective is on [default: 99]
    #[arg(long, value_name = "P", value_parser = parse_percentile)]
    pub percentile: Option<f64>,
    /// Runs at the rate found, beyond the probe that found it, that must all pass [default: 2]
    #[arg(long, value_name = "N")]
    pub repeats: Option<u32>,
    /// Stop bisecting when passing and failing rates are this close, in percent of the closed-loop throughput [default: 2]
    #[arg(long = "resolution", value_name = "PCT", value_parser = parse_positive)]
    pub resolution_pct: Option<f64>,
    #[command(flatten)]
    pub sweep: SweepArgs,
}

fn parse_percentile(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 100.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a percentile: give a number between 0 and 100, e.g. 99 or 99.9"
        )),
    }
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ScenarioArgs {
    /// Scenario file (TOML)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub patroni: PatroniArgs,
    /// Also write the scenario result (JSON) to this file
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
    /// Folder for the result and the saved configuration [default: bench-results/<time>-<name>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Database user on the members (default postgres; hosts come from Patroni)
    #[arg(short = 'U', long = "username", value_name = "USERNAME")]
    pub user: Option<String>,
    /// Database on the members (default: the user's name)
    #[arg(short = 'd', long = "dbname", value_name = "DBNAME")]
    pub dbname: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Start a lab cluster and wait until it serves a leader and a sync standby
    Up(LabUpArgs),
    /// Show the lab's processes and members
    Status(LabDirArgs),
    /// Stop every process of the lab and remove its folder
    Down(LabDownArgs),
    /// Set the round trip between the lab's zones (lab up --zones), or the one its replication relays add (lab up --relays)
    Rtt(LabRttArgs),
    /// Measure the round trip between every pair of the lab's zones now (lab up --zones)
    Probe(LabDirArgs),
    /// A replication relay (started by `lab up --relays`)
    #[command(hide = true)]
    Relay(LabRelayArgs),
    /// The lab network's router (started by the lab when hosts are in zones)
    #[command(hide = true)]
    NetRouter(LabNetRouterArgs),
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct LabNetRouterArgs {
    /// Folder with net-spec.json; the router writes its state, socket and log there
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct LabRttArgs {
    /// Added round-trip time in milliseconds (0 removes it)
    #[arg(value_name = "MS", allow_negative_numbers = true)]
    pub rtt_ms: f64,
    #[command(flatten)]
    pub dir: LabDirArgs,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct LabRelayArgs {
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    #[arg(long)]
    pub to: std::net::SocketAddr,
    #[arg(long = "rtt-file")]
    pub rtt_file: PathBuf,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct LabDirArgs {
    /// Folder of the lab's data, logs and state
    #[arg(long, default_value = crate::lab::DEFAULT_DIR)]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct LabUpArgs {
    /// Number of PostgreSQL nodes (a leader, a sync standby, the rest async replicas)
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    #[command(flatten)]
    pub dir: LabDirArgs,
    /// Fast Patroni timing (ttl 20, loop_wait 1, retry_timeout 4; 20 s is Patroni's smallest ttl) instead of production-like (ttl 30, loop_wait 10, retry_timeout 10)
    #[arg(long)]
    pub fast: bool,
    /// Make the last N nodes read replicas outside the failover pool (tagged nosync, nofailover)
    #[arg(long = "read-replicas", default_value_t = 0)]
    pub read_replicas: usize,
    /// Replicate through relays that can add a round-trip time (see `lab rtt`)
    #[arg(long)]
    pub relays: bool,
    #[command(flatten)]
    pub zones: ZoneArgs,
}

/// Zones: every lab process on a host of its own (network namespaces; needs root), the hosts in
/// zones, and every packet between zones paying their round trip.
#[derive(Debug, Clone, Default, Args)]
pub struct ZoneArgs {
    /// Zones the members take in turn, e.g. a,b,c (node1 in a, node2 in b, ...)
    #[arg(long, value_name = "Z,...")]
    pub zones: Option<String>,
    /// Round trip between zones in ms: one figure for every pair, or pairs like a-b=1.5
    #[arg(long = "zone-rtt", value_name = "MS|A-B=MS", requires = "zones")]
    pub zone_rtt: Vec<String>,
    /// etcd's zone [default: the first]
    #[arg(long = "etcd-zone", value_name = "Z", requires = "zones")]
    pub etcd_zone: Option<String>,
    /// This machine's zone: where the load generator and every tool run here sit [default: the first]
    #[arg(long = "client-zone", value_name = "Z", requires = "zones")]
    pub client_zone: Option<String>,
}

impl ZoneArgs {
    pub fn zones(
        &self,
        nodes: usize,
    ) -> Result<Option<crate::lab::Zones>, crate::lab::network::ZoneError> {
        self.zones
            .as_deref()
            .map(|z| {
                crate::lab::Zones::parse(
                    z,
                    nodes,
                    &self.zone_rtt,
                    self.etcd_zone.as_deref(),
                    self.client_zone.as_deref(),
                )
            })
            .transpose()
    }
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct LabDownArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,
    /// Keep the folder (logs and data) after stopping the processes
    #[arg(long)]
    pub keep: bool,
}

/// Where Patroni's REST API is, and how to reach PostgreSQL through it.
#[derive(Debug, Clone, Args)]
pub struct PatroniArgs {
    /// Patroni REST API of any member, e.g. http://10.0.0.1:8008 (user:password@ for unsafe methods)
    #[arg(long = "patroni", value_name = "URL")]
    pub patroni: Option<String>,
    /// CA certificate to check Patroni's HTTPS certificate against
    #[arg(long = "patroni-cacert", value_name = "FILE")]
    pub patroni_cacert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members, synchronous settings and versions
    Status(ClusterStatusArgs),
    /// Change synchronous settings through Patroni and wait until they are live
    Apply(ClusterApplyArgs),
    /// Put back a dynamic configuration saved before a change
    Restore(ClusterRestoreArgs),
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ClusterStatusArgs {
    #[command(flatten)]
    pub patroni: PatroniArgs,
    #[command(flatten)]
    pub conn: ConnOptions,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ClusterApplyArgs {
    #[command(flatten)]
    pub patroni: PatroniArgs,
    #[command(flatten)]
    pub conn: ConnOptions,
    /// synchronous_commit: off, local, remote_write, on, remote_apply
    #[arg(long = "sync-commit", value_name = "MODE")]
    pub sync_commit: Option<SyncCommit>,
    /// Patroni's synchronous_mode
    #[arg(long = "synchronous-mode", value_enum)]
    pub synchronous_mode: Option<crate::cluster::control::SyncMode>,
    /// Patroni's synchronous_mode_strict
    #[arg(long = "strict", value_name = "BOOL", action = ArgAction::Set)]
    pub strict: Option<bool>,
    /// Patroni's synchronous_node_count
    #[arg(long = "sync-node-count", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub node_count: Option<u32>,
    /// Seconds to wait for the change to be live on the leader [default: 3 × loop_wait + 5, at least 10]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Save the configuration from before the change to this file (for `cluster restore`)
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ClusterRestoreArgs {
    #[command(flatten)]
    pub patroni: PatroniArgs,
    #[command(flatten)]
    pub conn: ConnOptions,
    /// A configuration saved by pgsyncbench before a change (patroni-config.before.json)
    #[arg(long = "from", value_name = "FILE")]
    pub from: PathBuf,
    /// Seconds to wait for the restored settings to be live on the leader [default: 3 × loop_wait + 5, at least 10]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct InitArgs {
    #[command(flatten)]
    pub conn: ConnOptions,
    /// Scale factor: 100000 accounts, 10 tellers and 1 branch per unit
    #[arg(short = 's', long = "scale", default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
    pub scale: i64,
    /// Fill factor of the tables, 10 to 100
    #[arg(short = 'F', long = "fillfactor", default_value_t = 100, value_parser = clap::value_parser!(u32).range(10..=100))]
    pub fillfactor: u32,
    /// Create unlogged tables
    #[arg(long = "unlogged-tables")]
    pub unlogged_tables: bool,
    /// Split pgbench_accounts into this many range partitions (0: not partitioned)
    #[arg(long = "partitions", default_value_t = 0)]
    pub partitions: u32,
    /// Quiet: no progress output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Database name or connection string, as pgbench's last argument
    #[arg(value_name = "DBNAME")]
    pub dbname_arg: Option<String>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub conn: ConnOptions,
    /// Built-in script: tpcb-like, simple-update or select-only (a unique prefix will do), with an optional weight; repeatable
    #[arg(short = 'b', long = "builtin", value_name = "NAME[@W]")]
    pub builtins: Vec<String>,
    /// Script file in pgbench's language, with an optional weight; repeatable
    #[arg(short = 'f', long = "file", value_name = "FILE[@W]")]
    pub files: Vec<String>,
    /// Define a script variable; repeatable
    #[arg(short = 'D', long = "define", value_name = "NAME=VALUE")]
    pub defines: Vec<String>,
    /// The scripts of -f, -b, -N and -S in command-line order (filled after parsing).
    #[arg(skip)]
    pub scripts: Vec<ScriptArg>,
    /// Same as -b select-only
    #[arg(short = 'S', long = "select-only")]
    pub select_only: bool,
    /// Same as -b simple-update
    #[arg(short = 'N', long = "skip-some-updates")]
    pub skip_some_updates: bool,
    /// Rate: transactions per second over all clients, started on a Poisson schedule; latency counts from each transaction's scheduled start
    #[arg(short = 'R', long = "rate", value_name = "TPS", value_parser = parse_positive, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Count transactions that take longer (ms); with --rate, skip those already that late before they start
    #[arg(short = 'L', long = "latency-limit", value_name = "MS", value_parser = parse_positive, allow_negative_numbers = true)]
    pub latency_limit: Option<f64>,
    /// Runs of a transaction on a serialization failure or deadlock (0: as many as the time allows)
    #[arg(long = "max-tries", value_name = "N", default_value_t = 1)]
    pub max_tries: u32,
    /// Name of this load generator when several run together; its result keeps what `merge` needs
    #[arg(long = "generator", value_name = "NAME")]
    pub generator: Option<String>,
    /// Connect, then start the load at this time (RFC 3339, e.g. 2026-12-01T12:00:00Z), as the other generators do
    #[arg(long = "start-at", value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<std::time::SystemTime>,
    /// Number of concurrent clients (one connection each)
    #[arg(short = 'c', long = "client", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Number of worker threads
    #[arg(short = 'j', long = "jobs", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: u32,
    /// Measured duration in seconds [default: 10]
    #[arg(short = 'T', long = "time", value_name = "SECONDS", conflicts_with = "transactions", value_parser = clap::value_parser!(u64).range(1..))]
    pub time: Option<u64>,
    /// Transactions per client, instead of a duration
    #[arg(short = 't', long = "transactions", value_name = "NUM", value_parser = clap::value_parser!(u64).range(1..))]
    pub transactions: Option<u64>,
    /// Query protocol
    #[arg(short = 'M', long = "protocol", value_enum, default_value = "simple")]
    pub protocol: Protocol,
    /// Print a progress line every SECONDS
    #[arg(short = 'P', long = "progress", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub progress: Option<u64>,
    /// Seconds of load run before measuring, not recorded
    #[arg(long = "warmup", value_name = "SECONDS", default_value_t = 0)]
    pub warmup: u64,
    /// Run with this synchronous_commit: off, local, remote_write, on, remote_apply
    #[arg(long = "sync-commit", value_name = "MODE")]
    pub sync_commit: Option<SyncCommit>,
    /// Write the result as JSON (schema: schemas/run-result.schema.json)
    #[arg(long = "json", value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write an HdrHistogram interval log (1 s intervals, V2 + DEFLATE)
    #[arg(long = "hlog", value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// Seed of the random draws: an unsigned integer, time or rand (default: time); recorded in the result
    #[arg(long = "random-seed", value_name = "SEED", value_parser = parse_seed)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub patroni: PatroniArgs,
    /// Measure a remote_write, on or remote_apply run even when no synchronous standby is attached
    #[arg(long = "allow-no-sync-standby")]
    pub allow_no_sync_standby: bool,
    /// Folder for what the run saves besides its JSON (the Patroni configuration it changes)
    #[arg(long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The `scale` variable of -f scripts (as pgbench's -s), and the lab's scale when no target is given [lab default: 10]
    #[arg(short = 's', long = "scale", value_parser = clap::value_parser!(i64).range(1..))]
    pub scale: Option<i64>,
    /// Database name or connection string, as pgbench's last argument
    #[arg(value_name = "DBNAME")]
    pub dbname_arg: Option<String>,
}

/// The lab's scale when `run` starts one and -s does not say.
pub const LAB_SCALE: i64 = 10;

impl RunArgs {
    /// The built-in to run on the fast path: one -b (no weight), -N or -S, or none at all
    /// (tpcb-like) with no -f and no -D; None when the scripts need the interpreter.
    pub fn builtin(&self) -> Option<Builtin> {
        if !self.defines.is_empty() {
            return None;
        }
        match self.scripts.as_slice() {
            [] => Some(Builtin::TpcbLike),
            [ScriptArg::Builtin(name)] if !name.contains('@') => {
                let b = crate::load::script::find_builtin(name).ok()?;
                Builtin::from_name(b.name)
            }
            _ => None,
        }
    }

    /// The run includes a built-in script, which needs pgbench's tables.
    pub fn uses_builtins(&self) -> bool {
        self.scripts.is_empty()
            || self
                .scripts
                .iter()
                .any(|s| matches!(s, ScriptArg::Builtin(_)))
    }

    /// Fills `scripts` from -f, -b, -N and -S in the order they were given.
    fn order_scripts(&mut self, m: &clap::ArgMatches) {
        let mut ordered: Vec<(usize, ScriptArg)> = Vec::new();
        let mut take = |id: &str, values: &[String], make: fn(String) -> ScriptArg| {
            if let Some(indices) = m.indices_of(id) {
                ordered.extend(indices.zip(values.iter().cloned().map(make)));
            }
        };
        take("files", &self.files, ScriptArg::File);
        take("builtins", &self.builtins, ScriptArg::Builtin);
        for (id, name) in [
            ("select_only", "select-only"),
            ("skip_some_updates", "simple-update"),
        ] {
            if m.get_flag(id)
                && let Some(i) = m.index_of(id)
            {
                ordered.push((i, ScriptArg::Builtin(name.into())));
            }
        }
        ordered.sort_by_key(|(i, _)| *i);
        self.scripts = ordered.into_iter().map(|(_, s)| s).collect();
    }
}

impl Cli {
    /// Parses the command line as clap does, then puts run's scripts in their given order
    /// (which numbers them, as in pgbench).
    pub fn parse_ordered<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let (Command::Run(r), Some(("run", m))) = (&mut cli.command, matches.subcommand()) {
            r.order_scripts(m);
        }
        Ok(cli)
    }
}

fn parse_positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

fn parse_time(s: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("'{s}' is not an RFC 3339 time like 2026-12-01T12:00:00Z ({e})"))
}

fn parse_seed(s: &str) -> Result<u64, String> {
    crate::load::script::parse_random_seed(s).map_err(|e| e.to_string())
}

/// The connection options with the positional DBNAME folded in (`-d` wins, as in pgbench).
pub fn conn_with_positional(conn: &ConnOptions, dbname: &Option<String>) -> ConnOptions {
    let mut conn = conn.clone();
    if conn.dbname.is_none() {
        conn.dbname = dbname.clone();
    }
    conn
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_ordered(std::iter::once("pgsyncbench").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).unwrap().command {
            Command::Run(r) => r,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn lab_up_help_quotes_the_lab_timing() {
        let mut cmd = Cli::command();
        let up = cmd
            .find_subcommand_mut("lab")
            .and_then(|l| l.find_subcommand_mut("up"))
            .unwrap();
        let help = up.render_help().to_string();
        for (name, t) in [
            ("fast", crate::lab::Timing::Fast),
            ("default", crate::lab::Timing::Default),
        ] {
            let (ttl, loop_wait, retry_timeout) = t.values();
            let quoted = format!("ttl {ttl}, loop_wait {loop_wait}, retry_timeout {retry_timeout}");
            assert!(help.contains(&quoted), "{name}: {quoted} not in {help}");
        }
    }

    #[test]
    fn pgbench_flags_parse() {
        let r = run_args(&[
            "run", "-h", "db", "-p", "5433", "-U", "u", "-c", "8", "-j", "2", "-T", "10", "-M",
            "prepared", "-S", "bench",
        ]);
        assert_eq!(r.conn.host.as_deref(), Some("db"));
        assert_eq!(r.clients, 8);
        assert_eq!(r.threads, 2);
        assert_eq!(r.builtin(), Some(Builtin::SelectOnly));
        assert_eq!(r.protocol, Protocol::Prepared);
        assert_eq!(r.dbname_arg.as_deref(), Some("bench"));
        assert_eq!(
            run_args(&["run", "-N"]).builtin(),
            Some(Builtin::SimpleUpdate)
        );
        assert_eq!(run_args(&["run"]).builtin(), Some(Builtin::TpcbLike));
        assert_eq!(
            run_args(&["run", "-b", "se"]).builtin(),
            Some(Builtin::SelectOnly)
        );
    }

    #[test]
    fn scripts_keep_their_command_line_order_and_weights_need_the_interpreter() {
        let r = run_args(&["run", "-f", "a.sql@2", "-S", "-b", "tpcb@3", "-f", "b.sql"]);
        assert_eq!(
            r.scripts,
            [
                ScriptArg::File("a.sql@2".into()),
                ScriptArg::Builtin("select-only".into()),
                ScriptArg::Builtin("tpcb@3".into()),
                ScriptArg::File("b.sql".into()),
            ]
        );
        assert_eq!(r.builtin(), None);
        assert!(r.uses_builtins());
        assert_eq!(run_args(&["run", "-b", "tpcb@2"]).builtin(), None);
        assert_eq!(run_args(&["run", "-D", "x=1"]).builtin(), None);
        assert!(!run_args(&["run", "-f", "x.sql"]).uses_builtins());
        let r = run_args(&[
            "run",
            "-R",
            "250.5",
            "-L",
            "20",
            "--max-tries",
            "3",
            "--random-seed",
            "7",
        ]);
        assert_eq!(
            (r.rate, r.latency_limit, r.max_tries, r.seed),
            (Some(250.5), Some(20.0), 3, Some(7))
        );
        assert!(parse(&["run", "-R", "0"]).is_err());
        assert!(parse(&["run", "-L", "-1"]).is_err());
        assert!(parse(&["run", "--random-seed", "soon"]).is_err());
    }

    #[test]
    fn capacity_takes_the_objective_beside_every_sweep_flag() {
        let Command::Capacity(c) = parse(&[
            "capacity",
            "--slo-ms",
            "20",
            "--percentile",
            "99.9",
            "--repeats",
            "1",
            "--modes",
            "off,on",
            "--clients",
            "4",
            "-T",
            "3",
        ])
        .unwrap()
        .command
        else {
            panic!("not capacity")
        };
        assert_eq!(
            (c.slo_ms, c.percentile, c.repeats, c.sweep.time),
            (Some(20.0), Some(99.9), Some(1), Some(3))
        );
        assert_eq!(c.sweep.clients, Some(vec![4]));
        assert!(parse(&["capacity", "--percentile", "100"]).is_err());
        assert!(parse(&["capacity", "--slo-ms", "0"]).is_err());
        let Command::Sweep(s) = parse(&["sweep", "--rates", "100,200"]).unwrap().command else {
            panic!("not sweep")
        };
        assert_eq!(s.rates, Some(vec![100, 200]));
    }

    #[test]
    fn bad_combinations_and_values_are_rejected() {
        assert!(parse(&["run", "-T", "5", "-t", "3"]).is_err());
        assert!(parse(&["run", "-c", "0"]).is_err());
        let e = parse(&["run", "--sync-commit", "remote_flush"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("use one of off, local, remote_write, on, remote_apply"),
            "{e}"
        );
        assert!(parse(&["init", "-F", "5"]).is_err());
    }
}
