//! Formatting of durations and ratios for the Markdown table and the chart.

/// A duration given in nanoseconds, with a unit chosen so that 3 significant digits show:
/// `0.136 ns`, `89.8 ns`, `12.3 µs`, `206 ms`, `1.25 s`.
pub fn format_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "n/a".to_string();
    }
    let (v, unit) = if ns.abs() < 1e3 {
        (ns, "ns")
    } else if ns.abs() < 1e6 {
        (ns / 1e3, "µs")
    } else if ns.abs() < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", sig3(v))
}

/// A power of ten nanoseconds as an axis label: `1 ns`, `100 ns`, `10 µs`, `1 s`.
pub fn format_decade(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let prec = if v >= 1.0 {
        0
    } else {
        (-v.log10()).round() as usize
    };
    format!("{v:.prec$} {unit}")
}

/// A ratio as `1.02×`, `13.4×`, `113×`.
pub fn format_ratio(r: f64) -> String {
    if !r.is_finite() {
        return "n/a".to_string();
    }
    format!("{}×", sig3(r))
}

/// Kibibytes as `812 KiB`, `41.3 MiB`, `1.20 GiB`.
pub fn format_kib(kib: u64) -> String {
    let k = kib as f64;
    if k < 1024.0 {
        format!("{kib} KiB")
    } else if k < 1024.0 * 1024.0 {
        format!("{} MiB", sig3(k / 1024.0))
    } else {
        format!("{} GiB", sig3(k / (1024.0 * 1024.0)))
    }
}

/// Three significant digits, without exponent notation.
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(format_ns(0.136), "0.136 ns");
        assert_eq!(format_ns(89.84), "89.8 ns");
        assert_eq!(format_ns(12_345.0), "12.3 µs");
        assert_eq!(format_ns(206_000_000.0), "206 ms");
        assert_eq!(format_ns(1_250_000_000.0), "1.25 s");
        assert_eq!(format_ns(f64::NAN), "n/a");
    }

    #[test]
    fn decade_labels_have_no_trailing_zeros() {
        assert_eq!(format_decade(0.1), "0.1 ns");
        assert_eq!(format_decade(10f64.powi(-2)), "0.01 ns");
        assert_eq!(format_decade(1.0), "1 ns");
        assert_eq!(format_decade(100.0), "100 ns");
        assert_eq!(format_decade(10_000.0), "10 µs");
        assert_eq!(format_decade(1e9), "1 s");
    }

    #[test]
    fn ratios_and_sizes() {
        assert_eq!(format_ratio(1.0234), "1.02×");
        assert_eq!(format_ratio(113.2), "113×");
        assert_eq!(format_kib(812), "812 KiB");
        assert_eq!(format_kib(42_291), "41.3 MiB");
    }
}
