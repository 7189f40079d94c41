//! Connection labels by name: `/etc/xtables/connlabel.conf` maps bit
//! numbers (0-127) to names (`N name` lines), as iptables' and nft's
//! `ct label` and conntrack(8)'s `-l` use it.

use std::path::PathBuf;

use crate::tune::Paths;

/// The label names of a system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelMap {
    file: PathBuf,
    names: Vec<(u32, String)>,
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
        let names = text
            .lines()
            .filter_map(|l| {
                let l = l.split('#').next()?;
                let mut w = l.split_whitespace();
                let n = w.next()?.parse::<u32>().ok().filter(|n| *n < 128)?;
                Some((n, w.next()?.to_string()))
            })
            .collect();
        LabelMap { file, names, found }
    }

    /// Whether connlabel.conf was there to read.
    pub fn found(&self) -> bool {
        self.found
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
            .find(|(_, name)| name == label)
            .map(|(n, _)| *n)
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
            .find(|(n, _)| *n == bit)
            .map(|(_, s)| s.as_str())
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
            "# comment\n0 eth0-in\n1 blue # trailing\n200 too-big\n",
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
