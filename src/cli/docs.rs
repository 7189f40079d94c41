//! Man pages and shell completions, generated from the clap definitions so
//! they never drift from the command line.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs, ManpagesArgs};
use super::Outcome;

/// `ctctl completions SHELL`: the completion script on stdout.
pub fn completions(a: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "ctctl", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Outcome::Ok)
}

/// One page per visible subcommand, nested ones too (`ctctl-expect-list`).
fn pages_of(cmd: &clap::Command, prefix: &str, pages: &mut Vec<(String, clap::Command)>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix}-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name.clone())));
        pages_of(sub, &name, pages);
    }
}

/// `ctctl manpages DIR`: `ctctl.1`, and `ctctl-COMMAND.1` for each command.
/// Written as persisted settings are (run as root into a system directory):
/// each page staged with `O_EXCL|O_NOFOLLOW`, then renamed into place, so a
/// planted symlink is replaced, never followed.
pub fn manpages(a: &ManpagesArgs) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create {}", a.dir.display()))?;
    let cmd = Cli::command();
    let mut pages = vec![("ctctl".to_string(), cmd.clone())];
    pages_of(&cmd, "ctctl", &mut pages);
    let mut files = Vec::with_capacity(pages.len());
    for (name, page) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        files.push((a.dir.join(format!("{name}.1")), String::from_utf8(buf)?));
    }
    let written = crate::tune::persist::replace_all(&files)
        .with_context(|| format!("cannot write the pages into {}", a.dir.display()))?;
    let mut out = std::io::stdout().lock();
    for path in written {
        writeln!(out, "{}", path.display())?;
    }
    Ok(Outcome::Ok)
}
