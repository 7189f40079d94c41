//! Lines of bounded length: a line longer than [`MAX_LINE`] is refused
//! by number and skipped without being kept.

/// The longest line `restore` and `conntrack -R` read: a conntrack line is
/// well under 1 KiB and a JSON line a few, so a longer one is refused by
/// number rather than buffered whole.
pub const MAX_LINE: usize = 1 << 20;

/// The lines of `input`, each at most [`MAX_LINE`] bytes: `Ok(Ok(line))`,
/// `Ok(Err(why))` for a line too long (skipped to its end) or not UTF-8,
/// `Err` for a read error.
pub fn lines<R: std::io::BufRead>(input: R) -> Lines<R> {
    Lines { input, done: false }
}

/// See [`lines`].
#[derive(Debug)]
pub struct Lines<R> {
    input: R,
    done: bool,
}

impl<R: std::io::BufRead> Iterator for Lines<R> {
    type Item = std::io::Result<Result<String, String>>;

    fn next(&mut self) -> Option<Self::Item> {
        use std::io::{BufRead, Read};
        if self.done {
            return None;
        }
        let mut buf = Vec::new();
        let limit = MAX_LINE as u64 + 1;
        match (&mut self.input).take(limit).read_until(b'\n', &mut buf) {
            Ok(0) => {
                self.done = true;
                return None;
            }
            Ok(_) => {}
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE {
            // Skip the rest of this line without keeping it.
            loop {
                let (skip, found) = match self.input.fill_buf() {
                    Ok([]) => break,
                    Ok(b) => match b.iter().position(|&c| c == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (b.len(), false),
                    },
                    Err(e) => return Some(Err(e)),
                };
                self.input.consume(skip);
                if found {
                    break;
                }
            }
            return Some(Ok(Err(format!("longer than {MAX_LINE} bytes: not read"))));
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Some(Ok(
            String::from_utf8(buf).map_err(|_| "not UTF-8 text".to_string())
        ))
    }
}
