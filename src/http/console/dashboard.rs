//! `/console/`: the dashboard — pictures of the last 30 or 90 days drawn on the server
//! as SVG (`http::chart`, from the daily rollup `service::stats` keeps), each with the
//! same numbers as a table behind it; the totals now; and the health an operator needs.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, Layout, Signed};
use crate::http::chart::{self, HorizontalBars, Labels, StackedBars};
use crate::i18n::console::ConsoleWords;
use crate::service::stats::{self, Health, Stats, TopicActivity};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("").route(web::get().to(show)))
        .service(crate::http::resource("/").route(web::get().to(show)));
}

/// A chart and the table of its numbers.
struct Chart {
    svg: String,
    table: String,
}

/// A topic's two charts and its statuses now.
struct TopicCharts {
    name: String,
    subscribes: Chart,
    unsubscribes: Chart,
}

struct TopicRow {
    key: String,
    name: String,
    subscribed: u64,
    unsubscribed: u64,
    pending: u64,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct Dashboard {
    layout: Layout,
    days: u32,
    contacts: i64,
    suppressed: u64,
    topics: Vec<TopicRow>,
    overall: Vec<(String, Chart)>,
    per_topic: Vec<TopicCharts>,
    health: Health,
    /// Write latency, as read: "p50 ≤ 2 ms, p95 ≤ 10 ms".
    latency: String,
}

#[derive(Deserialize)]
struct Query {
    days: Option<u32>,
}

fn labels(w: &ConsoleWords, id: &str, title: String) -> Labels {
    Labels {
        id: id.to_owned(),
        description: String::new(),
        title,
        no_data: w.no_data.into(),
        category_label: w.day.into(),
        value_label: w.count.into(),
        total_label: w.total.into(),
    }
}

fn stacked(chart: StackedBars) -> Chart {
    Chart { svg: chart.svg(), table: chart.table() }
}

fn bars(chart: HorizontalBars) -> Chart {
    Chart { svg: chart.svg(), table: chart.table() }
}

/// A source's or reason's name in the operator's words.
fn named(w: &'static ConsoleWords) -> impl Fn(&str) -> String {
    move |name| w.term(name).into_owned()
}

fn topic_charts(w: &'static ConsoleWords, stats: &Stats, i: usize, t: &TopicActivity) -> TopicCharts {
    let name = t.name.clone().unwrap_or_else(|| w.all_promotional.to_owned());
    let title = |what: &str| format!("{what} — {name}");
    TopicCharts {
        subscribes: stacked(StackedBars::of_breakdown(
            labels(w, &format!("topic-{i}-subscribes"), title(w.subscribes_by_source)),
            &stats.dates,
            &t.subscribes,
            named(w),
        )),
        unsubscribes: stacked(StackedBars::of_breakdown(
            labels(w, &format!("topic-{i}-unsubscribes"), title(w.unsubscribes_by_source)),
            &stats.dates,
            &t.unsubscribes,
            named(w),
        )),
        name,
    }
}

fn seconds(s: Option<f64>) -> String {
    s.map_or_else(|| "—".to_owned(), |s| format!("{:.1} ms", s * 1000.0))
}

async fn show(cx: web::Data<Context>, signed: Signed, query: web::Query<Query>) -> HttpResponse {
    let result = async {
        let days = if query.days == Some(90) { 90 } else { 30 };
        let stats = stats::for_days(&cx, days).await?;
        let w = signed.words();
        let complaints = StackedBars {
            labels: labels(w, "complaints", w.complaints.into()),
            categories: stats.dates.iter().map(|d| d.format("%m-%d").to_string()).collect(),
            series: vec![chart::Series {
                name: w.term("complaint").into_owned(),
                values: stats.complaints.values.clone(),
            }],
        };
        let overall = vec![
            (
                w.unsubscribes_by_source.to_owned(),
                stacked(StackedBars::of_breakdown(
                    labels(w, "unsubscribes", w.unsubscribes_by_source.into()),
                    &stats.dates,
                    &stats.unsubscribes,
                    named(w),
                )),
            ),
            (
                w.subscribes_by_source.to_owned(),
                stacked(StackedBars::of_breakdown(
                    labels(w, "subscribes", w.subscribes_by_source.into()),
                    &stats.dates,
                    &stats.subscribes,
                    named(w),
                )),
            ),
            (
                w.suppressions_by_reason.to_owned(),
                stacked(StackedBars::of_breakdown(
                    labels(w, "suppressions", w.suppressions_by_reason.into()),
                    &stats.dates,
                    &stats.suppressions,
                    named(w),
                )),
            ),
            (
                w.bounces.to_owned(),
                stacked(StackedBars::of_breakdown(
                    labels(w, "bounces", w.bounces.into()),
                    &stats.dates,
                    &stats.bounces,
                    named(w),
                )),
            ),
            (w.complaints.to_owned(), stacked(complaints)),
            (
                w.reasons.to_owned(),
                bars(HorizontalBars::of_totals(
                    labels(w, "reasons", w.reasons.into()),
                    &stats.unsubscribe_reasons,
                    named(w),
                )),
            ),
            (
                w.active_suppressions.to_owned(),
                bars(HorizontalBars::of_counts(
                    labels(w, "active-suppressions", w.active_suppressions.into()),
                    &stats.totals.suppressions,
                    named(w),
                )),
            ),
        ];
        let per_topic = stats.topics.iter().enumerate().map(|(i, t)| topic_charts(w, &stats, i, t)).collect();
        let topics = stats
            .topics
            .iter()
            .filter_map(|t| {
                Some(TopicRow {
                    key: t.topic.clone()?,
                    name: t.name.clone().unwrap_or_default(),
                    subscribed: t.subscribed,
                    unsubscribed: t.unsubscribed,
                    pending: t.pending,
                })
            })
            .collect();
        let writes = &stats.health.writes;
        let latency = format!(
            "p50 ≤ {}, p95 ≤ {}, p99 ≤ {} ({} commits)",
            seconds(writes.p50_seconds_at_most),
            seconds(writes.p95_seconds_at_most),
            seconds(writes.p99_seconds_at_most),
            writes.commits
        );
        let page = Dashboard {
            layout: signed.layout(w.dashboard, "dashboard"),
            days,
            contacts: stats.totals.contacts,
            suppressed: stats.totals.suppressed,
            topics,
            overall,
            per_topic,
            latency,
            health: stats.health,
        };
        Ok(render(StatusCode::OK, &page))
    }
    .await;
    signed.answer(result)
}
