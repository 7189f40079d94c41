//! `connlabel.conf`, the file that names connection labels: bit numbers
//! (0-127) to names (`N name` lines), as iptables' and nft's `ct label`
//! and conntrack(8)'s `-l` read it. Reading the file is `labels.rs`'s.

/// The label names of a system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelMap {
    file: String,
    names: Vec<(String, u32)>,
    /// Whether the file could be read.
    found: bool,
}

impl LabelMap {
    /// No names at all (and no file).
    pub const EMPTY: LabelMap = LabelMap {
        file: String::new(),
        names: Vec::new(),
        found: false,
    };

    /// The map a `connlabel.conf` holds (`None`: there is no such file),
    /// `file` naming it in messages.
    pub fn parse(text: Option<&str>, file: String) -> LabelMap {
        let found = text.is_some();
        let text = text.unwrap_or_default();
        // As libnetfilter_conntrack reads it: `#` lines skipped, a number
        // in C notation below 1024, then the name (trimmed; letters,
        // digits, spaces and dashes only); the first name of a bit wins.
        let mut names: Vec<(String, u32)> = Vec::new();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let r = super::conntrack8::values::strtoul(l, 0);
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
    ///
    /// # Errors
    ///
    /// The first label that is not in the file.
    pub fn bits(&self, labels: &[String]) -> Result<Vec<u32>, String> {
        labels.iter().map(|l| self.bit(l)).collect()
    }

    /// A label's bit: a number 0-127, or a name from the file.
    ///
    /// # Errors
    ///
    /// When the label is not in the file.
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
                    self.file
                )
            })
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
