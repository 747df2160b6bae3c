fn main() {
    // embed_migrations! does not notice new migration files on its own.
    println!("cargo:rerun-if-changed=migrations");
    // The PostgreSQL half of each integration test runs when the build sees a test
    // database; without one it is compiled as ignored, so the test summary counts it
    // as ignored rather than as passed.
    println!("cargo:rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo:rerun-if-env-changed=PREFCENTER_TEST_DATABASE_URL");
    if std::env::var("PREFCENTER_TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty()) {
        println!("cargo:rustc-cfg=postgres_tests");
    }
}
