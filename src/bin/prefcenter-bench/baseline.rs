//! The baseline: a bare actix-web JSON route, with the same workers and the same
//! request bodies as prefcenter's check routes, doing no work of its own.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct One {
    email: String,
    #[allow(dead_code)]
    topic: String,
}

#[derive(Deserialize)]
struct Many {
    #[allow(dead_code)]
    topic: String,
    emails: Vec<String>,
}

async fn one(body: web::Json<One>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"email": body.email, "allowed": true, "reason": "bare", "headers": {}}))
}

async fn many(body: web::Json<Many>) -> HttpResponse {
    let results: Vec<_> = body
        .emails
        .iter()
        .map(|e| json!({"email": e, "allowed": true, "reason": "bare", "headers": {}}))
        .collect();
    HttpResponse::Ok().json(json!({"results": results}))
}

/// Serves until killed.
pub fn serve(bind: &str) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| {
            App::new()
                .app_data(web::JsonConfig::default().limit(8 * 1024 * 1024))
                .route("/check", web::post().to(one))
                .route("/check/batch", web::post().to(many))
                .route("/readyz", web::get().to(HttpResponse::Ok))
        })
        .bind(bind)?
        .run(),
    )
}
