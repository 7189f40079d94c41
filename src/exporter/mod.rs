//! The exporter: the conntrack tables of one or many network namespaces
//! for Prometheus, kept in memory from events ([`crate::live`]) so that a
//! scrape never dumps a table, served by a small bounded HTTP server
//! ([`http`]) with the exporter-toolkit's TLS and basic authentication
//! ([`web`]).

mod conn;
pub mod http;
pub mod metrics;
pub mod request;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::live::{FollowOptions, Follower, Rankings, Targets};

/// The exporter's default port: 9371, which Prometheus' default port
/// allocations give to conntrack-stats-exporter, the conntrack exporter
/// this one replaces (a host runs one of them).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9371";

/// How the exporter runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// `ADDR:PORT` to listen on.
    pub listen: String,
    /// The namespaces to follow.
    pub targets: Targets,
    /// Values shown by name in each ranking.
    pub top: usize,
    /// The longest between two resync dumps of a namespace.
    pub resync_interval: Duration,
    /// How often namespaces are looked for ([`Targets::All`]).
    pub scan_interval: Duration,
    /// The kubelet's pod log directory (`--pod-logs-dir`): pods' namespaces
    /// are labelled with their pod.
    pub pod_logs: Option<PathBuf>,
    /// The NAT rules' port range (`--nat-port-range`; `None`: the kernel's
    /// automatic ranges).
    pub nat_range: Option<crate::select::criteria::PortRange>,
    /// `--web.config.file`.
    pub web_config: Option<PathBuf>,
    /// The HTTP server's bounds.
    pub limits: http::Limits,
}

/// The exporter, started: following its tables, listening.
pub struct Exporter {
    tls: bool,
    server: http::Server,
    follower: Follower,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("server", &self.server)
            .field("follower", &self.follower)
            .finish()
    }
}

impl Exporter {
    /// Reads the web configuration, starts following the tables (each
    /// fixed namespace dumped before this returns) and binds.
    pub fn start(opts: &Options) -> anyhow::Result<Exporter> {
        let web = web::Web::new(opts.web_config.clone())?;
        let tls = web.current().tls.is_some();
        // The exporter never probes the kernel: it sends no criterion.
        crate::probe::set_policy(crate::probe::Policy::CachedOnly);
        let follower = Follower::start(
            opts.targets.clone(),
            FollowOptions {
                rankings: Rankings::SOURCES,
                top: opts.top,
                resync_interval: opts.resync_interval,
                scan_every: opts.scan_interval,
                pod_logs: opts.pod_logs.clone(),
                nat_range: opts.nat_range,
                ..FollowOptions::default()
            },
        )?;
        follower.rank_now();
        let tables = Arc::new(metrics::Tables {
            follower: follower.clone(),
            top: opts.top,
        });
        let handler: http::Handler = Arc::new(move |req: &http::Request| route(&tables, req));
        let server = http::Server::bind(&opts.listen, Arc::new(web), handler, opts.limits.clone())
            .with_context(|| format!("cannot listen on {}", opts.listen))?;
        Ok(Exporter {
            tls,
            server,
            follower,
        })
    }

    /// `https` when the web configuration has TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The address listened on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Namespaces followed now.
    pub fn namespaces(&self) -> usize {
        self.follower.namespaces().len()
    }

    /// Serves until `stop()` says so.
    pub fn run(self, stop: &dyn Fn() -> bool) -> anyhow::Result<()> {
        let Exporter {
            server, follower, ..
        } = self;
        let r = server.run(stop);
        follower.stop();
        r.context("serving HTTP")
    }
}

fn route(tables: &metrics::Tables, req: &http::Request) -> http::Response {
    match req.path.as_str() {
        "/metrics" => {
            let openmetrics = req
                .header("accept")
                .is_some_and(|a| a.contains("application/openmetrics-text"));
            let (body, content_type) = metrics::render(tables, openmetrics);
            http::Response {
                status: 200,
                content_type,
                headers: Vec::new(),
                body: body.into_bytes(),
            }
        }
        "/" => http::Response::text(
            200,
            "ctctl exporter: the conntrack table for Prometheus at /metrics\n",
        ),
        "/-/healthy" => http::Response::text(200, "OK\n"),
        // Ready once every table found at start was dumped: until then
        // the figures would be partial.
        "/-/ready" if tables.follower.ready() => http::Response::text(200, "OK\n"),
        "/-/ready" => http::Response::text(503, "starting: dumping the tables\n"),
        _ => http::Response::text(404, "Not Found\n"),
    }
}
