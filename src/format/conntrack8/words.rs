//! How conntrack 1.4.7 splits a `-R` file line into words
//! (`add_param_to_argv`, from iptables): spaces and tabs separate, double
//! quotes group (a backslash inside quotes escapes the next character),
//! leading blanks are skipped, and a line starting with `#` or empty is
//! no command.

/// The words of one line, or `None` for a blank or comment line.
pub fn split(line: &str) -> Option<Vec<String>> {
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('\n') || line.starts_with('#') {
        return None;
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for ch in line.chars() {
        if quoted {
            if escaped {
                cur.push(ch);
                escaped = false;
                continue;
            }
            match ch {
                '\\' => escaped = true,
                '"' => quoted = false,
                c => cur.push(c),
            }
            continue;
        }
        match ch {
            '"' => quoted = true,
            ' ' | '\t' | '\n' | '\r' => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn quotes_and_comments() {
        assert_eq!(split("  # no"), None);
        assert_eq!(split(""), None);
        assert_eq!(
            split("-I -l \"a b\" -t\t5").unwrap(),
            vec!["-I", "-l", "a b", "-t", "5"]
        );
        assert_eq!(split("-L \"x\\\"y\"").unwrap(), vec!["-L", "x\"y"]);
    }
}
