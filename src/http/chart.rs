//! Charts as SVG strings, drawn on the server: data in, markup out, nothing run in the
//! browser. A daily stacked bar chart (several series) and a horizontal bar chart (one
//! bar per reason), each with `role="img"`, a `<title>` and a `<desc>`, axis labels
//! and a legend, and the same data as an HTML table to put behind it (for screen
//! readers, and for whoever wants the numbers).
//!
//! Colours come from CSS classes only (`chart-s0` … `chart-s7`, `chart-axis`, …; see
//! [`STYLESHEET`]): the pages' CSP allows no inline style, and the stylesheet gives
//! light and dark mode. Every text drawn is escaped.

use std::fmt::Write as _;

/// The charts' rules, served as `/static/chart.css`.
pub const STYLESHEET: &str = include_str!("../../static/chart.css");

/// How many series colours the stylesheet has; more series reuse them in turn.
pub const COLOURS: usize = 8;

const WIDTH: f64 = 720.0;
const PLOT_HEIGHT: f64 = 200.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
/// Below the plot: the day labels and the x axis's label.
const BELOW: f64 = 44.0;
const LEGEND_ROW: f64 = 20.0;
/// The most day labels drawn under the axis; the others are in each bar's tooltip.
const MOST_X_LABELS: usize = 10;

/// Escapes text for HTML and SVG, in content and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One series of a stacked chart: its name in the legend, a value per category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

/// What every chart says about itself, in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// Unique on the page: the ids of the title and description derive from it.
    pub id: String,
    pub title: String,
    /// A sentence on what is shown; the totals are added after it.
    pub description: String,
    /// Said instead of a chart when there is nothing to show.
    pub no_data: String,
    /// The table's header of the categories ("Day", "Reason").
    pub category_label: String,
    /// The axis of values ("Unsubscribes") and the table's header of totals ("Total").
    pub value_label: String,
    pub total_label: String,
}

/// Bars per category (a day), each stacked from its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackedBars {
    pub labels: Labels,
    /// The categories along the x axis, oldest first ("2026-11-03").
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

/// One bar per name, longest first as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HorizontalBars {
    pub labels: Labels,
    pub bars: Vec<(String, i64)>,
}

