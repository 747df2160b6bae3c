//! The baseline: a bare actix-web JSON route, with the same workers and the same
//! request bodies as prefcenter's routes, answering JSON of the same shape and size
//! (a decision with a link as long as prefcenter's, a preference document copied
//! from prefcenter's), doing no work of its own.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize)]
struct One {
    email: String,
    topic: String,
}

#[derive(Deserialize)]
struct Many {
    topic: String,
    emails: Vec<String>,
}

/// What the bare routes answer with besides what they are sent.
pub struct Answers {
    /// A `List-Unsubscribe` value as long as prefcenter's.
    pub link: String,
    /// A preference document as prefcenter answers one.
    pub preferences: Value,
}

/// A decision as prefcenter answers one, serialized the same way (derived, typed).
#[derive(Serialize)]
struct Decision<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    allowed: bool,
    reason: &'static str,
    headers: Headers<'a>,
}

#[derive(Serialize)]
struct Headers<'a> {
    #[serde(rename = "List-Unsubscribe")]
    list_unsubscribe: &'a str,
    #[serde(rename = "List-Unsubscribe-Post")]
    list_unsubscribe_post: &'static str,
}

#[derive(Serialize)]
struct Results<'a> {
    results: Vec<Decision<'a>>,
}

fn decision<'a>(email: &'a str, topic: Option<&'a str>, link: &'a str) -> Decision<'a> {
    Decision {
        email,
        topic,
        allowed: true,
        reason: "default_subscribed",
        headers: Headers { list_unsubscribe: link, list_unsubscribe_post: "List-Unsubscribe=One-Click" },
    }
}

async fn one(answers: web::Data<Answers>, body: web::Json<One>) -> HttpResponse {
    HttpResponse::Ok().json(decision(&body.email, Some(&body.topic), &answers.link))
}

async fn many(answers: web::Data<Answers>, body: web::Json<Many>) -> HttpResponse {
    let _ = &body.topic;
    let results = body.emails.iter().map(|e| decision(e, None, &answers.link)).collect();
    HttpResponse::Ok().json(Results { results })
}

async fn preferences(answers: web::Data<Answers>) -> HttpResponse {
    HttpResponse::Ok().json(&answers.preferences)
}

/// Serves until killed.
pub fn serve(bind: &str, answers: Answers) -> std::io::Result<()> {
    let answers = web::Data::new(answers);
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(answers.clone())
                .app_data(web::JsonConfig::default().limit(8 * 1024 * 1024))
                .route("/check", web::post().to(one))
                .route("/check/batch", web::post().to(many))
                .route("/preferences", web::get().to(preferences))
                .route("/readyz", web::get().to(HttpResponse::Ok))
        })
        .bind(bind)?
        .run(),
    )
}
