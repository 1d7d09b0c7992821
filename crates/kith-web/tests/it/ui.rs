//! The browser flows over plain HTTP forms (no JavaScript needed):
//! sign-up → two-factor → sign-in with 2FA → invite → accept → switch.

use crate::helpers::{browser, form_value, text_of};
use kith_testkit::{spawn_all, spawn_app};

async fn page(c: &reqwest::Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(url).form(form).send().await.unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

fn totp_now(secret_b32: &str, offset_s: u64) -> String {
    let secret = kith_crypto::totp::base32_decode(secret_b32).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    kith_crypto::totp::code_at(&secret, now + offset_s)
}

#[tokio::test]
async fn signup_two_factor_invite_accept_switch() {
    for s in spawn_all().await {
        let ada = browser();
        let (st, html) = page(&ada, &s.url("/signup")).await;
        assert_eq!(st, 200);
        assert!(html.contains("first person here"), "{}: the first account is the operator", s.label);
        let csrf = form_value(&html, "_csrf");
        let r = post(
            &ada,
            &s.url("/signup"),
            &[
                ("_csrf", &csrf),
                ("name", "Ada"),
                ("email", "ada@example.com"),
                ("password", "correct horse battery"),
                ("workspace_name", "Acme"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", s.label);
        let (st, home) = page(&ada, &s.url("/")).await;
        assert_eq!(st, 200);
        assert!(home.contains("Acme") && home.contains("Welcome, Ada"), "{}", s.label);

        // Turn on two-factor sign-in.
        let (_, sec) = page(&ada, &s.url("/settings/security")).await;
        let csrf = form_value(&sec, "_csrf");
        let r = post(&ada, &s.url("/settings/security/2fa/start"), &[("_csrf", &csrf)]).await;
        let enrol = r.text().await.unwrap();
        let secret = text_of(&enrol, "totp-secret");
        assert!(
            enrol.contains("src=\"data:image&#x2f;svg+xml;base64,")
                || enrol.contains("src=\"data:image/svg+xml;base64,"),
            "a QR code to scan"
        );
        let r =
            post(&ada, &s.url("/settings/security/2fa/confirm"), &[("_csrf", &csrf), ("code", &totp_now(&secret, 0))])
                .await;
        let done = r.text().await.unwrap();
        assert!(done.contains("recovery-codes"), "{}: recovery codes are shown once", s.label);

        // Sign out, sign in: the second factor is asked for, and nothing works before it.
        let r = post(&ada, &s.url("/signout"), &[("_csrf", &csrf)]).await;
        assert_eq!(location(&r), "/signin");
        let (_, signin) = page(&ada, &s.url("/signin")).await;
        let csrf = form_value(&signin, "_csrf");
        let r = post(
            &ada,
            &s.url("/signin"),
            &[("_csrf", &csrf), ("email", "ada@example.com"), ("password", "wrong password!!")],
        )
        .await;
        assert_eq!(r.status(), 401);
        let r = post(
            &ada,
            &s.url("/signin"),
            &[("_csrf", &csrf), ("email", "ada@example.com"), ("password", "correct horse battery")],
        )
        .await;
        assert_eq!(location(&r), "/signin/2fa", "{}", s.label);
        let r = ada.get(s.url("/settings/members")).send().await.unwrap();
        assert_eq!(location(&r), "/signin/2fa", "a half signed-in session reaches nothing");
        let (_, mfa) = page(&ada, &s.url("/signin/2fa")).await;
        let csrf = form_value(&mfa, "_csrf");
        let r = post(&ada, &s.url("/signin/2fa"), &[("_csrf", &csrf), ("code", "000000")]).await;
        assert_eq!(r.status(), 401);
        // The step after the one used at enrolment (codes are single-use).
        let r = post(&ada, &s.url("/signin/2fa"), &[("_csrf", &csrf), ("code", &totp_now(&secret, 30))]).await;
        assert_eq!(location(&r), "/", "{}", s.label);

        // Invite Mia; the link is shown to the inviter (no SMTP configured).
        let (_, members) = page(&ada, &s.url("/settings/members")).await;
        let csrf = form_value(&members, "_csrf");
        let r = post(
            &ada,
            &s.url("/settings/members/invite"),
            &[("_csrf", &csrf), ("email", "mia@example.com"), ("role", "member")],
        )
        .await;
        let shown = r.text().await.unwrap();
        let link = text_of(&shown, "invite-link");
        assert!(link.starts_with(&s.base), "{link}");

        // Mia accepts in her own browser by creating her account.
        let mia = browser();
        let (st, inv) = page(&mia, &link).await;
        assert_eq!(st, 200);
        assert!(inv.contains("Join Acme"));
        let csrf = form_value(&inv, "_csrf");
        let path = link.trim_start_matches(&s.base).to_string();
        let r = post(&mia, &s.url(&path), &[("_csrf", &csrf), ("name", "Mia"), ("password", "another good password")])
            .await;
        assert_eq!(r.status(), 303, "{}", s.label);
        let (_, home) = page(&mia, &s.url("/")).await;
        assert!(home.contains("Acme"), "{}: Mia is in Acme", s.label);
        let (st, _) = page(&mia, &link).await;
        assert_eq!(st, 410, "an invitation works once");

        // Mia makes her own workspace, then switches back to Acme.
        let (_, new) = page(&mia, &s.url("/workspaces/new")).await;
        let csrf = form_value(&new, "_csrf");
        let r = post(&mia, &s.url("/workspaces/new"), &[("_csrf", &csrf), ("name", "Mia Consulting")]).await;
        assert_eq!(r.status(), 303);
        let (_, home) = page(&mia, &s.url("/")).await;
        assert!(home.contains("Mia Consulting"));
        let acme_id = home
            .split("<option value=\"")
            .skip(1)
            .find(|o| o.contains(">Acme<"))
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let r = post(&mia, &s.url("/switch"), &[("_csrf", &csrf), ("org_id", &acme_id)]).await;
        assert_eq!(r.status(), 303);
        let (_, home) = page(&mia, &s.url("/")).await;
        assert!(home.contains("Acme ·"), "{}: switched to Acme", s.label);
        // Switching to a workspace she is not in is refused.
        let r = post(&mia, &s.url("/switch"), &[("_csrf", &csrf), ("org_id", &uuid::Uuid::now_v7().to_string())]).await;
        assert_eq!(r.status(), 303);
        let (_, home) = page(&mia, &s.url("/")).await;
        assert!(home.contains("Acme ·") && home.contains("does not exist"));
    }
}

#[tokio::test]
async fn forms_need_csrf_and_same_origin() {
    let s = spawn_app().await;
    let c = browser();
    let (_, html) = page(&c, &s.url("/signup")).await;
    let csrf = form_value(&html, "_csrf");
    let fields = [
        ("name", "Ada"),
        ("email", "ada@example.com"),
        ("password", "correct horse battery"),
        ("workspace_name", "Acme"),
    ];
    let r = post(&c, &s.url("/signup"), &fields).await;
    assert_eq!(r.status(), 403, "no token");
    let mut with_bad = fields.to_vec();
    with_bad.push(("_csrf", "forged"));
    assert_eq!(post(&c, &s.url("/signup"), &with_bad).await.status(), 403);
    let mut with_good = fields.to_vec();
    with_good.push(("_csrf", &csrf));
    let r = c.post(s.url("/signup")).header("origin", "https://evil.example").form(&with_good).send().await.unwrap();
    assert_eq!(r.status(), 403, "cross-origin post");
    assert!(kith_app::identity::instance_is_empty(&s.app).await.unwrap(), "nothing was created");
    // A fresh client without the pre-session cookie cannot reuse someone's token.
    let other = browser();
    assert_eq!(post(&other, &s.url("/signup"), &with_good).await.status(), 403);
    let r = post(&c, &s.url("/signup"), &with_good).await;
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("kith_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn signup_errors_are_shown_beside_fields_and_invite_only_is_enforced() {
    let s = spawn_app().await;
    let c = browser();
    let (_, html) = page(&c, &s.url("/signup")).await;
    let csrf = form_value(&html, "_csrf");
    let r = post(
        &c,
        &s.url("/signup"),
        &[("_csrf", &csrf), ("name", ""), ("email", "nope"), ("password", "short"), ("workspace_name", "")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    for msg in [
        "Name must not be empty",
        "E-mail is not a valid e-mail address",
        "Password must be at least 10 characters",
        "Workspace name must not be empty",
    ] {
        assert!(body.contains(msg), "missing {msg:?}");
    }
    assert!(body.contains("value=\"nope\""), "what the user typed is kept");
    assert!(!body.contains("value=\"short\""), "passwords are never echoed");
    // Hostile input is escaped, never markup.
    let r = post(
        &c,
        &s.url("/signup"),
        &[
            ("_csrf", &csrf),
            ("name", "<script>alert(1)</script>"),
            ("email", "x"),
            ("password", "x"),
            ("workspace_name", "x"),
        ],
    )
    .await;
    let body = r.text().await.unwrap();
    assert!(!body.contains("<script>alert(1)") && body.contains("&lt;script&gt;"));
}
