//! GNU `getopt_long` as glibc runs it for conntrack(8): argument
//! permutation (words that are not options are skipped and moved behind
//! the options), long options by unambiguous prefix, optional arguments
//! only when attached (`-Lexpect`, `--dump=expect`), required ones from
//! the next word whatever it looks like, and the error returns of an
//! option string that starts with `:` (`':'` for a missing argument, `'?'`
//! for anything unknown). conntrack 1.4.7 parses with it and then reads
//! words on its own (`get_optional_arg`), so the face needs the same
//! cursor, the same permuted word list and the same `optind` to agree on
//! which word is what.

/// A long option: name, argument kind (0 none, 1 required, 2 optional, as
/// `struct option.has_arg`) and the value returned for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongOpt {
    /// The name, without `--`.
    pub name: &'static str,
    /// 0: no argument, 1: required, 2: optional (attached with `=` only).
    pub has_arg: u8,
    /// What `getopt_long` returns for it.
    pub val: i32,
}

/// What one call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// An option and its argument, if it has one.
    Opt(i32, Option<String>),
    /// `':'`: a required argument is missing.
    Missing,
    /// `'?'`: an unknown or ambiguous option, or an argument where none is
    /// taken.
    Unknown,
}

/// The parser's state over one argument vector (`argv[0]` included).
#[derive(Debug, Clone)]
pub struct Getopt {
    /// The words; permuted as glibc permutes them.
    pub argv: Vec<String>,
    /// Index of the next word to look at.
    pub optind: usize,
    /// Inside a cluster of short options: the word and the byte offset.
    nextchar: Option<(usize, usize)>,
    first_nonopt: usize,
    last_nonopt: usize,
}

fn nonoption(s: &str) -> bool {
    let b = s.as_bytes();
    b.first() != Some(&b'-') || b.len() == 1
}

impl Getopt {
    /// A parser over `argv` (`argv[0]` is the program name).
    pub fn new(argv: Vec<String>) -> Getopt {
        Getopt {
            argv,
            optind: 1,
            nextchar: None,
            first_nonopt: 1,
            last_nonopt: 1,
        }
    }

    /// The word `argv[optind - 1]`, which conntrack names in its messages.
    pub fn previous(&self) -> &str {
        self.optind
            .checked_sub(1)
            .and_then(|i| self.argv.get(i))
            .map_or("", String::as_str)
    }

    /// Moves the skipped words `[first_nonopt, last_nonopt)` behind the
    /// options seen since, `[last_nonopt, optind)` (glibc's `exchange`).
    fn exchange(&mut self) {
        let (a, b, c) = (self.first_nonopt, self.last_nonopt, self.optind);
        self.argv[a..c].rotate_left(b - a);
        self.first_nonopt += c - b;
        self.last_nonopt = c;
    }

    /// The next option, or `None` when the options are done.
    pub fn next(&mut self, optstring: &str, longopts: &[LongOpt]) -> Option<Got> {
        let argc = self.argv.len();
        if self.nextchar.is_none() {
            if self.last_nonopt > self.optind {
                self.last_nonopt = self.optind;
            }
            if self.first_nonopt > self.optind {
                self.first_nonopt = self.optind;
            }
            if self.first_nonopt != self.last_nonopt && self.last_nonopt != self.optind {
                self.exchange();
            } else if self.last_nonopt != self.optind {
                self.first_nonopt = self.optind;
            }
            while self.optind < argc && nonoption(&self.argv[self.optind]) {
                self.optind += 1;
            }
            self.last_nonopt = self.optind;
            if self.optind != argc && self.argv[self.optind] == "--" {
                self.optind += 1;
                if self.first_nonopt != self.last_nonopt && self.last_nonopt != self.optind {
                    self.exchange();
                } else if self.first_nonopt == self.last_nonopt {
                    self.first_nonopt = self.optind;
                }
                self.last_nonopt = argc;
                self.optind = argc;
            }
            if self.optind == argc {
                if self.first_nonopt != self.last_nonopt {
                    self.optind = self.first_nonopt;
                }
                return None;
            }
            if self.argv[self.optind].starts_with("--") {
                return Some(self.long(optstring, longopts));
            }
            self.nextchar = Some((self.optind, 1));
        }
        self.short(optstring)
    }

    fn missing(optstring: &str) -> Got {
        if optstring.starts_with(':') {
            Got::Missing
        } else {
            Got::Unknown
        }
    }

