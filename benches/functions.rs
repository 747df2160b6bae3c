//! Micro-benchmarks of the pure functions on the hot paths. Criterion reports each
//! against a baseline measured in the same run (a SHA-256 of the same input), so
//! figures from a noisy machine stay comparable.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use prefcenter::domain::api_key::{Scopes, SecretHasher, Verifier};
use prefcenter::domain::decision::{decide, AddressState, TopicRules};
use prefcenter::domain::pseudonym::Pseudonymizer;
use prefcenter::domain::token::{Audience, Link, Recipient, TokenKeys};
use prefcenter::domain::{
    AddressHash, AddressHasher, Category, KeyScope, NormalizedAddress, Status, TopicKey,
};
use prefcenter::service::api_keys::{Caller, KeyCache};
use sha2::Digest;

fn functions(c: &mut Criterion) {
    let input = "  Alice.Example+news@Bücher.Example ";
    c.bench_function("baseline: sha256 of an address", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(input).as_bytes()))
    });
    c.bench_function("normalize an address", |b| b.iter(|| NormalizedAddress::parse(black_box(input))));
    c.bench_function("normalize an ASCII address", |b| {
        b.iter(|| NormalizedAddress::parse(black_box("Alice.Smith+news@Example.com")))
    });
    let hasher = AddressHasher::new([7; 32]);
    let address = NormalizedAddress::parse(input).unwrap();
    c.bench_function("keyed hash of an address", |b| b.iter(|| hasher.hash(black_box(&address))));
    let state = AddressState { status: Some(Status::Subscribed), ..AddressState::default() };
    let rules = TopicRules { category: Category::Promotional, default_subscribed: true };
    let now = chrono::Utc::now().naive_utc();
    c.bench_function("decide()", |b| b.iter(|| decide(black_box(&state), black_box(&rules), now)));
    let keys = TokenKeys::parse(&TokenKeys::generate_spec()).unwrap();
    let link = Link {
        recipient: Recipient::Address(AddressHash([9; 32])),
        audience: Audience::Unsubscribe,
        topic: Some(TopicKey::parse("news").unwrap()),
        message_id: Some("m-123".into()),
        issued_at: 1_800_000_000,
        expires_at: 1_900_000_000,
    };
    c.bench_function("sign an unsubscribe link", |b| b.iter(|| keys.sign(black_box(&link))));
    let token = keys.sign(&link);
    c.bench_function("verify an unsubscribe link", |b| {
        b.iter(|| keys.verify(black_box(&token), Audience::Unsubscribe, 1_800_000_001))
    });
    let news = TopicKey::parse("news").unwrap();
    c.bench_function("make a mailto: token", |b| {
        b.iter(|| keys.mail().local_part(black_box(&AddressHash([9; 32])), Some(&news), 21_000))
    });
    let local = keys.mail().local_part(&AddressHash([9; 32]), Some(&news), 21_000);
    let topics: Vec<TopicKey> =
        (0..20).map(|i| TopicKey::parse(&format!("topic-{i}")).unwrap()).chain([news]).collect();
    c.bench_function("verify a mailto: token among 21 topics", |b| {
        b.iter(|| keys.mail().verify(black_box(&local), 20_900, &topics))
    });
    let pseudonymizer = Pseudonymizer::new([5; 32]);
    let client: std::net::IpAddr = "203.0.113.77".parse().unwrap();
    c.bench_function("pseudonymize a client address", |b| b.iter(|| pseudonymizer.client(black_box(client))));
    // API keys: what a request pays once its key is known (a map lookup and a keyed
    // hash), against the argon2 verification every cache miss used to pay.
    let hasher = SecretHasher::new([6; 32]);
    let cache = KeyCache::new(hasher.clone());
    let secret = "pc_abcdefghij_0123456789abcdefghijABCDEFGHIJ0123";
    cache.remember(secret, Caller { key_id: "k".into(), scopes: Scopes::new([KeyScope::Check]) });
    c.bench_function("API key, known key (lookup and HMAC-SHA-256)", |b| {
        b.iter(|| cache.cached(black_box(secret)))
    });
    let Verifier::Hmac(tag) = hasher.verifier(secret) else { unreachable!() };
    c.bench_function("API key, HMAC-SHA-256 verification", |b| {
        b.iter(|| hasher.matches(black_box(secret), &tag))
    });
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let phc = argon2::Argon2::default().hash_password(secret.as_bytes(), &salt).unwrap().to_string();
    c.bench_function("API key, argon2 verification (before: every cache miss)", |b| {
        b.iter(|| prefcenter::domain::api_key::argon2_matches(black_box(secret), &phc))
    });
}

criterion_group!(benches, functions);
criterion_main!(benches);
