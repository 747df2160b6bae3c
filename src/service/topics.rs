//! Topics: the kinds of mail a contact can get, in the operator's order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::utc;
use crate::domain::{text, Category, EventType, Locale, Source, TopicKey};
use crate::error::{ConflictCode, Error};
use crate::service::Context;
use crate::store::events::EventRow;
use crate::store::topics::{TopicRow, TranslationRow};
use crate::store::{self, Db, Tx};

/// A topic's name and description in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    #[serde(deserialize_with = "text::line")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    #[serde(default, deserialize_with = "text::paragraph")]
    #[schema(max_length = 2000)]
    pub description: String,
    /// How often the topic is sent, in this language ("chaque semaine").
    #[serde(default, deserialize_with = "text::optional_line", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 40, pattern = "\\S")]
    pub frequency: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    #[schema(example = "newsletter")]
    pub key: TopicKey,
    #[serde(deserialize_with = "text::line")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S", example = "Newsletter")]
    pub name: String,
    #[serde(default, deserialize_with = "text::paragraph")]
    #[schema(max_length = 2000, example = "Monthly news")]
    pub description: String,
    /// How often it is sent, as recipients read it next to the topic ("weekly").
    #[serde(default, deserialize_with = "text::optional_line")]
    #[schema(min_length = 1, max_length = 40, pattern = "\\S", example = "monthly")]
    pub frequency: Option<String>,
    pub category: Category,
    /// `true`: an opt-out topic, sent to everyone who has not unsubscribed.
    /// `false` (the default): an opt-in topic, sent only to subscribers.
    #[serde(default)]
    pub default_subscribed: bool,
    /// Shown on the preference page.
    #[serde(default = "yes")]
    pub public: bool,
    /// Where it is listed; after the existing topics when absent.
    #[serde(default, deserialize_with = "whole_number")]
    pub position: Option<i32>,
    #[serde(default)]
    #[schema(schema_with = translations)]
    pub translations: BTreeMap<Locale, Translation>,
}

/// The schema of a translations map: keyed by locale, so a generated request cannot
/// name a key the server refuses.
fn translations_schema(nullable: bool) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    use utoipa::openapi::{Ref, RefOr};
    let kind = if nullable {
        SchemaType::from_iter([Type::Object, Type::Null])
    } else {
        SchemaType::new(Type::Object)
    };
    let mut map = ObjectBuilder::new()
        .schema_type(kind)
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::Ref(Ref::from_schema_name(
            "Translation",
        )))))
        .build();
    map.property_names = Some(Box::new(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(crate::domain::locale::LOCALE_PATTERN))
            .max_length(Some(35))
            .into(),
    ));
    map
}

fn translations() -> utoipa::openapi::Object {
    translations_schema(false)
}

fn translations_or_null() -> utoipa::openapi::Object {
    translations_schema(true)
}

/// An optional 32-bit integer, also written as a number with no fraction (`3.0`): JSON
/// Schema's `integer`, which generated clients and fuzzers may send either way.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    let whole = number
        .as_i64()
        .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64));
    whole.and_then(|n| i32::try_from(n).ok()).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("expected a whole number between {} and {}", i32::MIN, i32::MAX))
    })
}

fn yes() -> bool {
    true
}

