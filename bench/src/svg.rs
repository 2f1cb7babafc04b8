//! A hand-written SVG chart: grouped bars on a logarithmic axis, one panel per kind of
//! benchmark (operations, workloads), one bar per configuration, min–max whiskers.

use std::fmt::Write as _;

use crate::units::{format_decade, format_ns};

/// One bar: the median and the spread of a benchmark under one configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub value: f64,
    pub min: f64,
    pub max: f64,
}

/// A benchmark: one bar per series (configuration); `None` where there is no result.
#[derive(Debug, Clone)]
pub struct Group {
    pub label: String,
    pub bars: Vec<Option<Bar>>,
}

/// A panel with its own logarithmic axis.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub groups: Vec<Group>,
}

/// The whole chart. Values are durations in nanoseconds.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub series: Vec<String>,
    pub panels: Vec<Panel>,
}

/// Maps positive values to vertical pixel positions on a base-10 logarithmic axis whose ends
/// are whole decades: `lo` sits at `bottom`, `hi` at `top`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogScale {
    pub lo: f64,
    pub hi: f64,
    pub top: f64,
    pub bottom: f64,
}

impl LogScale {
    /// The smallest decade range that holds every positive finite value; `None` if there is none.
    pub fn for_values(
        values: impl IntoIterator<Item = f64>,
        top: f64,
        bottom: f64,
    ) -> Option<Self> {
        let (mut min, mut max) = (f64::INFINITY, 0.0f64);
        for v in values {
            if v.is_finite() && v > 0.0 {
                min = min.min(v);
                max = max.max(v);
            }
        }
        if !min.is_finite() {
            return None;
        }
        // The small epsilons keep exact powers of ten (whose log10 may be off by an ulp) on
        // their own decade.
        let lo_exp = (min.log10() + 1e-9).floor();
        let mut hi_exp = (max.log10() - 1e-9).ceil();
        if hi_exp <= lo_exp {
            hi_exp = lo_exp + 1.0;
        }
        Some(LogScale {
            lo: 10f64.powf(lo_exp),
            hi: 10f64.powf(hi_exp),
            top,
            bottom,
        })
    }

    /// The vertical position of `v`, clamped to the axis.
    pub fn y(&self, v: f64) -> f64 {
        let v = if v.is_finite() && v > 0.0 { v } else { self.lo };
        let frac =
            ((v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())).clamp(0.0, 1.0);
        self.bottom - frac * (self.bottom - self.top)
    }

    /// Every decade from `lo` to `hi` inclusive.
    pub fn decades(&self) -> Vec<f64> {
        let lo = self.lo.log10().round() as i32;
        let hi = self.hi.log10().round() as i32;
        (lo..=hi).map(|e| 10f64.powi(e)).collect()
    }
}

const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

const BAR_W: f64 = 12.0;
const GROUP_GAP: f64 = 28.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const PLOT_H: f64 = 260.0;
const PANEL_TITLE_H: f64 = 28.0;
const XLABEL_H: f64 = 70.0;
const LEGEND_ROW_H: f64 = 20.0;
const LEGEND_PER_ROW: usize = 5;

