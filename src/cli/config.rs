//! `ctctl config`: show, set (all or nothing, `--dry-run`, `--persist`) and
//! recommend the table's tunables.

use anyhow::bail;

use super::args::{Cli, ConfigAction, ConfigArgs, Format, RecommendArgs, SetArgs};
use super::Outcome;
use crate::conntrack::Conntrack;
use crate::format::json;
use crate::stdio::out::Out;
use crate::tune::keys::{discover, resolve, Key, Scope};
use crate::tune::recommend::{self, Advice, Inputs};
use crate::tune::set::{apply, plan, write_value, Change};
use crate::tune::{persist, read_trimmed, read_u64, Paths};

/// `ctctl config`.
pub fn run(cli: &Cli, a: &ConfigArgs) -> anyhow::Result<Outcome> {
    let paths = Paths::system();
    let keys = discover(&paths);
    if keys.iter().all(|k| k.read().ok().flatten().is_none()) {
        bail!(
            "no conntrack tunables under {}: is nf_conntrack loaded (and conntrack used in this network namespace)?",
            paths.proc_sys.join("net/netfilter").display()
        );
    }
    match (&a.action, &a.key) {
        (Some(ConfigAction::Set(s)), _) => set(cli, &paths, &keys, s),
        (Some(ConfigAction::Recommend(r)), _) => recommend(cli, &paths, &keys, r),
        (None, Some(name)) => show_one(cli, &keys, name),
        (None, None) => show_all(cli, &keys),
    }
}

