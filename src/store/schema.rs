//! The one schema for both backends. Only types MultiConnection supports on both:
//! Text, Binary, Bool, Integer, BigInt, Timestamp (UTC, no zone), Date.

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        lookup -> Text,
        secret_hash -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    topics (key) {
        key -> Text,
        name -> Text,
        description -> Text,
        category -> Text,
        default_subscribed -> Bool,
        public -> Bool,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        frequency -> Text,
    }
}

diesel::table! {
    topic_translations (topic_key, locale) {
        topic_key -> Text,
        locale -> Text,
        name -> Text,
        description -> Text,
        frequency -> Text,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        email -> Nullable<Text>,
        address_hash -> Binary,
        locale -> Nullable<Text>,
        external_id -> Nullable<Text>,
        unsubscribed_all -> Bool,
        unsubscribed_all_source -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        paused_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subscriptions (contact_id, topic_key) {
        contact_id -> Text,
        topic_key -> Text,
        status -> Text,
        source -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    suppressions (address_hash) {
        address_hash -> Binary,
        email -> Nullable<Text>,
        reason -> Text,
        scope -> Text,
        source -> Text,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    soft_bounces (address_hash, occurred_at) {
        address_hash -> Binary,
        occurred_at -> Timestamp,
        provider -> Text,
    }
}

diesel::table! {
    feedback_receipts (provider, notification_id) {
        provider -> Text,
        notification_id -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    sns_confirmations (topic_arn) {
        topic_arn -> Text,
        subscribe_url -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    ledger_head (id) {
        id -> Integer,
        seq -> BigInt,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        kind -> Text,
        contact_id -> Nullable<Text>,
        address_hash -> Nullable<Binary>,
        topic_key -> Nullable<Text>,
        old_status -> Nullable<Text>,
        new_status -> Nullable<Text>,
        reason -> Nullable<Text>,
        scope -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        previous_address_hash -> Nullable<Binary>,
        source -> Text,
        client -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        message_id -> Nullable<Text>,
        consent -> Nullable<Text>,
        legal_basis -> Nullable<Text>,
        detail -> Nullable<Text>,
        unsubscribe_reason -> Nullable<Text>,
        operator -> Nullable<Text>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        url -> Text,
        description -> Text,
        types -> Nullable<Text>,
        status -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        delivered_seq -> BigInt,
        failures -> Integer,
        failing_since -> Nullable<Timestamp>,
        next_attempt_at -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        lease_holder -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> Text,
        seq -> BigInt,
        attempt -> Integer,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> Integer,
        error -> Nullable<Text>,
        delivered -> Bool,
    }
}

diesel::table! {
    feed_consumers (name) {
        name -> Text,
        after_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    operators (id) {
        id -> Text,
        email -> Text,
        role -> Text,
        password_hash -> Text,
        locale -> Text,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    daily_counts (day, topic_key, kind, label) {
        day -> Date,
        topic_key -> Text,
        kind -> Text,
        label -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    admin_changes (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        kind -> Text,
        detail -> Text,
        source -> Text,
        operator -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (key) {
        key -> Text,
        failures -> BigInt,
        last_attempt_at -> Timestamp,
    }
}

diesel::table! {
    daily_counts_position (id) {
        id -> Integer,
        seq -> BigInt,
    }
}

diesel::table! {
    console_sessions (id_hash) {
        id_hash -> Text,
        operator_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(console_sessions -> operators (operator_id));
diesel::joinable!(subscriptions -> contacts (contact_id));
diesel::joinable!(subscriptions -> topics (topic_key));
diesel::joinable!(topic_translations -> topics (topic_key));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    api_keys,
    topics,
    topic_translations,
    contacts,
    subscriptions,
    suppressions,
    soft_bounces,
    feedback_receipts,
    sns_confirmations,
    ledger_head,
    events,
    webhooks,
    webhook_deliveries,
    feed_consumers,
    operators,
    console_sessions,
    daily_counts,
    daily_counts_position,
);
