//! Value parsers of the CLI's own flags (sizes, file modes, waits); the
//! filter values' spellings are the vocabulary's (`select::values`).

/// Parses a size in bytes: `33554432`, `32M`, `32MiB`, `512K`, `1G`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| "use bytes or a size like 32M, 64MiB, 512K".to_string())?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err("use bytes or a size like 32M, 64MiB, 512K".to_string()),
    };
    n.checked_mul(mult)
        .ok_or_else(|| "size too large".to_string())
}

/// Parses a file mode in octal (`0640`, `640`); at most 0777.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err("use an octal mode from 0 to 0777, like 0640".to_string()),
    }
}

pub use crate::select::values::parse_wait;
