//! Connection labels by name: the system's `/etc/xtables/connlabel.conf`
//! read into a [`LabelMap`] (the file's language is
//! [`crate::format::connlabel`]).

use super::Paths;
pub use crate::format::connlabel::LabelMap;

impl LabelMap {
    /// `connlabel.conf` under `paths.etc` (empty when missing).
    pub fn load(paths: &Paths) -> LabelMap {
        let file = paths.etc.join("xtables/connlabel.conf");
        let text = std::fs::read_to_string(&file).ok();
        LabelMap::parse(text.as_deref(), file.display().to_string())
    }

    /// The system's map (`/etc/xtables/connlabel.conf`), read once.
    pub fn system() -> &'static LabelMap {
        static MAP: std::sync::OnceLock<LabelMap> = std::sync::OnceLock::new();
        MAP.get_or_init(|| LabelMap::load(&Paths::system()))
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
