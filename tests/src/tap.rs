//! TAP lines as the cases print them, and the comparison of two runs.

use std::collections::BTreeMap;

/// One test point: `ok N - syscall: description` or `not ok N - ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub number: u32,
    pub ok: bool,
    /// Everything after `N - `.
    pub description: String,
    /// The whole line as printed, trimmed.
    pub line: String,
    /// The `# ...` diagnostic lines printed right after it.
    pub diag: String,
}

impl Point {
    /// The syscall the point is about: the description up to its first colon.
    pub fn syscall(&self) -> &str {
        self.description
            .split_once(':')
            .map(|(s, _)| s.trim())
            .unwrap_or("?")
    }
}

/// Parses one TAP line; None for plans, diagnostics and anything else.
pub fn parse_line(line: &str) -> Option<Point> {
    let line = line.trim_end();
    let (ok, rest) = if let Some(r) = line.strip_prefix("ok ") {
        (true, r)
    } else if let Some(r) = line.strip_prefix("not ok ") {
        (false, r)
    } else {
        return None;
    };
    let (num, desc) = rest.split_once(' ').unwrap_or((rest, ""));
    let number = num.parse().ok()?;
    let description = desc.strip_prefix("- ").unwrap_or(desc).to_string();
    Some(Point {
        number,
        ok,
        description,
        line: line.to_string(),
        diag: String::new(),
    })
}

/// All test points of an output, by number (a repeated number keeps the first line).
pub fn parse(output: &str) -> BTreeMap<u32, Point> {
    let mut m: BTreeMap<u32, Point> = BTreeMap::new();
    let mut last = None;
    for l in output.lines() {
        if let Some(p) = parse_line(l) {
            last = Some(p.number);
            m.entry(p.number).or_insert(p);
        } else if let (Some(d), Some(n)) = (l.strip_prefix("# "), last) {
            if let Some(p) = m.get_mut(&n) {
                if !p.diag.is_empty() {
                    p.diag.push_str("; ");
                }
                p.diag.push_str(d.trim());
            }
        }
    }
    m
}

/// The plan's count (`1..N`), if printed.
pub fn plan(output: &str) -> Option<u32> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("1..").and_then(|n| n.parse().ok()))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn parses_ok_and_not_ok() {
        let p = parse_line("ok 3 - read: bad fd -> EBADF").unwrap();
        assert!(p.ok);
        assert_eq!(p.number, 3);
        assert_eq!(p.syscall(), "read");
        let q = parse_line("not ok 12 - write: x").unwrap();
        assert!(!q.ok);
        assert_eq!(q.number, 12);
        assert!(parse_line("# diag").is_none());
        assert!(parse_line("1..4").is_none());
        assert_eq!(plan("ok 1 - a: b\n1..1\n"), Some(1));
    }
}
