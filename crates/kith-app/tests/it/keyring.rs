//! The keyring: sealing bound to workspace/table/column/row, data-key
//! rotation, and moving everything to a new master key.

use crate::support::*;
use kith_app::identity;
use kith_app::{rotation, App, Keyring, MasterKeys};
use kith_crypto::{sealed_key_version, totp, SecretKey};
use kith_domain::new_id;
use kith_domain::time::now_ms;
use kith_store::users;
use kith_testkit::app::{account, test_settings};
use kith_testkit::TestApp;

fn app_with(db: &kith_store::Db, keys: MasterKeys) -> App {
    App::new(db.clone(), Keyring::new(keys), test_settings()).unwrap()
}

const NOTE: &[u8] = b"met at the conference; prefers e-mail";

#[tokio::test]
async fn sealed_values_open_only_where_they_were_sealed() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let (db, k) = (app.db(), app.keyring());
        let a = t.user("a@example.com").await;
        let b = t.user("b@example.com").await;
        let row = new_id();

        let sealed = k.seal(db, a.org_id, "contacts", "notes", row, NOTE).await.unwrap();
        assert!(!sealed.windows(NOTE.len()).any(|w| w == NOTE), "{l}: no plaintext in the sealed value");
        assert_eq!(k.open(db, a.org_id, "contacts", "notes", row, &sealed).await.unwrap(), NOTE, "{l}");
        let again = k.seal(db, a.org_id, "contacts", "notes", row, NOTE).await.unwrap();
        assert_ne!(sealed, again, "{l}: a fresh nonce every time");

        assert!(k.open(db, a.org_id, "contacts", "notes", new_id(), &sealed).await.is_err(), "{l}: another row");
        assert!(k.open(db, a.org_id, "contacts", "phone", row, &sealed).await.is_err(), "{l}: another column");
        assert!(k.open(db, a.org_id, "deals", "notes", row, &sealed).await.is_err(), "{l}: another table");
        assert!(k.open(db, b.org_id, "contacts", "notes", row, &sealed).await.is_err(), "{l}: another workspace");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(k.open(db, a.org_id, "contacts", "notes", row, &tampered).await.is_err(), "{l}: a flipped bit");

        // Another instance with another master key cannot unwrap A's key.
        let stranger = app_with(db, MasterKeys::single(SecretKey::generate()));
        assert!(
            stranger.keyring().open(db, a.org_id, "contacts", "notes", row, &sealed).await.is_err(),
            "{l}: another master key"
        );
    }
}

#[tokio::test]
async fn rotating_data_keys_keeps_old_values_readable() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let (db, k) = (app.db(), app.keyring());
        let a = t.user("a@example.com").await;
        let b = t.user("b@example.com").await;
        let row = new_id();
        let old = k.seal(db, a.org_id, "contacts", "notes", row, NOTE).await.unwrap();
        assert_eq!(sealed_key_version(&old).unwrap(), 1, "{l}");
        let search_before = k.search_key(db, a.org_id).await.unwrap();

        let rotated = rotation::rotate_data_keys(app).await.unwrap();
        assert_eq!(rotated, 2, "{l}: every workspace got a new key");

        let new = k.seal(db, a.org_id, "contacts", "notes", row, NOTE).await.unwrap();
        assert_eq!(sealed_key_version(&new).unwrap(), 2, "{l}: new seals use the new key");
        assert_eq!(k.open(db, a.org_id, "contacts", "notes", row, &old).await.unwrap(), NOTE, "{l}");
        assert_eq!(k.open(db, a.org_id, "contacts", "notes", row, &new).await.unwrap(), NOTE, "{l}");
        assert_eq!(
            k.search_key(db, a.org_id).await.unwrap(),
            search_before,
            "{l}: blind-index tokens survive rotation"
        );
        let b_new = k.seal(db, b.org_id, "contacts", "notes", row, NOTE).await.unwrap();
        assert_eq!(sealed_key_version(&b_new).unwrap(), 2, "{l}");

        // A second rotation: three versions, all readable.
        rotation::rotate_data_keys(app).await.unwrap();
        let newest = k.seal(db, a.org_id, "contacts", "notes", row, NOTE).await.unwrap();
        assert_eq!(sealed_key_version(&newest).unwrap(), 3, "{l}");
        for v in [&old, &new, &newest] {
            assert_eq!(k.open(db, a.org_id, "contacts", "notes", row, v).await.unwrap(), NOTE, "{l}");
        }
    }
}

