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

/// The two lists, each newest first, merged by time into one of at most [`SHOWN`]. Each
/// list keeps its own order: the ledger's is its sequence, which an event's time may
/// not follow (events are numbered at their commit, timed at their write).
fn newest_first(a: impl Iterator<Item = Line>, b: impl Iterator<Item = Line>) -> Vec<Line> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut lines = Vec::new();
    while lines.len() < SHOWN {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.at >= y.at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        lines.extend(if take_a { a.next() } else { b.next() });
    }
    lines
}

/// How many changes the page lists.
const SHOWN: usize = 500;

async fn show(cx: web::Data<Context>, signed: Signed) -> HttpResponse {
    let result = async {
        let w = signed.words();
        let (events, settings) = operators::audit(&cx, SHOWN as i64).await?;
        let ledger = events.into_iter().map(|c| Line {
            at: c.occurred_at,
            time: time(c.occurred_at),
            operator: c.operator.clone().unwrap_or_default(),
            what: what(w, c.kind.as_str(), None, (None, c.status), c.reason.as_deref(), c.detail.as_deref()),
            email: c.email.clone().unwrap_or_default(),
            topic: c.topic.clone().unwrap_or_default(),
        });
        let settings = settings.into_iter().map(|c| {
            let at = crate::service::utc(c.occurred_at);
            Line {
                at,
                time: time(at),
                operator: c.operator.unwrap_or_default(),
                what: what(w, &c.kind, None, (None, None), None, Some(&c.detail)),
                email: String::new(),
                topic: String::new(),
            }
        });
        let lines = newest_first(ledger, settings);
        Ok(render(StatusCode::OK, &Audit { layout: signed.layout(w.audit, "audit"), events: lines }))
    }
    .await;
    signed.answer(result)
}