fn show_all(cli: &Cli, keys: &[Key]) -> anyhow::Result<Outcome> {
    let mut out = Out::stdout();
    if cli.output == Format::Json {
        let b = out.buf();
        b.push(b'{');
        let mut first = true;
        for k in keys {
            let Some(v) = k.read()? else { continue };
            if !first {
                b.push(b',');
            }
            first = false;
            json::string(b, &k.name);
            b.extend_from_slice(b":{\"value\":");
            b.extend_from_slice(v.to_string().as_bytes());
            b.extend_from_slice(b",\"unit\":");
            json::string(b, k.unit.name());
            b.extend_from_slice(b",\"scope\":");
            json::string(b, k.scope.name());
            b.extend_from_slice(b",\"writable\":");
            b.extend_from_slice(if k.writable_here() { b"true" } else { b"false" });
            b.extend_from_slice(b",\"path\":");
            json::string(b, &k.path.to_string_lossy());
            if let Some(s) = &k.sysctl {
                b.extend_from_slice(b",\"sysctl\":");
                json::string(b, s);
            }
            b.push(b'}');
        }
        b.push(b'}');
        out.line_done()?;
    } else {
        let rows: Vec<(String, String, &str, String)> = keys
            .iter()
            .filter_map(|k| {
                let v = k.read().ok().flatten()?;
                let scope = match (k.scope, k.read_only, k.writable_here()) {
                    (_, true, _) => "read-only".to_string(),
                    (Scope::Global, _, false) => "global, read-only here".to_string(),
                    (Scope::Global, _, true) => "global".to_string(),
                    (Scope::Netns, _, _) => "per netns".to_string(),
                };
                let loc = k
                    .sysctl
                    .clone()
                    .unwrap_or_else(|| k.path.to_string_lossy().into_owned());
                Some((
                    k.name.clone(),
                    k.show(v),
                    k.unit.name(),
                    format!("{loc} ({scope})"),
                ))
            })
            .collect();
        let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let w2 = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
        for (k, v, u, loc) in rows {
            out.buf().extend_from_slice(
                format!("{k:<w0$}  {v:<w1$}  {u:<w2$}  {loc}")
                    .trim_end()
                    .as_bytes(),
            );
            out.line_done()?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

fn show_one(cli: &Cli, keys: &[Key], name: &str) -> anyhow::Result<Outcome> {
    let Some(r) = resolve(keys, name) else {
        bail!("unknown key '{name}' (see `ctctl config` for the keys this kernel has)");
    };
    if let Some(n) = &r.note {
        eprintln!("ctctl: {n}");
    }
    let Some(v) = r.key.read()? else {
        bail!("{} does not exist on this kernel", r.key.path.display());
    };
    let mut out = Out::stdout();
    if cli.output == Format::Json {
        let b = out.buf();
        b.extend_from_slice(b"{\"key\":");
        json::string(b, &r.key.name);
        b.extend_from_slice(format!(",\"value\":{v}}}").as_bytes());
    } else {
        out.buf().extend_from_slice(v.to_string().as_bytes());
    }
    out.line_done()?;
    out.flush()?;
    Ok(Outcome::Ok)
}

/// Plans, reports, applies (all or nothing) and persists changes.
fn change(
    cli: &Cli,
    paths: &Paths,
    keys: &[Key],
    pairs: &[String],
    dry_run: bool,
    persist_them: bool,
) -> anyhow::Result<Outcome> {
    let (changes, notes) = plan(keys, pairs)?;
    for n in &notes {
        eprintln!("ctctl: {n}");
    }
    if !dry_run {
        // Apply first: a line says "set" only for what was written.
        apply(&changes, write_value)?;
    }
    let mut out = Out::stdout();
    for c in &changes {
        if cli.output == Format::Json {
            let b = out.buf();
            b.extend_from_slice(b"{\"key\":");
            json::string(b, &c.key.name);
            b.extend_from_slice(
                format!(
                    ",\"old\":{},\"new\":{},\"dry_run\":{dry_run}}}",
                    c.old, c.new
                )
                .as_bytes(),
            );
        } else {
            let verb = if c.old == c.new {
                "unchanged"
            } else if dry_run {
                "would set"
            } else {
                "set"
            };
            out.buf().extend_from_slice(
                format!(
                    "{}: {} -> {} ({verb})",
                    c.key.name,
                    c.key.show(c.old),
                    c.key.show(c.new)
                )
                .as_bytes(),
            );
        }
        out.line_done()?;
    }
    out.flush()?;
    warn_sizing(keys, &changes)?;
    if dry_run {
        if persist_them {
            eprintln!("ctctl: dry run: nothing written, nothing persisted");
        }
        return Ok(Outcome::Ok);
    }
    if persist_them {
        // nf_conntrack_max is read-only outside the initial namespace.
        let child_netns = keys.iter().any(|k| k.name == "max" && !k.writable_here());
        if child_netns {
            eprintln!(
                "ctctl: warning: this is not the initial network namespace, but the files \
                 persisted are applied to the initial one at boot"
            );
        }
        let done = persist::persist(paths, &changes)?;
        for f in &done.files {
            eprintln!("ctctl: persisted in {}", f.display());
        }
        for h in &done.hints {
            eprintln!("ctctl: {h}");
        }
        for o in &done.overridden {
            eprintln!("ctctl: warning: {o}");
        }
    }
    Ok(Outcome::Ok)
}

fn set(cli: &Cli, paths: &Paths, keys: &[Key], s: &SetArgs) -> anyhow::Result<Outcome> {
    change(cli, paths, keys, &s.pairs, s.dry_run, s.persist)
}

/// Warns when the result leaves max / hashsize outside 1-16 or max below
/// the current count.
fn warn_sizing(keys: &[Key], changes: &[Change]) -> anyhow::Result<()> {
    let value = |name: &str| -> anyhow::Result<Option<u64>> {
        if let Some(c) = changes.iter().find(|c| c.key.name == name) {
            return Ok(Some(c.new));
        }
        Ok(match keys.iter().find(|k| k.name == name) {
            Some(k) => k.read()?,
            None => None,
        })
    };
    let (Some(max), Some(hashsize)) = (value("max")?, value("hashsize")?) else {
        return Ok(());
    };
    let depth = max as f64 / hashsize.max(1) as f64;
    if !(1.0..=16.0).contains(&depth) {
        eprintln!(
            "ctctl: warning: max / hashsize = {depth:.1}: a full table would average {depth:.1} entries per bucket; keep it between 2 and 8 (e.g. hashsize={})",
            (max / 4).next_power_of_two()
        );
    }
    if let Some(count) = value("count")? {
        if max < count {
            eprintln!(
                "ctctl: warning: max ({max}) is below the current count ({count}): new connections are dropped until entries expire"
            );
        }
    }
    Ok(())
}

fn recommend(cli: &Cli, paths: &Paths, keys: &[Key], r: &RecommendArgs) -> anyhow::Result<Outcome> {
    let get = |name: &str| -> anyhow::Result<u64> {
        Ok(keys
            .iter()
            .find(|k| k.name == name)
            .map(Key::read)
            .transpose()?
            .flatten()
            .unwrap_or(0))
    };
    let count = match Conntrack::open().and_then(|mut ct| ct.stats()) {
        Ok(s) => s.entries as u64,
        Err(_) => get("count")?,
    };
    let mem = recommend::mem_total(&read_trimmed(&paths.meminfo)?)
        .ok_or_else(|| anyhow::anyhow!("no MemTotal in {}", paths.meminfo.display()))?;
    let inputs = Inputs {
        mem_bytes: mem,
        count,
        peak: r.peak.unwrap_or(count),
        max: get("max")?,
        hashsize: read_u64(&paths.hashsize())?.unwrap_or(get("hashsize")?),
        depth: r.depth,
    };
    let mut advice = recommend::sizing(&inputs);
    let current: Vec<(String, u64)> = keys
        .iter()
        .filter(|k| k.name.starts_with("timeout."))
        .filter_map(|k| Some((k.name.clone(), k.read().ok()??)))
        .collect();
    advice.extend(recommend::timeouts(&current));
    print_advice(cli, &advice)?;
    if r.apply {
        let pairs: Vec<String> = advice
            .iter()
            .filter(|a| a.changes())
            .map(|a| format!("{}={}", a.key, a.suggested))
            .collect();
        if pairs.is_empty() {
            eprintln!("ctctl: nothing to change");
            return Ok(Outcome::Ok);
        }
        return change(cli, paths, keys, &pairs, false, r.persist);
    }
    Ok(Outcome::Ok)
}

fn print_advice(cli: &Cli, advice: &[Advice]) -> anyhow::Result<()> {
    let mut out = Out::stdout();
    if cli.output == Format::Json {
        for a in advice {
            let b = out.buf();
            b.extend_from_slice(b"{\"key\":");
            json::string(b, &a.key);
            b.extend_from_slice(
                format!(
                    ",\"current\":{},\"suggested\":{},\"change\":{},\"reason\":",
                    a.current,
                    a.suggested,
                    a.changes()
                )
                .as_bytes(),
            );
            json::string(b, &a.reason);
            b.push(b'}');
            out.line_done()?;
        }
    } else {
        let w = advice.iter().map(|a| a.key.len()).max().unwrap_or(0);
        for a in advice {
            let line = if a.changes() {
                format!(
                    "{:<w$}  {} -> {}  # {}",
                    a.key, a.current, a.suggested, a.reason
                )
            } else {
                format!("{:<w$}  {} (keep)  # {}", a.key, a.current, a.reason)
            };
            out.buf().extend_from_slice(line.as_bytes());
            out.line_done()?;
        }
    }
    out.flush()?;
    Ok(())
}