/// Escapes text for XML content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the chart as a standalone SVG document.
pub fn render(chart: &Chart) -> String {
    let n_series = chart.series.len().max(1);
    let group_w = n_series as f64 * BAR_W + GROUP_GAP;
    let max_groups = chart
        .panels
        .iter()
        .map(|p| p.groups.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let width = (LEFT + RIGHT + max_groups as f64 * group_w).max(640.0);
    let legend_rows = chart.series.len().div_ceil(LEGEND_PER_ROW).max(1);
    let header_h = 34.0 + legend_rows as f64 * LEGEND_ROW_H + 8.0;
    let panel_h = PANEL_TITLE_H + PLOT_H + XLABEL_H;
    let height = header_h + chart.panels.len() as f64 * panel_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="15" font-weight="bold">{}</text>"#,
        xml_escape(&chart.title)
    );
    for (i, name) in chart.series.iter().enumerate() {
        let row = i / LEGEND_PER_ROW;
        let col = i % LEGEND_PER_ROW;
        let x = LEFT + col as f64 * 150.0;
        let y = 34.0 + row as f64 * LEGEND_ROW_H;
        let _ = writeln!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            PALETTE[i % PALETTE.len()],
            x + 16.0,
            y + 10.0,
            xml_escape(name)
        );
    }

    for (pi, panel) in chart.panels.iter().enumerate() {
        let y0 = header_h + pi as f64 * panel_h;
        let top = y0 + PANEL_TITLE_H;
        let bottom = top + PLOT_H;
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{:.1}" font-size="13" font-weight="bold">{}</text>"#,
            y0 + 18.0,
            xml_escape(&panel.title)
        );
        let values = panel.groups.iter().flat_map(|g| {
            g.bars
                .iter()
                .flatten()
                .flat_map(|b| [b.value, b.min, b.max])
        });
        let Some(scale) = LogScale::for_values(values, top, bottom) else {
            let _ = writeln!(
                s,
                r#"<text x="{LEFT}" y="{:.1}">no results</text>"#,
                top + 20.0
            );
            continue;
        };
        let plot_right = LEFT + panel.groups.len() as f64 * group_w;
        for d in scale.decades() {
            let y = scale.y(d);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{plot_right:.1}" y2="{y:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT - 6.0,
                y + 4.0,
                xml_escape(&format_decade(d))
            );
        }
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{top:.1}" x2="{LEFT}" y2="{bottom:.1}" stroke="#333333"/><line x1="{LEFT}" y1="{bottom:.1}" x2="{plot_right:.1}" y2="{bottom:.1}" stroke="#333333"/>"##
        );
        for (gi, group) in panel.groups.iter().enumerate() {
            let gx = LEFT + gi as f64 * group_w + GROUP_GAP / 2.0;
            for (si, bar) in group.bars.iter().enumerate() {
                let Some(bar) = bar else { continue };
                let x = gx + si as f64 * BAR_W;
                let y = scale.y(bar.value);
                let series = chart.series.get(si).map(String::as_str).unwrap_or("?");
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} · {}: {} (min {}, max {})</title></rect>"#,
                    BAR_W - 2.0,
                    (bottom - y).max(0.0),
                    PALETTE[si % PALETTE.len()],
                    xml_escape(series),
                    xml_escape(&group.label),
                    xml_escape(&format_ns(bar.value)),
                    xml_escape(&format_ns(bar.min)),
                    xml_escape(&format_ns(bar.max)),
                );
                let cx = x + (BAR_W - 2.0) / 2.0;
                let (ymin, ymax) = (scale.y(bar.min), scale.y(bar.max));
                if (ymin - ymax).abs() > 0.5 {
                    let _ = writeln!(
                        s,
                        r##"<path d="M{cx:.1} {ymin:.1}V{ymax:.1}M{:.1} {ymin:.1}h6M{:.1} {ymax:.1}h6" stroke="#222222" fill="none"/>"##,
                        cx - 3.0,
                        cx - 3.0
                    );
                }
            }
            let lx = gx + n_series as f64 * BAR_W / 2.0;
            let ly = bottom + 14.0;
            let _ = writeln!(
                s,
                r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-30 {lx:.1} {ly:.1})">{}</text>"#,
                xml_escape(&group.label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn scale_spans_whole_decades() {
        let s = LogScale::for_values([3.0, 4500.0], 0.0, 300.0).unwrap();
        assert_eq!((s.lo, s.hi), (1.0, 10_000.0));
        assert_eq!(s.decades(), vec![1.0, 10.0, 100.0, 1000.0, 10_000.0]);
    }

    #[test]
    fn exact_powers_of_ten_stay_on_their_decade() {
        let s = LogScale::for_values([100.0, 1000.0], 0.0, 100.0).unwrap();
        assert_eq!((s.lo, s.hi), (100.0, 1000.0));
    }

    #[test]
    fn a_single_value_gets_one_decade() {
        let s = LogScale::for_values([5.0], 0.0, 100.0).unwrap();
        assert_eq!((s.lo, s.hi), (1.0, 10.0));
        let s = LogScale::for_values([10.0], 0.0, 100.0).unwrap();
        assert_eq!((s.lo, s.hi), (10.0, 100.0));
    }

    #[test]
    fn y_is_logarithmic_and_inverted() {
        let s = LogScale::for_values([1.0, 10_000.0], 50.0, 250.0).unwrap();
        assert!(close(s.y(1.0), 250.0));
        assert!(close(s.y(10_000.0), 50.0));
        assert!(close(s.y(100.0), 150.0));
        assert!(close(s.y(10.0), 200.0));
        // Out-of-range and non-positive values are clamped to the axis.
        assert!(close(s.y(0.01), 250.0));
        assert!(close(s.y(-5.0), 250.0));
        assert!(close(s.y(1e9), 50.0));
    }

    #[test]
    fn no_positive_values_means_no_scale() {
        assert_eq!(LogScale::for_values([0.0, -1.0, f64::NAN], 0.0, 1.0), None);
    }

    #[test]
    fn render_produces_svg_with_one_rect_per_bar() {
        let chart = Chart {
            title: "t <&>".into(),
            series: vec!["native".into(), "x".into()],
            panels: vec![Panel {
                title: "ops".into(),
                groups: vec![Group {
                    label: "getpid".into(),
                    bars: vec![
                        Some(Bar {
                            value: 90.0,
                            min: 80.0,
                            max: 100.0,
                        }),
                        None,
                    ],
                }],
            }],
        };
        let svg = render(&chart);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("t &lt;&amp;&gt;"));
        assert_eq!(svg.matches("<title>").count(), 1);
    }
}