    fn long(&mut self, optstring: &str, longopts: &[LongOpt]) -> Got {
        let word = self.argv[self.optind][2..].to_string();
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word.as_str(), None),
        };
        let found = longopts.iter().find(|o| o.name == name).or_else(|| {
            let mut found: Option<&LongOpt> = None;
            let mut ambiguous = false;
            for o in longopts.iter().filter(|o| o.name.starts_with(name)) {
                match found {
                    None => found = Some(o),
                    Some(f) if f.has_arg != o.has_arg || f.val != o.val => ambiguous = true,
                    Some(_) => {}
                }
            }
            if ambiguous {
                None
            } else {
                found
            }
        });
        self.optind += 1;
        self.nextchar = None;
        let Some(o) = found.copied() else {
            return Got::Unknown;
        };
        match value {
            Some(v) if o.has_arg != 0 => Got::Opt(o.val, Some(v)),
            Some(_) => Got::Unknown,
            None if o.has_arg == 1 => {
                if self.optind < self.argv.len() {
                    self.optind += 1;
                    Got::Opt(o.val, Some(self.argv[self.optind - 1].clone()))
                } else {
                    Self::missing(optstring)
                }
            }
            None => Got::Opt(o.val, None),
        }
    }

    fn short(&mut self, optstring: &str) -> Option<Got> {
        let (w, pos) = self.nextchar.expect("inside a cluster");
        let word = self.argv[w].clone();
        let bytes = word.as_bytes();
        let c = bytes[pos];
        let rest = &word[pos + 1..];
        self.nextchar = Some((w, pos + 1));
        if rest.is_empty() {
            self.optind += 1;
            self.nextchar = None;
        }
        let spec = optstring.as_bytes();
        let at = spec
            .iter()
            .position(|&b| b == c)
            .filter(|_| c != b':' && c != b';');
        let Some(at) = at else {
            return Some(Got::Unknown);
        };
        if spec.get(at + 1) != Some(&b':') {
            return Some(Got::Opt(i32::from(c), None));
        }
        let optional = spec.get(at + 2) == Some(&b':');
        let got = if !rest.is_empty() {
            self.optind += 1;
            Got::Opt(i32::from(c), Some(rest.to_string()))
        } else if optional {
            Got::Opt(i32::from(c), None)
        } else if self.optind == self.argv.len() {
            Self::missing(optstring)
        } else {
            self.optind += 1;
            Got::Opt(i32::from(c), Some(self.argv[self.optind - 1].clone()))
        };
        self.nextchar = None;
        Some(got)
    }

    /// conntrack's `get_optional_arg`: when the option came without an
    /// attached argument, the next word if it starts with neither `-` nor
    /// `!`, consumed. An attached argument is *ignored* (conntrack 1.4.7
    /// returns nothing then: `-Lexpect` lists the conntrack table).
    pub fn optional_arg(&mut self, attached: &Option<String>) -> Option<String> {
        if attached.is_some() {
            return None;
        }
        let next = self.argv.get(self.optind)?;
        if next.starts_with('-') || next.starts_with('!') {
            return None;
        }
        self.optind += 1;
        Some(self.argv[self.optind - 1].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &str = ":L::hs:n::z";
    const LONG: &[LongOpt] = &[
        LongOpt {
            name: "dump",
            has_arg: 2,
            val: b'L' as i32,
        },
        LongOpt {
            name: "src",
            has_arg: 1,
            val: b's' as i32,
        },
        LongOpt {
            name: "src-nat",
            has_arg: 2,
            val: b'n' as i32,
        },
        LongOpt {
            name: "sport",
            has_arg: 1,
            val: 300,
        },
        LongOpt {
            name: "zero",
            has_arg: 0,
            val: b'z' as i32,
        },
    ];

    fn all(words: &[&str]) -> (Vec<Got>, Getopt) {
        let mut g = Getopt::new(words.iter().map(|s| s.to_string()).collect());
        let mut out = Vec::new();
        while let Some(x) = g.next(OPTS, LONG) {
            out.push(x);
        }
        (out, g)
    }

    fn opt(c: char, v: Option<&str>) -> Got {
        Got::Opt(c as i32, v.map(String::from))
    }

    #[test]
    fn clusters_attached_and_separate_arguments() {
        let (got, _) = all(&["ct", "-zL", "-s", "1.1.1.1", "-s2.2.2.2", "-Lexpect"]);
        assert_eq!(
            got,
            vec![
                opt('z', None),
                opt('L', None),
                opt('s', Some("1.1.1.1")),
                opt('s', Some("2.2.2.2")),
                opt('L', Some("expect")),
            ]
        );
    }

    #[test]
    fn long_options_exact_prefix_and_ambiguous() {
        let (got, _) = all(&["ct", "--src", "x", "--src-n=1", "--zer", "--s"]);
        assert_eq!(got[0], opt('s', Some("x")));
        assert_eq!(got[1], opt('n', Some("1")));
        assert_eq!(got[2], opt('z', None));
        assert_eq!(got[3], Got::Unknown, "--s: src, src-nat, sport");
        let (got, _) = all(&["ct", "--zero=1", "--src"]);
        assert_eq!(got, vec![Got::Unknown, Got::Missing]);
        // A required argument is the next word, whatever it is.
        let (got, _) = all(&["ct", "--src", "-L"]);
        assert_eq!(got, vec![opt('s', Some("-L"))]);
    }

    #[test]
    fn unknown_short_option_names_the_word_glibc_points_at() {
        let mut g = Getopt::new(["ct", "-L", "-xz"].map(String::from).to_vec());
        assert_eq!(g.next(OPTS, LONG), Some(opt('L', None)));
        assert_eq!(g.next(OPTS, LONG), Some(Got::Unknown));
        assert_eq!(g.previous(), "-L", "x is not the cluster's last letter");
        assert_eq!(g.next(OPTS, LONG), Some(opt('z', None)));
        assert_eq!(g.previous(), "-xz");
    }

    #[test]
    fn words_that_are_not_options_are_skipped_or_taken_as_optional_arguments() {
        let mut g = Getopt::new(
            ["ct", "foo", "-L", "expect", "-n", "-z"]
                .map(String::from)
                .to_vec(),
        );
        let Some(Got::Opt(_, a)) = g.next(OPTS, LONG) else {
            panic!()
        };
        assert_eq!(g.optional_arg(&a).as_deref(), Some("expect"));
        let Some(Got::Opt(_, a)) = g.next(OPTS, LONG) else {
            panic!()
        };
        assert_eq!(g.optional_arg(&a), None, "-z is no argument of -n");
        assert_eq!(g.next(OPTS, LONG), Some(opt('z', None)));
        assert_eq!(g.next(OPTS, LONG), None);
        assert_eq!(g.argv[g.optind], "foo", "skipped words end up behind");
    }
}
