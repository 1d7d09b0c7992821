//! The object store's configuration: the default folder beside the
//! database, and bad `KITH_OBJECT_STORE` values refused at start-up.

use crate::cli::{kith, run};
use kith_testkit::TempDir;

#[test]
fn object_store_configuration() {
    let dir = TempDir::new();
    let out = run(kith(dir.path()).args(["admin", "verify-audit"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("files").is_dir(), "the default object folder is <data>/files");

    let no_keys = run(kith(dir.path())
        .env("KITH_OBJECT_STORE", "s3://kith-bucket?endpoint=http://127.0.0.1:9")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("KITH_S3_ACCESS_KEY_ID")
        .env_remove("KITH_S3_SECRET_ACCESS_KEY")
        .arg("migrate"));
    assert!(!no_keys.status.success());
    assert!(String::from_utf8_lossy(&no_keys.stderr).contains("object_store"), "names the setting");

    let bad = run(kith(dir.path()).env("KITH_OBJECT_STORE", "ftp://files.example.com").arg("migrate"));
    assert!(!bad.status.success(), "an unknown scheme is refused");
    let keys_in_url = run(kith(dir.path())
        .env("KITH_OBJECT_STORE", "s3://key:secret@kith-bucket")
        .env("KITH_S3_ACCESS_KEY_ID", "a")
        .env("KITH_S3_SECRET_ACCESS_KEY", "b")
        .arg("migrate"));
    assert!(!keys_in_url.status.success(), "keys in the URL are refused");
    assert!(!String::from_utf8_lossy(&keys_in_url.stderr).contains("secret@"), "the URL's secret is not echoed");
}
