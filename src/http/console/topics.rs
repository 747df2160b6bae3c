//! `/console/topics`: the topics in their order; editors create and edit them (names,
//! descriptions, the French translation, frequency, category, default, public), move
//! them up and down, archive and restore them — through `service::topics`, as the API.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, Form, Layout, Signed};
use crate::domain::{Category, Locale, Role, TopicKey};
use crate::error::Error;
use crate::service::topics::{self, NewTopic, TopicPatch, TopicView, Translation};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("/topics").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            crate::http::resource("/topics/{key}").route(web::get().to(edit)).route(web::post().to(update)),
        )
        .service(crate::http::resource("/topics/{key}/move").route(web::post().to(move_topic)))
        .service(crate::http::resource("/topics/{key}/archive").route(web::post().to(archive)));
}

/// The values of the topic form.
#[derive(Default)]
struct Fields {
    name: String,
    description: String,
    frequency: String,
    category: &'static str,
    default_subscribed: bool,
    public: bool,
    fr_name: String,
    fr_description: String,
    fr_frequency: String,
}

impl From<&TopicView> for Fields {
    fn from(t: &TopicView) -> Self {
        let fr = t.translations.get("fr");
        Fields {
            name: t.name.clone(),
            description: t.description.clone(),
            frequency: t.frequency.clone().unwrap_or_default(),
            category: t.category.as_str(),
            default_subscribed: t.default_subscribed,
            public: t.public,
            fr_name: fr.map(|f| f.name.clone()).unwrap_or_default(),
            fr_description: fr.map(|f| f.description.clone()).unwrap_or_default(),
            fr_frequency: fr.and_then(|f| f.frequency.clone()).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/topics.html")]
struct Topics {
    layout: Layout,
    topics: Vec<TopicView>,
    can_edit: bool,
    csrf: String,
    message: Option<&'static str>,
    /// The empty form for a new topic.
    form: Fields,
    editing: Option<String>,
}

#[derive(Template)]
#[template(path = "console/topic.html")]
struct Edit {
    layout: Layout,
    key: String,
    csrf: String,
    form: Fields,
    editing: Option<String>,
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn list(cx: web::Data<Context>, signed: Signed, query: web::Query<Saved>) -> HttpResponse {
    let result = async {
        let topics = topics::list(&cx, true).await?;
        let page = Topics {
            layout: signed.layout(signed.words().topics, "topics"),
            topics,
            can_edit: signed.role() >= Role::Editor,
            csrf: signed.session.csrf.clone(),
            message: query.saved.is_some().then_some(signed.words().saved),
            form: Fields { category: "promotional", public: true, ..Fields::default() },
            editing: None,
        };
        Ok(render(StatusCode::OK, &page))
    }
    .await;
    signed.answer(result)
}

/// The French translation the form names, if any.
fn french(form: &Form) -> Result<Option<BTreeMap<Locale, Translation>>, Error> {
    let Some(name) = form.get("fr_name") else { return Ok(None) };
    let fr = Locale::parse("fr").map_err(|e| Error::bug(e.to_string()))?;
    let translation = Translation {
        name: name.to_owned(),
        description: form.get("fr_description").unwrap_or_default().to_owned(),
        frequency: form.get("fr_frequency").map(str::to_owned),
    };
    Ok(Some(BTreeMap::from([(fr, translation)])))
}

fn category(form: &Form) -> Result<Category, Error> {
    form.get("category")
        .unwrap_or("promotional")
        .parse()
        .map_err(|_| Error::invalid("category", "promotional or transactional"))
}

async fn create(cx: web::Data<Context>, signed: Signed, body: web::Bytes) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let key = TopicKey::parse(form.required("key")?).map_err(|e| Error::invalid("key", e))?;
            let topic = NewTopic {
                key,
                name: form.required("name")?.to_owned(),
                description: form.get("description").unwrap_or_default().to_owned(),
                frequency: form.get("frequency").map(str::to_owned),
                category: category(&form)?,
                default_subscribed: form.checked("default_subscribed"),
                public: form.checked("public"),
                position: None,
                translations: french(&form)?.unwrap_or_default(),
            };
            topics::create(&cx, topic).await?;
            Ok(see_other("/console/topics?saved=1"))
        })
        .await
}

async fn edit(cx: web::Data<Context>, signed: Signed, key: web::Path<String>) -> HttpResponse {
    let result = async {
        signed.require(Role::Editor)?;
        let topic = topics::get(&cx, key.into_inner()).await?;
        let page = Edit {
            layout: signed.layout(format!("{} {}", signed.words().edit, topic.key), "topics"),
            form: Fields::from(&topic),
            editing: Some(topic.key.clone()),
            key: topic.key,
            csrf: signed.session.csrf.clone(),
        };
        Ok(render(StatusCode::OK, &page))
    }
    .await;
    signed.answer(result)
}

async fn update(
    cx: web::Data<Context>,
    signed: Signed,
    key: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let key = key.into_inner();
            // The form edits the French translation; the others are kept as they are.
            let mut translations: BTreeMap<Locale, Translation> = topics::get(&cx, key.clone())
                .await?
                .translations
                .into_iter()
                .filter(|(locale, _)| locale != "fr")
                .filter_map(|(locale, t)| Some((Locale::parse(&locale).ok()?, t)))
                .collect();
            translations.extend(french(&form)?.unwrap_or_default());
            let patch = TopicPatch {
                name: Some(form.required("name")?.to_owned()),
                description: Some(form.get("description").unwrap_or_default().to_owned()),
                frequency: Some(form.get("frequency").map(str::to_owned)),
                category: Some(category(&form)?),
                default_subscribed: Some(form.checked("default_subscribed")),
                public: Some(form.checked("public")),
                translations: Some(translations),
                ..TopicPatch::default()
            };
            topics::update(&cx, key, patch).await?;
            Ok(see_other("/console/topics?saved=1"))
        })
        .await
}

/// Swaps a topic's place with the one above or below it.
async fn move_topic(
    cx: web::Data<Context>,
    signed: Signed,
    key: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let up = match form.required("to")? {
                "up" => true,
                "down" => false,
                _ => return Err(Error::invalid("to", "up or down")),
            };
            let all = topics::list(&cx, true).await?;
            let at = all.iter().position(|t| t.key == *key).ok_or_else(|| topics::unknown(&key))?;
            let other = if up { at.checked_sub(1) } else { Some(at + 1).filter(|i| *i < all.len()) };
            if let Some(other) = other {
                let (this, that) = (&all[at], &all[other]);
                // Positions may be equal (ties listed by key): the moved one then takes a
                // place just past its neighbour.
                let (mine, theirs) = if this.position == that.position {
                    (if up { that.position - 1 } else { that.position + 1 }, that.position)
                } else {
                    (that.position, this.position)
                };
                let place = |position| TopicPatch { position: Some(position), ..TopicPatch::default() };
                topics::update(&cx, that.key.clone(), place(theirs)).await?;
                topics::update(&cx, this.key.clone(), place(mine)).await?;
            }
            Ok(see_other("/console/topics"))
        })
        .await
}

async fn archive(
    cx: web::Data<Context>,
    signed: Signed,
    key: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let archived = form.get("archived") == Some("yes");
            let patch = TopicPatch { archived: Some(archived), ..TopicPatch::default() };
            topics::update(&cx, key.into_inner(), patch).await?;
            Ok(see_other("/console/topics?saved=1"))
        })
        .await
}
