//! The names conntrack(8) command lines take from the system: protocols from
//! `/etc/protocols` (`getprotobyname`, names and aliases, case as
//! written) and labels from `/etc/xtables/connlabel.conf`.

use crate::format::conntrack8::Lookup;

/// The system's protocol and label names, read once per run.
#[derive(Debug, Default)]
pub struct System {
    protocols: Vec<(String, u8)>,
    labels: Option<Vec<(String, u32)>>,
}

impl System {
    /// Reads `/etc/protocols` and `connlabel.conf`.
    pub fn load() -> System {
        let protocols = std::fs::read_to_string("/etc/protocols")
            .unwrap_or_default()
            .lines()
            .flat_map(|l| {
                let l = l.split('#').next().unwrap_or("");
                let mut w = l.split_whitespace();
                let name = w.next();
                let num = w.next().and_then(|n| n.parse::<u8>().ok());
                match (name, num) {
                    (Some(name), Some(num)) => std::iter::once(name)
                        .chain(w)
                        .map(|n| (n.to_string(), num))
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                }
            })
            .collect();
        let map = crate::labels::LabelMap::system();
        let labels = map.found().then(|| map.names().to_vec());
        System { protocols, labels }
    }
}

impl System {
    /// The system's names, read once per process.
    pub fn get() -> &'static System {
        static SYSTEM: std::sync::OnceLock<System> = std::sync::OnceLock::new();
        SYSTEM.get_or_init(System::load)
    }
}

impl Lookup for System {
    fn protocol(&self, name: &str) -> Option<u8> {
        self.protocols
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
    }

    fn label(&self, name: &str) -> Result<Option<u32>, String> {
        match &self.labels {
            None => Err("nfct_labelmap_new: No such file or directory".into()),
            Some(l) => Ok(l.iter().find(|(n, _)| n == name).map(|(_, b)| *b)),
        }
    }
}
