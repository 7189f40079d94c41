//! Connection labels by name: `/etc/xtables/connlabel.conf` maps bit
//! numbers (0-127) to names (`N name` lines), as iptables' and nft's
//! `ct label` and conntrack(8)'s `-l` use it.

use std::path::PathBuf;

use crate::tune::Paths;

/// The label names of a system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelMap {
    file: PathBuf,
    names: Vec<(String, u32)>,
    /// Whether the file could be read.
    found: bool,
}

impl LabelMap {
    /// `connlabel.conf` under `paths.etc` (empty when missing).
    pub fn load(paths: &Paths) -> LabelMap {
        let file = paths.etc.join("xtables/connlabel.conf");
        let read = std::fs::read_to_string(&file);
        let found = read.is_ok();
        let text = read.unwrap_or_default();
        // As libnetfilter_conntrack reads it: `#` lines skipped, a number
        // in C notation below 1024, then the name (trimmed; letters,
        // digits, spaces and dashes only); the first name of a bit wins.
        let mut names: Vec<(String, u32)> = Vec::new();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let r = crate::format::conntrack8::values::strtoul(l, 0);
            if r.end == 0 || r.value >= 1024 {
                continue;
            }
            let bit = r.value as u32;
            let name = l[r.end..].trim_matches([' ', '\t', '\r']);
            let sane = name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-');
            if name.is_empty() || !sane || names.iter().any(|(_, b)| *b == bit) {
                continue;
            }
            names.push((name.to_string(), bit));
        }
        LabelMap { file, names, found }
    }

    /// Whether connlabel.conf was there to read.
    pub fn found(&self) -> bool {
        self.found
    }

    /// The bits of `labels` (numbers or names), each checked.
    pub fn bits(&self, labels: &[String]) -> Result<Vec<u32>, String> {
        labels.iter().map(|l| self.bit(l)).collect()
    }

    /// A label's bit: a number 0-127, or a name from the file.
    pub fn bit(&self, label: &str) -> Result<u32, String> {
        if let Ok(n) = label.parse::<u32>() {
            return if n < 128 {
                Ok(n)
            } else {
                Err(format!("label {n}: label bits are 0-127"))
            };
        }
        self.names
            .iter()
            .find(|(name, _)| name == label)
            .map(|(_, n)| *n)
            .filter(|n| *n < 128)
            .ok_or_else(|| {
                format!(
                    "unknown label '{label}' (not a bit number, not in {})",
                    self.file.display()
                )
            })
    }

    /// The system's map (`/etc/xtables/connlabel.conf`), read once.
    pub fn system() -> &'static LabelMap {
        static MAP: std::sync::OnceLock<LabelMap> = std::sync::OnceLock::new();
        MAP.get_or_init(|| LabelMap::load(&Paths::system()))
    }

    /// The name of a bit, when the file gives one.
    pub fn name(&self, bit: u32) -> Option<&str> {
        self.names
            .iter()
            .find(|(_, n)| *n == bit)
            .map(|(s, _)| s.as_str())
    }

    /// Every name and its bit, in file order.
    pub fn names(&self) -> &[(String, u32)] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits() {
        let (dir, mut paths) = crate::tune::testing::fake_tree("labels", &[]);
        paths.etc = dir.join("etc");
        std::fs::create_dir_all(paths.etc.join("xtables")).unwrap();
        std::fs::write(
            paths.etc.join("xtables/connlabel.conf"),
            "# comment\n0 eth0-in\n1 blue  \n2 not#sane\n200 too-big\n",
        )
        .unwrap();
        let m = LabelMap::load(&paths);
        assert_eq!(m.bit("blue"), Ok(1));
        assert_eq!(m.bit("70"), Ok(70));
        assert!(m.bit("128").is_err());
        assert!(m.bit("too-big").is_err());
        assert!(m.bit("red").unwrap_err().contains("connlabel.conf"));
        assert_eq!(m.name(0), Some("eth0-in"));
        assert_eq!(m.name(2), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
