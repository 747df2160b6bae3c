//! `/console/audit`: every change made in the console, newest first, with the
//! operator who made it (the ledger's events that name one).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::contacts::{time, what};
use super::{render, Layout, Signed};
use crate::service::{operators, Context};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("/audit").route(web::get().to(show)));
}

struct Line {
    at: chrono::DateTime<chrono::Utc>,
    time: String,
    operator: String,
    what: String,
    email: String,
    topic: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct Audit {
    layout: Layout,
    events: Vec<Line>,
}

/// How many changes the page lists.
const SHOWN: usize = 500;

async fn show(cx: web::Data<Context>, signed: Signed) -> HttpResponse {
    let result = async {
        let w = signed.words();
        let (events, settings) = operators::audit(&cx, SHOWN as i64).await?;
        let mut lines: Vec<Line> = events
            .into_iter()
            .map(|c| Line {
                at: c.occurred_at,
                time: time(c.occurred_at),
                operator: c.operator.clone().unwrap_or_default(),
                what: what(
                    w,
                    c.kind.as_str(),
                    None,
                    (None, c.status),
                    c.reason.as_deref(),
                    c.detail.as_deref(),
                ),
                email: c.email.clone().unwrap_or_default(),
                topic: c.topic.clone().unwrap_or_default(),
            })
            .chain(settings.into_iter().map(|c| {
                let at = crate::service::utc(c.occurred_at);
                Line {
                    at,
                    time: time(at),
                    operator: c.operator.unwrap_or_default(),
                    what: what(w, &c.kind, None, (None, None), None, Some(&c.detail)),
                    email: String::new(),
                    topic: String::new(),
                }
            }))
            .collect();
        // Newest first; a stable sort keeps each list's own order within a second.
        lines.sort_by_key(|line| std::cmp::Reverse(line.at));
        lines.truncate(SHOWN);
        Ok(render(StatusCode::OK, &Audit { layout: signed.layout(w.audit, "audit"), events: lines }))
    }
    .await;
    signed.answer(result)
}
