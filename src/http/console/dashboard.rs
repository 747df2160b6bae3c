//! `/console/`: the dashboard — the current totals, and the way to each section.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{render, Layout, Signed};
use crate::service::totals::{self, Totals};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("").route(web::get().to(show)))
        .service(crate::http::resource("/").route(web::get().to(show)));
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct Dashboard {
    layout: Layout,
    totals: Totals,
}

async fn show(cx: web::Data<Context>, signed: Signed) -> HttpResponse {
    let result = async {
        let totals = totals::now(&cx).await?;
        Ok(render(
            StatusCode::OK,
            &Dashboard { layout: signed.layout(signed.words().dashboard, "dashboard"), totals },
        ))
    }
    .await;
    signed.answer(result)
}