#[tokio::test]
async fn adopting_a_new_master_key_moves_every_key_and_secret() {
    for t in TestApp::all().await {
        let l = t.label;
        let db = t.app.db();
        let old_key = SecretKey::generate();
        let new_key = SecretKey::generate();

        // Life under the old master key: a workspace, a sealed value, TOTP.
        let app1 = app_with(db, MasterKeys::single(old_key.clone()));
        let ada = account(&app1, "ada@example.com").await;
        let row = new_id();
        let sealed = app1.keyring().seal(db, ada.org_id, "contacts", "notes", row, NOTE).await.unwrap();
        let user = users::get(db, ada.user_id).await.unwrap().unwrap();
        let enrol = identity::begin_totp(&app1, &user).await.unwrap();
        let secret = totp::base32_decode(&enrol.secret_base32).unwrap();
        identity::confirm_totp(&app1, ada.user_id, &totp::code_at(&secret, (now_ms() / 1000) as u64)).await.unwrap();

        // Before adoption, the new key alone cannot read anything.
        let only_new = app_with(db, MasterKeys::single(new_key.clone()));
        assert!(
            only_new.keyring().open(db, ada.org_id, "contacts", "notes", row, &sealed).await.is_err(),
            "{l}: not yet rewrapped"
        );

        let app2 = app_with(db, MasterKeys { current: new_key.clone(), previous: vec![old_key.clone()] });
        assert_eq!(
            app2.keyring().open(db, ada.org_id, "contacts", "notes", row, &sealed).await.unwrap(),
            NOTE,
            "{l}: during rotation the previous key still unwraps"
        );
        let (rewrapped, resealed) = rotation::adopt_current_master(&app2).await.unwrap();
        assert_eq!((rewrapped, resealed), (1, 1), "{l}: one workspace key, one TOTP secret");
        assert_eq!(
            rotation::adopt_current_master(&app2).await.unwrap(),
            (0, 0),
            "{l}: running it again has nothing left to do"
        );

        let app3 = app_with(db, MasterKeys::single(new_key.clone()));
        assert_eq!(
            app3.keyring().open(db, ada.org_id, "contacts", "notes", row, &sealed).await.unwrap(),
            NOTE,
            "{l}: the new key alone opens old values"
        );
        let stored = users::get(db, ada.user_id).await.unwrap().unwrap().totp_secret.unwrap();
        assert_eq!(
            app3.keyring().open_user_secret(ada.user_id, "totp_secret", &stored).unwrap(),
            secret,
            "{l}: the new key alone opens the TOTP secret"
        );
        // And two-step sign-in works end to end under the new key.
        let (_, pending) = signed_in(&app3, &ada.email, PASSWORD).await;
        assert!(pending.session.mfa_pending, "{l}");
        let next = totp::code_at(&secret, (now_ms() / 1000) as u64 + 30);
        identity::complete_mfa(&app3, &pending, &next, &nowhere())
            .await
            .unwrap_or_else(|e| panic!("{l}: second step under the new master key: {e:?}"));

        // The old key alone is now useless.
        let only_old = app_with(db, MasterKeys::single(old_key));
        assert!(
            only_old.keyring().open(db, ada.org_id, "contacts", "notes", row, &sealed).await.is_err(),
            "{l}: the old master key no longer unwraps"
        );
        assert!(only_old.keyring().open_user_secret(ada.user_id, "totp_secret", &stored).is_err(), "{l}");
    }
}
