//! `/v1/topics` (scope `admin`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::Error;
use crate::http::auth::{Admin, Caller};
use crate::http::json::Json;
use crate::http::openapi::{problems, NotFound};
use crate::http::resource;
use crate::service::topics::{self, NewTopic, TopicPatch, TopicView};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/topics").route(web::get().to(list)).route(web::post().to(create))).service(
        resource("/topics/{key}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Include archived topics.
    #[serde(default)]
    pub include_archived: bool,
}

problems!(CreateProblems: (409, "The key exists"), (422, "Invalid values"));

/// Create a topic.
#[utoipa::path(post, path = "/v1/topics", tag = "topics", operation_id = "createTopic", request_body = NewTopic,
    security(("api_key" = ["admin"])),
    responses(
        (status = 201, body = TopicView),
        CreateProblems,
    ))]
pub async fn create(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    body: Json<NewTopic>,
) -> Result<HttpResponse, Error> {
    let topic = topics::create(&cx, body.0).await?;
    Ok(HttpResponse::Created().json(topic))
}

/// List topics in the operator's order.
#[utoipa::path(get, path = "/v1/topics", tag = "topics", operation_id = "listTopics", params(ListQuery),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = [TopicView])))]
pub async fn list(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(topics::list(&cx, query.include_archived).await?))
}

/// Read a topic.
#[utoipa::path(get, path = "/v1/topics/{key}", tag = "topics", operation_id = "getTopic",
    params(("key" = String, Path, description = "The topic's key", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = TopicView), NotFound))]
pub async fn get(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    key: web::Path<String>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(topics::get(&cx, key.into_inner()).await?))
}

/// Change some of a topic's settings.
#[utoipa::path(patch, path = "/v1/topics/{key}", tag = "topics", operation_id = "updateTopic", request_body = TopicPatch,
    params(("key" = String, Path, description = "The topic's key", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = TopicView), NotFound))]
pub async fn update(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    key: web::Path<String>,
    body: Json<TopicPatch>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(topics::update(&cx, key.into_inner(), body.0).await?))
}

/// Delete a topic; one that contacts have statuses on is archived instead.
#[utoipa::path(delete, path = "/v1/topics/{key}", tag = "topics", operation_id = "deleteTopic",
    params(("key" = String, Path, description = "The topic's key", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    security(("api_key" = ["admin"])),
    responses((status = 204, description = "Deleted or archived"), NotFound))]
pub async fn delete(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    key: web::Path<String>,
) -> Result<HttpResponse, Error> {
    topics::delete(&cx, key.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