/// A round number at or above `max`, for the top of the axis: 1, 2 or 5 times a power
/// of ten (at least 1).
fn nice_ceiling(max: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if let Some(n) = step.checked_mul(m) {
                if n >= max {
                    return n;
                }
            } else {
                return max;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn number(n: f64) -> String {
    // Two decimals are below a pixel; trailing zeros say nothing.
    let text = format!("{n:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The opening tag with its accessible name and description, and the closing one.
fn frame(labels: &Labels, height: f64, summary: &str, body: &str) -> String {
    let id = escape(&labels.id);
    let mut description = labels.description.clone();
    if !summary.is_empty() {
        if !description.is_empty() {
            description.push(' ');
        }
        description.push_str(summary);
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {h}\" \
         aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{title}</title>\
         <desc id=\"{id}-desc\">{desc}</desc>{body}</svg>",
        w = number(WIDTH),
        h = number(height),
        title = escape(&labels.title),
        desc = escape(&description),
    )
}

fn no_data(labels: &Labels) -> String {
    let height = TOP + PLOT_HEIGHT / 2.0;
    let body = format!(
        "<rect class=\"chart-frame\" x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\"/>\
         <text class=\"chart-empty\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{text}</text>",
        w = number(WIDTH),
        h = number(height),
        x = number(WIDTH / 2.0),
        y = number(height / 2.0 + 5.0),
        text = escape(&labels.no_data),
    );
    frame(labels, height, &labels.no_data, &body)
}

/// "name 3, other 1": the totals a description ends with.
fn totals_sentence(named: impl Iterator<Item = (String, i64)>) -> String {
    named.map(|(name, total)| format!("{name}: {total}")).collect::<Vec<_>>().join(", ")
}

/// The legend: a swatch and a name per series, in rows under the chart.
fn legend(names: &[&str], top: f64) -> (String, f64) {
    let mut out = String::from("<g class=\"chart-legend\">");
    let (mut x, mut y) = (LEFT, top);
    for (i, name) in names.iter().enumerate() {
        // About 7 units a character at the legend's size.
        let width = 24.0 + 7.0 * name.chars().count() as f64;
        if x + width > WIDTH - RIGHT && x > LEFT {
            x = LEFT;
            y += LEGEND_ROW;
        }
        let _ = write!(
            out,
            "<rect class=\"chart-swatch chart-s{c}\" x=\"{x}\" y=\"{sy}\" width=\"12\" height=\"12\"/>\
             <text class=\"chart-label\" x=\"{tx}\" y=\"{ty}\">{name}</text>",
            c = i % COLOURS,
            x = number(x),
            sy = number(y),
            tx = number(x + 16.0),
            ty = number(y + 10.0),
            name = escape(name),
        );
        x += width + 12.0;
    }
    out.push_str("</g>");
    (out, y + LEGEND_ROW - top)
}

impl StackedBars {
    /// A chart of one of the dashboard's breakdowns, a bar per day (labelled
    /// `MM-DD`), a series per source or reason named by `name` (the reader's words for
    /// `one_click`, `hard_bounce`, …).
    pub fn of_breakdown(
        labels: Labels,
        dates: &[chrono::NaiveDate],
        breakdown: &crate::service::stats::Breakdown,
        name: impl Fn(&str) -> String,
    ) -> Self {
        Self {
            labels,
            categories: dates.iter().map(|d| d.format("%m-%d").to_string()).collect(),
            series: breakdown
                .series
                .iter()
                .map(|s| Series { name: name(&s.name), values: s.values.clone() })
                .collect(),
        }
    }

    /// Each category's total.
    pub fn totals(&self) -> Vec<i64> {
        (0..self.categories.len())
            .map(|i| self.series.iter().map(|s| s.values.get(i).copied().unwrap_or(0).max(0)).sum())
            .collect()
    }

    /// The chart as an SVG element.
    pub fn svg(&self) -> String {
        let totals = self.totals();
        let max = totals.iter().copied().max().unwrap_or(0);
        if max == 0 {
            return no_data(&self.labels);
        }
        let top_value = nice_ceiling(max);
        let scale = PLOT_HEIGHT / top_value as f64;
        let baseline = TOP + PLOT_HEIGHT;
        let plot_width = WIDTH - LEFT - RIGHT;
        let slot = plot_width / self.categories.len().max(1) as f64;
        let bar_width = (slot * 0.8).max(1.0);
        let mut body = String::new();
        // Grid lines and values at 0, ¼, ½, ¾ and the top.
        body.push_str("<g class=\"chart-grid\">");
        for quarter in 0..=4 {
            let value = top_value * quarter / 4;
            let y = baseline - value as f64 * scale;
            let _ = write!(
                body,
                "<line x1=\"{l}\" x2=\"{r}\" y1=\"{y}\" y2=\"{y}\"/>\
                 <text class=\"chart-label\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{value}</text>",
                l = number(LEFT),
                r = number(WIDTH - RIGHT),
                y = number(y),
                tx = number(LEFT - 6.0),
                ty = number(y + 4.0),
            );
        }
        body.push_str("</g><g class=\"chart-bars\">");
        for (i, category) in self.categories.iter().enumerate() {
            let x = LEFT + slot * i as f64 + (slot - bar_width) / 2.0;
            let mut y = baseline;
            for (s, series) in self.series.iter().enumerate() {
                let value = series.values.get(i).copied().unwrap_or(0);
                if value <= 0 {
                    continue;
                }
                let height = value as f64 * scale;
                y -= height;
                let _ = write!(
                    body,
                    "<rect class=\"chart-bar chart-s{c}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" \
                     data-value=\"{value}\"><title>{category}: {name} {value}</title></rect>",
                    c = s % COLOURS,
                    x = number(x),
                    y = number(y),
                    w = number(bar_width),
                    h = number(height),
                    category = escape(category),
                    name = escape(&series.name),
                );
            }
        }
        body.push_str("</g><g class=\"chart-axis\">");
        let _ = write!(
            body,
            "<line x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\"/><line x1=\"{l}\" x2=\"{l}\" y1=\"{t}\" y2=\"{b}\"/>",
            l = number(LEFT),
            r = number(WIDTH - RIGHT),
            b = number(baseline),
            t = number(TOP),
        );
        let every = self.categories.len().div_ceil(MOST_X_LABELS).max(1);
        for (i, category) in self.categories.iter().enumerate() {
            // The last category (today) is always labelled; the others at a step.
            // A stepped label too close to the last one is left out, so none overlap.
            let last = i + 1 == self.categories.len();
            let stepped = i % every == 0 && self.categories.len() - 1 - i > every / 2;
            if !(last || stepped) {
                continue;
            }
            let _ = write!(
                body,
                "<text class=\"chart-label\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{text}</text>",
                x = number(LEFT + slot * (i as f64 + 0.5)),
                y = number(baseline + 16.0),
                text = escape(category),
            );
        }
        let _ = write!(
            body,
            "<text class=\"chart-axis-label\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{x_label}</text>\
             <text class=\"chart-axis-label\" transform=\"translate(14 {ym}) rotate(-90)\" text-anchor=\"middle\">{y_label}</text></g>",
            x = number(LEFT + plot_width / 2.0),
            y = number(baseline + 36.0),
            ym = number(TOP + PLOT_HEIGHT / 2.0),
            x_label = escape(&self.labels.category_label),
            y_label = escape(&self.labels.value_label),
        );
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        let (legend, legend_height) = legend(&names, baseline + BELOW + 4.0);
        body.push_str(&legend);
        let summary =
            totals_sentence(std::iter::once((self.labels.total_label.clone(), totals.iter().sum())).chain(
                self.series.iter().map(|s| (s.name.clone(), s.values.iter().map(|v| (*v).max(0)).sum())),
            ));
        frame(&self.labels, baseline + BELOW + 4.0 + legend_height, &summary, &body)
    }

    /// The same data as a table: a row per category, a column per series and the total.
    pub fn table(&self) -> String {
        let mut out = format!(
            "<table class=\"chart-table\" id=\"{id}-table\"><caption>{caption}</caption><thead><tr><th scope=\"col\">{cat}</th>",
            id = escape(&self.labels.id),
            caption = escape(&self.labels.title),
            cat = escape(&self.labels.category_label),
        );
        for series in &self.series {
            let _ = write!(out, "<th scope=\"col\">{}</th>", escape(&series.name));
        }
        let _ =
            write!(out, "<th scope=\"col\">{}</th></tr></thead><tbody>", escape(&self.labels.total_label));
        for (i, (category, total)) in self.categories.iter().zip(self.totals()).enumerate() {
            let _ = write!(out, "<tr><th scope=\"row\">{}</th>", escape(category));
            for series in &self.series {
                let _ = write!(out, "<td>{}</td>", series.values.get(i).copied().unwrap_or(0));
            }
            let _ = write!(out, "<td>{total}</td></tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

impl HorizontalBars {
    const ROW: f64 = 28.0;

    /// A bar per count (a reason, a source), in the order given, named by `name`.
    pub fn of_counts(
        labels: Labels,
        counts: &[crate::service::stats::Count],
        name: impl Fn(&str) -> String,
    ) -> Self {
        Self { labels, bars: counts.iter().map(|c| (name(&c.name), c.count)).collect() }
    }

    /// A bar per series of a breakdown, its total over the period.
    pub fn of_totals(
        labels: Labels,
        breakdown: &crate::service::stats::Breakdown,
        name: impl Fn(&str) -> String,
    ) -> Self {
        Self { labels, bars: breakdown.series.iter().map(|s| (name(&s.name), s.total)).collect() }
    }
    const LABEL_WIDTH: f64 = 180.0;

    /// The chart as an SVG element.
    pub fn svg(&self) -> String {
        let max = self.bars.iter().map(|(_, v)| *v).max().unwrap_or(0);
        if max <= 0 {
            return no_data(&self.labels);
        }
        let top_value = nice_ceiling(max);
        let left = Self::LABEL_WIDTH;
        // Room at the right for the value written after the longest bar.
        let plot_width = WIDTH - left - RIGHT - 48.0;
        let scale = plot_width / top_value as f64;
        let mut body = String::from("<g class=\"chart-bars\">");
        for (i, (name, value)) in self.bars.iter().enumerate() {
            let y = TOP + Self::ROW * i as f64;
            let width = (*value).max(0) as f64 * scale;
            let _ = write!(
                body,
                "<text class=\"chart-label\" x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text>\
                 <rect class=\"chart-bar chart-s{c}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" data-value=\"{value}\">\
                 <title>{name}: {value}</title></rect>\
                 <text class=\"chart-value\" x=\"{vx}\" y=\"{ty}\">{value}</text>",
                lx = number(left - 8.0),
                ty = number(y + Self::ROW / 2.0 + 1.0),
                c = i % COLOURS,
                x = number(left),
                y = number(y + 4.0),
                w = number(width),
                h = number(Self::ROW - 10.0),
                vx = number(left + width + 6.0),
                name = escape(name),
            );
        }
        let bottom = TOP + Self::ROW * self.bars.len() as f64;
        let _ = write!(
            body,
            "</g><g class=\"chart-axis\"><line x1=\"{l}\" x2=\"{l}\" y1=\"{t}\" y2=\"{b}\"/><line x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\"/>\
             <text class=\"chart-label\" x=\"{l}\" y=\"{ly}\" text-anchor=\"middle\">0</text>\
             <text class=\"chart-label\" x=\"{r}\" y=\"{ly}\" text-anchor=\"middle\">{top_value}</text>\
             <text class=\"chart-axis-label\" x=\"{mx}\" y=\"{ay}\" text-anchor=\"middle\">{label}</text></g>",
            l = number(left),
            r = number(left + plot_width),
            t = number(TOP),
            b = number(bottom),
            ly = number(bottom + 16.0),
            mx = number(left + plot_width / 2.0),
            ay = number(bottom + 36.0),
            label = escape(&self.labels.value_label),
        );
        let summary = totals_sentence(self.bars.iter().cloned());
        frame(&self.labels, bottom + BELOW, &summary, &body)
    }

    /// The same data as a table: a row per bar.
    pub fn table(&self) -> String {
        let mut out = format!(
            "<table class=\"chart-table\" id=\"{id}-table\"><caption>{caption}</caption><thead><tr>\
             <th scope=\"col\">{cat}</th><th scope=\"col\">{value}</th></tr></thead><tbody>",
            id = escape(&self.labels.id),
            caption = escape(&self.labels.title),
            cat = escape(&self.labels.category_label),
            value = escape(&self.labels.value_label),
        );
        for (name, value) in &self.bars {
            let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>", escape(name));
        }
        out.push_str("</tbody></table>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(id: &str) -> Labels {
        Labels {
            id: id.into(),
            title: "Unsubscribes".into(),
            description: "Unsubscribes per day by source.".into(),
            no_data: "No data for these days.".into(),
            category_label: "Day".into(),
            value_label: "Unsubscribes".into(),
            total_label: "Total".into(),
        }
    }

    /// The values of `attribute` on every element with `class` among its classes.
    fn attributes(svg: &str, class: &str, attribute: &str) -> Vec<String> {
        svg.split('<')
            .filter(|tag| {
                tag.split_once("class=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .is_some_and(|(classes, _)| classes.split(' ').any(|c| c == class))
            })
            .filter_map(|tag| {
                let (_, rest) = tag.split_once(&format!(" {attribute}=\""))?;
                Some(rest.split_once('"')?.0.to_owned())
            })
            .collect()
    }

    fn chart() -> StackedBars {
        StackedBars {
            labels: labels("unsubscribes"),
            categories: vec!["11-01".into(), "11-02".into(), "11-03".into()],
            series: vec![
                Series { name: "one_click".into(), values: vec![4, 0, 2] },
                Series { name: "page".into(), values: vec![1, 0, 0] },
            ],
        }
    }

    #[test]
    fn a_stacked_chart_draws_a_rect_per_value_with_proportional_heights() {
        let svg = chart().svg();
        assert!(svg.starts_with("<svg") && svg.contains("role=\"img\""), "{svg}");
        assert!(svg.contains("<title id=\"unsubscribes-title\">Unsubscribes</title>"));
        assert!(svg.contains("<desc id=\"unsubscribes-desc\">Unsubscribes per day by source. Total: 7, one_click: 6, page: 1</desc>"), "{svg}");
        assert!(svg.contains("aria-labelledby=\"unsubscribes-title unsubscribes-desc\""));
        let heights: Vec<f64> =
            attributes(&svg, "chart-bar", "height").iter().map(|h| h.parse().unwrap()).collect();
        let values: Vec<i64> =
            attributes(&svg, "chart-bar", "data-value").iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(values, [4, 1, 2], "a rect per non-zero value, stacked in series order");
        // The axis tops at 5: 200 units for 5.
        for (h, v) in heights.iter().zip(&values) {
            assert!((h - *v as f64 * 40.0).abs() < 0.01, "{h} for {v}");
        }
        let swatches = attributes(&svg, "chart-swatch", "width");
        assert_eq!(swatches.len(), 2, "a legend entry per series");
        assert!(svg.contains(">one_click</text>") && svg.contains(">page</text>"));
        assert!(
            svg.contains(">Day</text>")
                && svg.contains("rotate(-90)\" text-anchor=\"middle\">Unsubscribes</text>")
        );
        assert!(!svg.contains("style="), "colours come from the stylesheet");
        // Stacked: the page's 1 sits on top of one_click's 4 on the first day.
        let ys: Vec<f64> = attributes(&svg, "chart-bar", "y").iter().map(|y| y.parse().unwrap()).collect();
        assert!(
            (ys[0] - (TOP + PLOT_HEIGHT - 160.0)).abs() < 0.01 && (ys[1] - (ys[0] - 40.0)).abs() < 0.01,
            "{ys:?}"
        );
    }

    #[test]
    fn the_table_behind_a_chart_holds_the_same_numbers() {
        let table = chart().table();
        assert!(table.contains("<caption>Unsubscribes</caption>"));
        assert!(table.contains(
            "<th scope=\"col\">one_click</th><th scope=\"col\">page</th><th scope=\"col\">Total</th>"
        ));
        assert!(
            table.contains("<tr><th scope=\"row\">11-01</th><td>4</td><td>1</td><td>5</td></tr>"),
            "{table}"
        );
        assert!(table.contains("<tr><th scope=\"row\">11-02</th><td>0</td><td>0</td><td>0</td></tr>"));
        assert_eq!(table.matches("<tr>").count(), 4);
    }

    #[test]
    fn nothing_to_show_says_so_honestly() {
        let mut empty = chart();
        empty.series.iter_mut().for_each(|s| s.values = vec![0, 0, 0]);
        for svg in [
            empty.svg(),
            StackedBars { series: vec![], ..chart() }.svg(),
            HorizontalBars { labels: labels("r"), bars: vec![] }.svg(),
        ] {
            assert!(
                svg.contains("class=\"chart-empty\"") && svg.contains("No data for these days."),
                "{svg}"
            );
            assert!(!svg.contains("chart-bar"), "no bar drawn: {svg}");
            assert!(svg.contains("role=\"img\"") && svg.contains("<desc"), "{svg}");
        }
    }

    #[test]
    fn horizontal_bars_are_as_long_as_their_values() {
        let chart = HorizontalBars {
            labels: labels("reasons"),
            bars: vec![("hard_bounce".into(), 10), ("complaint".into(), 5), ("manual".into(), 0)],
        };
        let svg = chart.svg();
        let widths: Vec<f64> =
            attributes(&svg, "chart-bar", "width").iter().map(|w| w.parse().unwrap()).collect();
        assert_eq!(widths.len(), 3, "{svg}");
        assert!((widths[0] - 2.0 * widths[1]).abs() < 0.01 && widths[2] == 0.0, "{widths:?}");
        assert!(svg.contains(">hard_bounce</text>") && svg.contains("class=\"chart-value\""));
        let table = chart.table();
        assert!(table.contains("<tr><th scope=\"row\">complaint</th><td>5</td></tr>"), "{table}");
    }

    #[test]
    fn every_text_is_escaped() {
        let hostile = "<script>alert(1)</script> & \"q\" 'a'";
        let mut chart = chart();
        chart.labels.title = hostile.into();
        chart.labels.description = hostile.into();
        chart.labels.id = "x\"onload=\"alert(1)".into();
        chart.categories[0] = hostile.into();
        chart.series[0].name = hostile.into();
        let bars = HorizontalBars { labels: chart.labels.clone(), bars: vec![(hostile.into(), 1)] };
        for out in [chart.svg(), chart.table(), bars.svg(), bars.table()] {
            assert!(!out.contains("<script") && !out.contains("\"q\"") && !out.contains("'a'"), "{out}");
            assert!(!out.contains("\"onload"), "{out}");
            assert!(
                out.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;a&#39;"),
                "{out}"
            );
        }
    }

    #[test]
    fn a_long_period_labels_a_few_days_and_today() {
        let categories: Vec<String> = (1..=90).map(|d| format!("d{d}")).collect();
        let chart = StackedBars {
            labels: labels("long"),
            series: vec![Series { name: "api".into(), values: vec![1; 90] }],
            categories,
        };
        let svg = chart.svg();
        let drawn = svg.matches("text-anchor=\"middle\">d").count();
        assert!((5..=MOST_X_LABELS + 1).contains(&drawn), "{drawn} day labels");
        assert!(svg.contains(">d90</text>"), "today is labelled");
        assert_eq!(attributes(&svg, "chart-bar", "height").len(), 90);
    }

    #[test]
    fn the_dashboard_s_data_makes_charts() {
        use crate::service::stats::{Breakdown, Count, Series as Line};
        let dates: Vec<chrono::NaiveDate> =
            (1..=2).map(|d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap()).collect();
        let breakdown = Breakdown {
            total: 3,
            daily: vec![1, 2],
            series: vec![Line { name: "one_click".into(), values: vec![1, 2], total: 3 }],
        };
        let chart = StackedBars::of_breakdown(labels("u"), &dates, &breakdown, |n| n.replace('_', "-"));
        assert_eq!(chart.categories, ["11-01", "11-02"]);
        assert_eq!(chart.series, [Series { name: "one-click".into(), values: vec![1, 2] }]);
        let bars = HorizontalBars::of_totals(labels("t"), &breakdown, str::to_owned);
        assert_eq!(bars.bars, [("one_click".to_owned(), 3)]);
        let counts = [Count { name: "manual".into(), count: 4 }];
        assert_eq!(
            HorizontalBars::of_counts(labels("c"), &counts, str::to_uppercase).bars,
            [("MANUAL".to_owned(), 4)]
        );
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!([1, 2, 3, 7, 10, 11, 499, 501].map(nice_ceiling), [1, 2, 5, 10, 10, 20, 500, 1000]);
        assert_eq!(nice_ceiling(0), 1);
    }
}