/// A partial change: fields left out keep their values. `translations`, when given,
/// replaces them all. `archived: false` restores an archived topic.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicPatch {
    #[serde(default, deserialize_with = "text::optional_line")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text::optional_paragraph")]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "text::present_line")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 40, pattern = "\\S")]
    pub frequency: Option<Option<String>>,
    pub category: Option<Category>,
    pub default_subscribed: Option<bool>,
    pub public: Option<bool>,
    #[serde(default, deserialize_with = "whole_number")]
    pub position: Option<i32>,
    #[schema(schema_with = translations_or_null)]
    pub translations: Option<BTreeMap<Locale, Translation>>,
    pub archived: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicView {
    pub key: String,
    pub name: String,
    pub description: String,
    /// How often it is sent ("weekly"); `null` when unsaid.
    pub frequency: Option<String>,
    pub category: Category,
    pub default_subscribed: bool,
    pub public: bool,
    pub position: i32,
    #[schema(value_type = BTreeMap<String, Translation>)]
    pub translations: BTreeMap<String, Translation>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the topic was deleted while contacts had statuses on it.
    pub archived_at: Option<DateTime<Utc>>,
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), Error> {
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// The most characters a frequency may have: a few words next to a topic's name.
const FREQUENCY_CHARS: usize = 40;

fn check_frequency(field: &str, frequency: Option<&String>) -> Result<(), Error> {
    match frequency {
        Some(f) => check_text(field, f, FREQUENCY_CHARS, true),
        None => Ok(()),
    }
}

fn check_translations(translations: &BTreeMap<Locale, Translation>) -> Result<(), Error> {
    for (locale, t) in translations {
        check_text(&format!("translations.{locale}.name"), &t.name, 200, true)?;
        check_text(&format!("translations.{locale}.description"), &t.description, 2000, false)?;
        check_frequency(&format!("translations.{locale}.frequency"), t.frequency.as_ref())?;
    }
    Ok(())
}

/// A stored frequency ('' when unsaid) as the API shows it.
fn shown(frequency: String) -> Option<String> {
    Some(frequency).filter(|f| !f.is_empty())
}

fn translation_rows(key: &str, translations: &BTreeMap<Locale, Translation>) -> Vec<TranslationRow> {
    translations
        .iter()
        .map(|(locale, t)| TranslationRow {
            topic_key: key.to_owned(),
            locale: locale.to_string(),
            name: t.name.trim().to_owned(),
            description: t.description.trim().to_owned(),
            frequency: t.frequency.as_deref().map_or_else(String::new, |f| f.trim().to_owned()),
        })
        .collect()
}

fn view(row: TopicRow, translations: Vec<TranslationRow>) -> Result<TopicView, Error> {
    Ok(TopicView {
        category: row.category,
        translations: translations
            .into_iter()
            .map(|t| {
                let translation =
                    Translation { name: t.name, description: t.description, frequency: shown(t.frequency) };
                (t.locale, translation)
            })
            .collect(),
        key: row.key,
        name: row.name,
        description: row.description,
        frequency: shown(row.frequency),
        default_subscribed: row.default_subscribed,
        public: row.public,
        position: row.position,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        archived_at: row.archived_at.map(utc),
    })
}

fn load_view(db: &mut Db, key: &str) -> Result<TopicView, Error> {
    let row = store::topics::find(db, key)?.ok_or_else(|| unknown(key))?;
    let translations = store::topics::translations(db, std::slice::from_ref(&row.key))?;
    view(row, translations)
}

pub(crate) fn unknown(key: &str) -> Error {
    Error::not_found(format!("there is no topic {key:?}"))
}

/// Records a change of a topic's settings, which decisions depend on.
fn record(db: &mut Tx, key: &str, what: &str) -> Result<(), Error> {
    store::events::append(
        db,
        EventRow {
            topic_key: Some(key.to_owned()),
            detail: Some(what.to_owned()),
            ..EventRow::new(EventType::TopicChanged, store::now(), Source::Admin.as_str())
        },
    )?;
    Ok(())
}

pub async fn create(cx: &Context, input: NewTopic) -> Result<TopicView, Error> {
    check_text("name", &input.name, 200, true)?;
    check_text("description", &input.description, 2000, false)?;
    check_frequency("frequency", input.frequency.as_ref())?;
    check_translations(&input.translations)?;
    super::write(cx, move |db| {
        store::locks::topics(db)?;
            let key = input.key.as_str();
            if let Some(existing) = store::topics::find(db, key)? {
                let detail = match existing.archived_at {
                    Some(_) => format!("the topic {key:?} exists and is archived; PATCH it with {{\"archived\": false}} to restore it"),
                    None => format!("the topic {key:?} already exists"),
                };
                return Err(Error::Conflict { code: ConflictCode::TopicExists, detail });
            }
            let now = store::now();
            let position = match input.position {
                Some(p) => p,
                None => store::topics::next_position(db)?,
            };
            store::topics::insert(
                db,
                &TopicRow {
                    key: key.to_owned(),
                    name: input.name.trim().to_owned(),
                    description: input.description.trim().to_owned(),
                    category: input.category,
                    default_subscribed: input.default_subscribed,
                    public: input.public,
                    position,
                    created_at: now,
                    updated_at: now,
                    archived_at: None,
                    frequency: input.frequency.as_deref().map_or_else(String::new, |f| f.trim().to_owned()),
                },
            )?;
            store::topics::replace_translations(db, key, &translation_rows(key, &input.translations))?;
            record(db, key, "created")?;
            load_view(db, key)
    })
    .await
}

pub async fn list(cx: &Context, include_archived: bool) -> Result<Vec<TopicView>, Error> {
    store::run(&cx.pool, move |db| {
        let rows = store::topics::list(db, include_archived)?;
        let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        let mut translations: BTreeMap<String, Vec<TranslationRow>> = BTreeMap::new();
        for t in store::topics::translations(db, &keys)? {
            translations.entry(t.topic_key.clone()).or_default().push(t);
        }
        rows.into_iter()
            .map(|row| {
                let own = translations.remove(&row.key).unwrap_or_default();
                view(row, own)
            })
            .collect()
    })
    .await
}

pub async fn get(cx: &Context, key: String) -> Result<TopicView, Error> {
    store::run(&cx.pool, move |db| load_view(db, &key)).await
}

pub async fn update(cx: &Context, key: String, patch: TopicPatch) -> Result<TopicView, Error> {
    if let Some(name) = &patch.name {
        check_text("name", name, 200, true)?;
    }
    if let Some(description) = &patch.description {
        check_text("description", description, 2000, false)?;
    }
    if let Some(frequency) = &patch.frequency {
        check_frequency("frequency", frequency.as_ref())?;
    }
    if let Some(translations) = &patch.translations {
        check_translations(translations)?;
    }
    super::write(cx, move |db| {
        store::locks::topics(db)?;
        let mut row = store::topics::find(db, &key)?.ok_or_else(|| unknown(&key))?;
        if let Some(name) = patch.name {
            row.name = name.trim().to_owned();
        }
        if let Some(description) = patch.description {
            row.description = description.trim().to_owned();
        }
        if let Some(frequency) = patch.frequency {
            row.frequency = frequency.map_or_else(String::new, |f| f.trim().to_owned());
        }
        if let Some(category) = patch.category {
            row.category = category;
        }
        if let Some(default_subscribed) = patch.default_subscribed {
            row.default_subscribed = default_subscribed;
        }
        if let Some(public) = patch.public {
            row.public = public;
        }
        if let Some(position) = patch.position {
            row.position = position;
        }
        let mut what = "updated";
        match (patch.archived, row.archived_at) {
            (Some(false), Some(_)) => {
                row.archived_at = None;
                what = "restored";
            }
            (Some(true), None) => {
                row.archived_at = Some(store::now());
                what = "archived";
            }
            _ => {}
        }
        row.updated_at = store::now();
        store::topics::update(db, &row)?;
        if let Some(translations) = patch.translations {
            store::topics::replace_translations(db, &key, &translation_rows(&key, &translations))?;
        }
        record(db, &key, what)?;
        load_view(db, &key)
    })
    .await
}

/// Deletes a topic; one that contacts have statuses on is archived instead, so their
/// history keeps its meaning.
pub async fn delete(cx: &Context, key: String) -> Result<(), Error> {
    super::write(cx, move |db| {
        store::locks::topics(db)?;
        let mut row = store::topics::find(db, &key)?.ok_or_else(|| unknown(&key))?;
        if store::topics::has_subscriptions(db, &key)? {
            if row.archived_at.is_none() {
                row.archived_at = Some(store::now());
                row.updated_at = store::now();
                store::topics::update(db, &row)?;
                record(db, &key, "archived")?;
            }
        } else {
            store::topics::delete(db, &key)?;
            record(db, &key, "deleted")?;
        }
        Ok(())
    })
    .await
}
