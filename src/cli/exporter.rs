//! `ctctl exporter`: the exporter face started from the CLI's options.

use anyhow::Context;

use super::args::{Cli, ExporterArgs};
use super::Outcome;
use crate::exporter::{Exporter, Options};
use crate::live::Targets;
use crate::stdio::signals;

/// `ctctl exporter`.
pub fn run(cli: &Cli, a: &ExporterArgs) -> anyhow::Result<Outcome> {
    if a.all_netns && !cli.netns.is_empty() {
        anyhow::bail!("--all-netns follows every namespace: give it or --netns, not both");
    }
    let targets = if a.all_netns {
        Targets::All
    } else if cli.netns.is_empty() {
        Targets::Fixed(vec![("self".to_string(), None)])
    } else {
        Targets::Fixed(
            cli.netns
                .iter()
                .map(|n| (n.clone(), Some(n.clone())))
                .collect(),
        )
    };
    let opts = Options {
        listen: a.listen.clone(),
        targets,
        top: a.top,
        resync_interval: a.resync_interval,
        scan_interval: a.scan_interval,
        pod_logs: a.all_netns.then(|| a.pod_logs_dir.clone()),
        nat_range: a.nat_port_range,
        web_config: a.web_config.clone(),
        limits: crate::exporter::http::Limits {
            max_connections: a.max_connections,
            ..Default::default()
        },
    };
    signals::install().context("installing signal handlers")?;
    let exporter = Exporter::start(&opts)?;
    let followed = if a.all_netns {
        "every network namespace, as they come and go".to_string()
    } else {
        format!("{} network namespaces", exporter.namespaces())
    };
    eprintln!(
        "ctctl: exporter listening on {}://{}/metrics ({followed})",
        exporter.scheme(),
        exporter.local_addr()?,
    );
    exporter.run(&signals::terminated)?;
    Ok(Outcome::Ok)
}
