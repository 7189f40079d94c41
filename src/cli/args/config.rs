//! Tunables: `config`, `config set`, `config recommend`.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: Option<ConfigAction>,

    /// Print one value (short key, sysctl name, or an old name such as ip_conntrack_max)
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Set KEY=VALUE pairs, all or nothing (timeouts take 30s, 5m, 5d)
    Set(SetArgs),
    /// Suggest max, hashsize and timeouts from RAM, the count and a target bucket depth
    Recommend(RecommendArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// KEY=VALUE pairs: max=1048576 hashsize=262144 timeout.tcp.established=6h,
    /// or sysctl names (net.netfilter.nf_conntrack_tcp_timeout_time_wait=30)
    #[arg(value_name = "KEY=VALUE", required = true)]
    pub pairs: Vec<String>,

    /// Print old -> new, write nothing
    #[arg(long = "dry-run", short = 'n')]
    pub dry_run: bool,

    /// Also record the values for the next boot (/etc/sysctl.d/90-ctctl.conf;
    /// hashsize in /etc/modprobe.d/ctctl.conf or /etc/tmpfiles.d/ctctl.conf)
    #[arg(long)]
    pub persist: bool,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// Apply the suggestions (all or nothing)
    #[arg(long)]
    pub apply: bool,

    /// With --apply: also persist them
    #[arg(long, requires = "apply")]
    pub persist: bool,

    /// Target average bucket depth of a full table (max / hashsize)
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=16))]
    pub depth: u64,

    /// The highest entry count the table must hold (default: the current count)
    #[arg(long, value_name = "ENTRIES")]
    pub peak: Option<u64>,
}
