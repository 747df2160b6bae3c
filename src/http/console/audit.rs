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

async fn show(cx: web::Data<Context>, signed: Signed) -> HttpResponse {
    let result = async {
        let events = operators::audit(&cx, 500)
            .await?
            .into_iter()
            .map(|c| Line {
                time: time(c.occurred_at),
                operator: c.operator.clone().unwrap_or_default(),
                what: what(c.kind.as_str(), None, None, c.status, c.reason.as_deref(), None),
                email: c.email.clone().unwrap_or_default(),
                topic: c.topic.clone().unwrap_or_default(),
            })
            .collect();
        Ok(render(StatusCode::OK, &Audit { layout: signed.layout(signed.words().audit, "audit"), events }))
    }
    .await;
    signed.answer(result)
}
