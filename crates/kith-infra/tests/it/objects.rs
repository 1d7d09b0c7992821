//! The object store against a local folder and a real S3-compatible server
//! (moto): put, get, replace, delete, prefix delete, caps and bad keys.

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use kith_infra::objects::sigv4::Credentials;
use kith_infra::objects::{ByteStream, ObjectError, ObjectStore, ObjectStoreConfig};
use kith_testkit::s3::{S3Server, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use kith_testkit::TempDir;

fn chunks(parts: Vec<&'static [u8]>) -> ByteStream {
    stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
}

async fn exercise(store: &ObjectStore) {
    let org = uuid::Uuid::now_v7();
    let key = format!("org/{org}/att/one");
    let info = store.put_stream(&key, chunks(vec![b"hello ", b"world"]), 1024).await.expect("put");
    assert_eq!(info.size, 11);
    assert_eq!(info.sha256, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    let obj = store.get(&key).await.expect("get").expect("present");
    assert_eq!(obj.size, 11);
    assert_eq!(store.get_bytes(&key).await.unwrap().unwrap(), b"hello world");

    // Replacing an object; a big one comes back whole.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    store.put(&key, big.clone()).await.expect("replace");
    assert_eq!(store.get_bytes(&key).await.unwrap().unwrap(), big);

    // Over the cap: refused, and nothing is kept.
    let other = format!("org/{org}/att/two");
    match store.put_stream(&other, chunks(vec![b"12345", b"67890"]), 8).await {
        Err(ObjectError::TooLarge { max: 8 }) => {}
        r => panic!("{r:?}"),
    }
    assert!(store.get(&other).await.unwrap().is_none());

    // Hostile keys never reach the backend.
    for bad in ["../etc/passwd", "org/x/../../y", "/abs", "org/a b"] {
        assert!(matches!(store.put(bad, &b"x"[..]).await, Err(ObjectError::InvalidKey(_))), "{bad}");
        assert!(matches!(store.get(bad).await, Err(ObjectError::InvalidKey(_))), "{bad}");
    }

    // Prefix delete takes every key of the workspace and nothing else.
    let neighbour = uuid::Uuid::now_v7();
    for i in 0..5 {
        store.put(&format!("org/{org}/conv/c1/{i}"), vec![i as u8; 10]).await.unwrap();
    }
    store.put(&format!("org/{neighbour}/att/kept"), &b"mine"[..]).await.unwrap();
    let gone = store.delete_prefix(&format!("org/{org}/")).await.expect("delete prefix");
    assert_eq!(gone, 6);
    assert!(store.get(&key).await.unwrap().is_none());
    assert_eq!(store.get_bytes(&format!("org/{neighbour}/att/kept")).await.unwrap().unwrap(), b"mine");
    assert_eq!(store.delete_prefix(&format!("org/{org}/")).await.unwrap(), 0);

    store.delete(&format!("org/{neighbour}/att/kept")).await.expect("delete");
    store.delete(&format!("org/{neighbour}/att/kept")).await.expect("deleting twice is fine");
    assert!(store.get(&format!("org/{neighbour}/att/kept")).await.unwrap().is_none());
}

#[tokio::test]
async fn local_folder_store() {
    let dir = TempDir::new();
    let store = ObjectStore::new(&ObjectStoreConfig::Local(dir.path().join("files"))).expect("store");
    exercise(&store).await;
    // No temporary file is left behind.
    let tmp: Vec<_> = std::fs::read_dir(dir.path().join("files/.tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[tokio::test]
async fn s3_store_against_moto() {
    let Some(server) = S3Server::start() else { return };
    let creds = Credentials {
        access_key_id: ACCESS_KEY_ID.into(),
        secret_access_key: SECRET_ACCESS_KEY.into(),
        session_token: None,
    };
    let store = ObjectStore::new(&ObjectStoreConfig::parse(&server.url(), Some(creds)).expect("url")).expect("store");
    exercise(&store).await;
}
