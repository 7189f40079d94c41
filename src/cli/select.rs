//! What a command selects: the filter flags of the command line, and with
//! `--filters-from`, a [`FilterSet`] of one filter per line of a file, in
//! the same syntax as the flags.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};
use clap::Parser;
use ctctl_netlink::conntrack::Flow;

use super::args::FilterArgs;
use crate::select::filter::Filter;
use crate::select::plan::Criteria;
use crate::select::plan::KernelPlan;
use crate::select::selection::Selection;
use crate::select::set::FilterSet;

/// One selection, or a set read from a file.
#[derive(Debug, Clone)]
pub enum Selector {
    /// The command line's filters.
    One(Filter),
    /// `--filters-from`: the lines (OR), each with the command line's
    /// filters (AND), and each line's number in the file.
    Set(FilterSet, Vec<usize>),
}

impl Selection for Selector {
    #[inline]
    fn matches(&self, f: &Flow<'_>) -> bool {
        match self {
            Selector::One(x) => x.matches(f),
            Selector::Set(x, _) => x.matches(f),
        }
    }

    fn kernel_plan(&self, proved: Criteria) -> KernelPlan {
        match self {
            Selector::One(x) => x.kernel_plan(proved),
            Selector::Set(x, _) => Selection::kernel_plan(x, proved),
        }
    }
}

impl Selector {
    /// The single filter, when there is no set.
    pub fn filter(&self) -> Option<&Filter> {
        match self {
            Selector::One(f) => Some(f),
            Selector::Set(..) => None,
        }
    }

    /// Whether the selection takes every entry (or every entry of a family).
    pub fn selects_everything(&self) -> bool {
        match self {
            Selector::One(f) => f.selects_everything(),
            Selector::Set(s, _) => s.selects_everything(),
        }
    }

    /// Whether no criterion at all is given.
    pub fn is_empty(&self) -> bool {
        self.filter().is_some_and(Filter::is_empty)
    }
}

/// The filter of a command that takes no `--filters-from` (`events`, `wait`).
pub fn single(args: &FilterArgs, command: &str) -> anyhow::Result<Filter> {
    if args.filters_from.is_some() {
        bail!(
            "--filters-from works with list, count, delete, flush, update and save, not {command}"
        );
    }
    Ok(args.to_filter()?)
}

/// A line of a `--filters-from` file, parsed as filter flags.
#[derive(Debug, Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct Line {
    #[command(flatten)]
    filter: FilterArgs,
}

/// The selection the flags describe: a set when `--filters-from` is given.
/// Every line is parsed (and every error reported with its line number)
/// before anything is sent to the kernel.
pub fn selector(args: &FilterArgs) -> anyhow::Result<Selector> {
    let common = args.to_filter()?;
    let Some(path) = &args.filters_from else {
        return Ok(Selector::One(common));
    };
    let input: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path)
                .with_context(|| format!("--filters-from: cannot open {}", path.display()))?,
        ))
    };
    let (lines, numbers) = read_lines(input, path)?;
    if lines.is_empty() {
        bail!(
            "--filters-from {}: no filter lines (an empty set would select nothing)",
            path.display()
        );
    }
    Ok(Selector::Set(FilterSet::new(common, lines), numbers))
}

/// Parses each non-empty, non-comment line as filter flags.
fn read_lines(input: impl BufRead, path: &Path) -> anyhow::Result<(Vec<Filter>, Vec<usize>)> {
    let mut lines = Vec::new();
    let mut numbers = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("{}: reading line {n}", path.display()))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let at = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("--filters-from {} line {n}: {e}", path.display())
        };
        let words = shlex::split(text).ok_or_else(|| at(&"unbalanced quotes"))?;
        let parsed = Line::try_parse_from(words).map_err(|e| {
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            at(&first)
        })?;
        if parsed.filter.filters_from.is_some() {
            return Err(at(&"--filters-from cannot be nested"));
        }
        lines.push(parsed.filter.to_filter().map_err(|e| at(&e))?);
        numbers.push(n);
    }
    Ok((lines, numbers))
}
