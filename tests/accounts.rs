//! Accounts over real HTTP: signup validation, profiles, refresh-token
//! rotation and reuse detection, logout and withdrawal that survive a
//! restart, role checks, per-IP rate limits, Redis-mirrored revocation, and
//! the admin account bootstrapped from configuration.

mod common;

use common::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, TestDb, USER_PASSWORD, app_settings, assert_problem,
    spawn_app, spawn_app_with,
};
use reqwest::Method;
use serde_json::{Value, json};
use stampede::startup::Application;

const SIGNUP: &str = "/api/v1/auth/signup";
const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT: &str = "/api/v1/auth/logout";
const ME: &str = "/api/v1/users/me";
const WHOAMI: &str = "/api/v1/auth/whoami";

fn signup_body(email: &str, password: &str, role: &str) -> Value {
    json!({"email": email, "password": password, "name": "Kim Minsu", "role": role})
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json(REFRESH, None, json!({ "refresh_token": token }))
        .await
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"))
}

async fn signup_validates_and_normalises(db: TestDb) {
    let app = spawn_app(db).await;
    let res = app
        .post_json(
            SIGNUP,
            None,
            signup_body("  Kim@Shop.TEST ", USER_PASSWORD, "customer"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert!(body["id"].as_i64().is_some(), "{body}");
    assert_eq!(body["email"], "kim@shop.test");
    assert_eq!(body["role"], "customer");

    // One mailbox, one account, whatever the case.
    let dup = app
        .post_json(
            SIGNUP,
            None,
            signup_body("KIM@shop.test", USER_PASSWORD, "seller"),
        )
        .await;
    assert_problem(dup, 409, "CONFLICT").await;

    let refused = [
        signup_body("admin@shop.test", USER_PASSWORD, "admin"),
        signup_body("root@shop.test", USER_PASSWORD, "superuser"),
        signup_body("not-an-email", USER_PASSWORD, "customer"),
        signup_body("weak@shop.test", "password1", "customer"),
        signup_body("short@shop.test", "a1!", "customer"),
        signup_body("letters@shop.test", "onlyletters", "customer"),
        json!({"email": "x@shop.test", "password": USER_PASSWORD, "role": "customer"}),
        json!({"email": 42, "password": USER_PASSWORD, "name": "n", "role": "customer"}),
        json!({"email": "y@shop.test", "password": USER_PASSWORD, "name": "n".repeat(101), "role": "customer"}),
        json!({"email": "z@shop.test", "password": USER_PASSWORD, "name": "   ", "role": "customer"}),
        json!({"email": format!("{}@shop.test", "a".repeat(300)), "password": USER_PASSWORD, "name": "n", "role": "customer"}),
        json!({"email": "w@shop.test", "password": USER_PASSWORD, "name": "n", "role": "customer", "is_admin": true}),
    ];
    for body in refused {
        let res = app.post_json(SIGNUP, None, body.clone()).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let malformed = app
        .client
        .post(app.url(SIGNUP))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("send");
    assert_problem(malformed, 400, "VALIDATION_FAILED").await;
    let not_json = app
        .client
        .post(app.url(SIGNUP))
        .header("content-type", "text/plain")
        .body("email=kim")
        .send()
        .await
        .expect("send");
    assert_problem(not_json, 415, "VALIDATION_FAILED").await;
    app.stop().await;
}

async fn profile_reads_and_edits(db: TestDb) {
    let app = spawn_app(db).await;
    let (id, token) = app.user("seller").await;
    let me = app.get_json(ME, Some(&token)).await;
    assert_eq!(me["id"], id);
    assert_eq!(me["role"], "seller");
    assert_eq!(me["name"], "Test User");
    assert!(me["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(me.get("password_hash").is_none(), "{me}");

    let res = app
        .send(
            Method::PATCH,
            ME,
            Some(&token),
            Some(json!({"name": "  Lee Seller "})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(ME, Some(&token)).await["name"], "Lee Seller");

    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"email": "new@shop.test"}),
    ] {
        let res = app.send(Method::PATCH, ME, Some(&token), Some(body)).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    assert_problem(app.get(ME, None).await, 401, "UNAUTHORIZED").await;
    assert_problem(app.get(ME, Some("not.a.jwt")).await, 401, "UNAUTHORIZED").await;

    // Who the token speaks for, without a profile read.
    let session = app.get_json(WHOAMI, Some(&token)).await;
    assert_eq!(session["user_id"], id);
    assert_eq!(session["role"], "seller");
    assert!(session["email_verified"].is_boolean(), "{session}");
    assert_problem(app.get(WHOAMI, None).await, 401, "UNAUTHORIZED").await;
    assert_problem(
        app.get(WHOAMI, Some("not.a.jwt")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    app.stop().await;
}

async fn refresh_rotates_and_reuse_revokes_the_session(db: TestDb) {
    let app = spawn_app(db).await;
    app.signup("rotor@shop.test", USER_PASSWORD, "customer")
        .await;
    let first = app.login("rotor@shop.test", USER_PASSWORD).await;
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    let other_session = app.login("rotor@shop.test", USER_PASSWORD).await;

    let res = refresh(&app, field(&first, "refresh_token")).await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.expect("json");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let me = app.get_json(ME, Some(field(&second, "access_token"))).await;
    assert_eq!(me["email"], "rotor@shop.test");

    // The rotated token comes back: it leaked. The whole session dies,
    // including the token that replaced it.
    assert_problem(
        refresh(&app, field(&first, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_problem(
        refresh(&app, field(&second, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    // Another login's session is untouched.
    let res = refresh(&app, field(&other_session, "refresh_token")).await;
    assert_eq!(res.status(), 200);

    // Neither an access token nor garbage passes for a refresh token.
    assert_problem(
        refresh(&app, field(&first, "access_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_problem(refresh(&app, "garbage").await, 401, "UNAUTHORIZED").await;
    let res = app.post_json(REFRESH, None, json!({})).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    app.stop().await;
}

async fn concurrent_refreshes_rotate_once(db: TestDb) {
    let app = spawn_app(db).await;
    app.signup("racer@shop.test", USER_PASSWORD, "customer")
        .await;
    let pair = app.login("racer@shop.test", USER_PASSWORD).await;
    let token = field(&pair, "refresh_token").to_string();
    let attempts = futures::future::join_all((0..16).map(|_| refresh(&app, &token))).await;
    let ok = attempts.iter().filter(|r| r.status() == 200).count();
    assert_eq!(ok, 1, "exactly one presentation rotates the token");
    assert!(
        attempts
            .iter()
            .all(|r| r.status() == 200 || r.status() == 401)
    );
    app.stop().await;
}

async fn logout_survives_a_restart(db: TestDb) {
    let app = spawn_app(db).await;
    app.signup("leaver@shop.test", USER_PASSWORD, "customer")
        .await;
    let kept = app.login("leaver@shop.test", USER_PASSWORD).await;
    let ended = app.login("leaver@shop.test", USER_PASSWORD).await;
    let (_, stranger) = app.user("customer").await;

    let body = json!({"refresh_token": field(&ended, "refresh_token")});
    let res = app.post_json(LOGOUT, Some(&stranger), body.clone()).await;
    assert_problem(res, 403, "FORBIDDEN").await;
    assert_problem(
        app.post_json(LOGOUT, None, body.clone()).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let access = field(&ended, "access_token");
    assert_eq!(
        app.post_json(LOGOUT, Some(access), body.clone())
            .await
            .status(),
        204
    );
    assert_eq!(
        app.post_json(LOGOUT, Some(access), body).await.status(),
        204
    );
    assert_problem(
        refresh(&app, field(&ended, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    let db = app.stop().await;
    let app = spawn_app(db).await;
    assert_problem(
        refresh(&app, field(&ended, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(
        refresh(&app, field(&kept, "refresh_token")).await.status(),
        200
    );
    app.stop().await;
}

async fn password_change_ends_every_session(db: TestDb) {
    let app = spawn_app(db).await;
    app.signup("mover@shop.test", USER_PASSWORD, "customer")
        .await;
    let pair = app.login("mover@shop.test", USER_PASSWORD).await;
    let token = field(&pair, "access_token");
    let change = |current: Option<&str>| {
        let mut body = json!({"password": "new-drop-2027"});
        if let Some(c) = current {
            body["current_password"] = json!(c);
        }
        app.send(Method::PATCH, ME, Some(token), Some(body))
    };
    assert_problem(change(None).await, 400, "VALIDATION_FAILED").await;
    assert_problem(change(Some("wrong-pass-1")).await, 403, "FORBIDDEN").await;
    let weak = app
        .send(
            Method::PATCH,
            ME,
            Some(token),
            Some(json!({"password": "12345678", "current_password": USER_PASSWORD})),
        )
        .await;
    assert_problem(weak, 400, "VALIDATION_FAILED").await;
    assert_eq!(change(Some(USER_PASSWORD)).await.status(), 200);

    assert_problem(
        refresh(&app, field(&pair, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let old = app
        .post_json(
            LOGIN,
            None,
            json!({"email": "mover@shop.test", "password": USER_PASSWORD}),
        )
        .await;
    assert_problem(old, 401, "UNAUTHORIZED").await;
    app.login("mover@shop.test", "new-drop-2027").await;
    app.stop().await;
}

async fn withdrawal_ends_the_account(db: TestDb) {
    let app = spawn_app(db).await;
    app.signup("gone@shop.test", USER_PASSWORD, "seller").await;
    let pair = app.login("gone@shop.test", USER_PASSWORD).await;
    let token = field(&pair, "access_token");
    let password = json!({"current_password": USER_PASSWORD});
    assert_eq!(
        app.send(Method::DELETE, ME, Some(token), Some(password.clone()))
            .await
            .status(),
        204
    );

    let login = app
        .post_json(
            LOGIN,
            None,
            json!({"email": "gone@shop.test", "password": USER_PASSWORD}),
        )
        .await;
    assert_problem(login, 401, "UNAUTHORIZED").await;
    assert_problem(
        refresh(&app, field(&pair, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_problem(app.get(ME, Some(token)).await, 401, "UNAUTHORIZED").await;
    let again = app
        .send(Method::DELETE, ME, Some(token), Some(password))
        .await;
    assert_problem(again, 401, "UNAUTHORIZED").await;
    // The email stays with the withdrawn account (its orders keep their buyer).
    let res = app
        .post_json(
            SIGNUP,
            None,
            signup_body("gone@shop.test", USER_PASSWORD, "customer"),
        )
        .await;
    assert_problem(res, 409, "CONFLICT").await;

    // Admins come from configuration and cannot withdraw or change password.
    let admin = app.admin_token().await;
    let res = app
        .send(
            Method::DELETE,
            ME,
            Some(&admin),
            Some(json!({"current_password": common::ADMIN_PASSWORD})),
        )
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let res = app
        .send(
            Method::PATCH,
            ME,
            Some(&admin),
            Some(json!({"password": "new-drop-2027", "current_password": common::ADMIN_PASSWORD})),
        )
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    app.stop().await;
}

async fn roles_guard_admin_routes(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, customer) = app.user("customer").await;
    let (_, seller) = app.user("seller").await;
    let admin = app.admin_token().await;
    for path in ["/api/v1/admin/actors", "/api/v1/admin/actors/skus/1"] {
        assert_problem(app.get(path, None).await, 401, "UNAUTHORIZED").await;
        assert_problem(app.get(path, Some(&customer)).await, 403, "FORBIDDEN").await;
        assert_problem(app.get(path, Some(&seller)).await, 403, "FORBIDDEN").await;
    }
    assert_eq!(
        app.get("/api/v1/admin/actors", Some(&admin)).await.status(),
        200
    );
    // A token signed with another secret is nobody.
    let forged = {
        use jsonwebtoken::{EncodingKey, Header, encode};
        let claims = json!({"sub": "1", "role": "admin", "iat": 0, "exp": 4_000_000_000u64,
                            "iss": "stampede", "aud": "stampede-api"});
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(b"guessed-secret-guessed"),
        )
        .expect("sign")
    };
    assert_problem(
        app.get("/api/v1/admin/actors", Some(&forged)).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    app.stop().await;
}

async fn auth_is_rate_limited_per_ip(db: TestDb) {
    let mut s = app_settings(&db);
    s.rate_limit.auth_per_second = 1;
    s.rate_limit.auth_burst = 3;
    let app = spawn_app_with(db, s).await;
    // Refreshes with a bad token answer fast (no password hashing), so the
    // burst is spent well inside one refill period.
    for _ in 0..3 {
        assert_problem(refresh(&app, "garbage").await, 401, "UNAUTHORIZED").await;
    }
    let res = app
        .post_json(
            LOGIN,
            None,
            json!({"email": "nobody@shop.test", "password": "wrong-pass-1"}),
        )
        .await;
    assert_eq!(res.status(), 429, "the whole auth scope shares the budget");
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_problem(res, 429, "RATE_LIMITED").await;
    // The budget covers the auth scope only.
    assert_eq!(app.get("/health/live", None).await.status(), 200);
    assert_eq!(app.get(ME, None).await.status(), 401);
    // A token check hashes no password: it is not in the auth scope's budget.
    assert_eq!(app.get(WHOAMI, None).await.status(), 401);
    app.stop().await;
}

/// The attack: someone signs up with the email the operator will later
/// configure as the admin's. Start-up must refuse to promote that account,
/// naming the email, and leave the account exactly as it was.
async fn signup_cannot_claim_the_admin_email(db: TestDb) {
    const FUTURE: &str = "boss@shop.test";
    let app = spawn_app(db).await;
    let id = app
        .signup("Boss@Shop.test", USER_PASSWORD, "customer")
        .await;
    let squatter = app.login(FUTURE, USER_PASSWORD).await;
    let db = app.stop().await;

    let mut s = app_settings(&db);
    s.admin_email = Some(FUTURE.into());
    s.admin_password = Some("operator-chosen-2026".into());
    let err = Application::build(s)
        .await
        .err()
        .expect("start-up must refuse to promote a customer");
    assert!(err.to_string().contains(FUTURE), "{err}");

    let app = spawn_app(db).await;
    let tokens = app.login(FUTURE, USER_PASSWORD).await;
    let me = app.get_json(ME, Some(field(&tokens, "access_token"))).await;
    assert_eq!(
        (me["id"].as_i64(), me["role"].as_str()),
        (Some(id), Some("customer"))
    );
    // Its sessions still answer as the customer it is.
    let res = refresh(&app, field(&squatter, "refresh_token")).await;
    assert_eq!(res.status(), 200);
    let pair: Value = res.json().await.expect("json");
    assert_problem(
        app.get("/api/v1/admin/actors", Some(field(&pair, "access_token")))
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    app.stop().await;
}

/// The Redis key that mirrors the revocation of `refresh_token`'s session.
fn revocation_key(refresh_token: &str) -> String {
    let claims: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(refresh_token).expect("claims");
    format!("stampede:revoked-session:{}", field(&claims, "sid"))
}

async fn redis_has(key: &str) -> bool {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is required");
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<bool>(&mut conn)
        .await
        .expect("EXISTS")
}

/// A restart with the same admin password keeps the admin's sessions; a
/// restart with another one ends them (in the database and in Redis).
async fn admin_password_change_ends_its_sessions(db: TestDb) {
    let with_redis = |db: &TestDb, password: &str| {
        let mut s = app_settings(db);
        s.admin_password = Some(password.into());
        s.redis_url = Some(redis_url());
        s
    };
    let s = with_redis(&db, ADMIN_PASSWORD);
    let app = spawn_app_with(db, s).await;
    let first = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let db = app.stop().await;

    let s = with_redis(&db, ADMIN_PASSWORD);
    let app = spawn_app_with(db, s).await;
    let res = refresh(&app, field(&first, "refresh_token")).await;
    assert_eq!(
        res.status(),
        200,
        "an unchanged password keeps the sessions"
    );
    let kept: Value = res.json().await.expect("json");
    let db = app.stop().await;

    const ROTATED: &str = "rotated-admin-pass-2026";
    let s = with_redis(&db, ROTATED);
    let app = spawn_app_with(db, s).await;
    assert!(
        redis_has(&revocation_key(field(&kept, "refresh_token"))).await,
        "the revocation reaches the Redis mirror"
    );
    assert_problem(
        refresh(&app, field(&kept, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let old = app
        .post_json(
            LOGIN,
            None,
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_problem(old, 401, "UNAUTHORIZED").await;
    let admin = app.login(ADMIN_EMAIL, ROTATED).await;
    let res = app
        .get("/api/v1/admin/actors", Some(field(&admin, "access_token")))
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

/// An admin no longer named in configuration becomes a customer and its
/// sessions end; with no admin configured at all, none is left.
async fn a_dropped_admin_is_demoted(db: TestDb) {
    const SUCCESSOR: &str = "new-ops@stampede.test";
    let app = spawn_app(db).await;
    let old = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let db = app.stop().await;

    let mut s = app_settings(&db);
    s.admin_email = Some(SUCCESSOR.into());
    let app = spawn_app_with(db, s).await;
    assert_problem(
        refresh(&app, field(&old, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let demoted = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = field(&demoted, "access_token");
    assert_eq!(app.get_json(ME, Some(token)).await["role"], "customer");
    assert_problem(
        app.get("/api/v1/admin/actors", Some(token)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let successor = app.login(SUCCESSOR, ADMIN_PASSWORD).await;
    let res = app
        .get(
            "/api/v1/admin/actors",
            Some(field(&successor, "access_token")),
        )
        .await;
    assert_eq!(res.status(), 200);
    let db = app.stop().await;

    let mut s = app_settings(&db);
    s.admin_email = None;
    s.admin_password = None;
    let app = spawn_app_with(db, s).await;
    let res = app.login(SUCCESSOR, ADMIN_PASSWORD).await;
    assert_eq!(
        app.get_json(ME, Some(field(&res, "access_token"))).await["role"],
        "customer"
    );
    app.stop().await;
}

/// Settings whose per-IP budget stays out of the way of a test about
/// another budget.
fn open_auth(db: &TestDb) -> stampede::config::Settings {
    let mut s = app_settings(db);
    s.rate_limit.auth_per_second = 10_000;
    s.rate_limit.auth_burst = 10_000;
    s
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_json(LOGIN, None, json!({"email": email, "password": password}))
        .await
}

/// Many logins at once never run more argon2 hashes at once than the bound.
async fn password_hashing_is_bounded(db: TestDb) {
    let mut s = open_auth(&db);
    s.rate_limit.hash_concurrency = 2;
    s.rate_limit.hash_wait_ms = 120_000;
    let app = spawn_app_with(db, s).await;
    let logins = (0..24).map(|i| {
        let email = format!("nobody{i}@shop.test");
        let app = &app;
        async move { login_status(app, &email, "wrong-pass-1").await.status() }
    });
    let statuses = futures::future::join_all(logins).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(app.passwords.peak_in_flight(), 2, "hashes at once");
    app.stop().await;
}

/// With every slot taken and no wait allowed, the excess is answered
/// `503 OVERLOADED` with `Retry-After`, never queued or failed otherwise.
async fn a_busy_hasher_answers_503(db: TestDb) {
    let mut s = open_auth(&db);
    s.rate_limit.hash_concurrency = 1;
    s.rate_limit.hash_wait_ms = 0;
    let app = spawn_app_with(db, s).await;
    let logins = (0..16).map(|i| {
        let email = format!("crowd{i}@shop.test");
        let app = &app;
        async move { login_status(app, &email, "wrong-pass-1").await }
    });
    let answers = futures::future::join_all(logins).await;
    let mut busy = 0;
    for res in answers {
        match res.status().as_u16() {
            401 => {}
            503 => {
                busy += 1;
                assert_eq!(
                    res.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                    Some("1")
                );
                assert_problem(res, 503, "OVERLOADED").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy > 0,
        "one slot, no wait, 16 at once: some must be refused"
    );
    assert_eq!(app.passwords.peak_in_flight(), 1);
    app.stop().await;
}

/// Password guesses against one account are budgeted whatever address
/// they come from (here all from loopback): once spent, even the right
/// password is refused, while other accounts log in as usual.
async fn failed_logins_are_budgeted_per_account(db: TestDb) {
    let mut s = open_auth(&db);
    s.rate_limit.account_per_minute = 1;
    s.rate_limit.account_burst = 3;
    let app = spawn_app_with(db, s).await;
    app.signup("victim@shop.test", USER_PASSWORD, "customer")
        .await;
    app.signup("bystander@shop.test", USER_PASSWORD, "customer")
        .await;
    for _ in 0..3 {
        let res = login_status(&app, "victim@shop.test", "guess-pass-1").await;
        assert_problem(res, 401, "UNAUTHORIZED").await;
    }
    for email in ["victim@shop.test", " VICTIM@Shop.test"] {
        let res = login_status(&app, email, USER_PASSWORD).await;
        let retry_after: u64 = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in whole seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_problem(res, 429, "RATE_LIMITED").await;
    }
    app.login("bystander@shop.test", USER_PASSWORD).await;
    app.stop().await;
}

/// Withdrawal asks for the current password; wrong ones are refused and,
/// like the password check of a profile change, spend the account's budget.
async fn withdrawal_asks_for_the_password(db: TestDb) {
    let mut s = open_auth(&db);
    s.rate_limit.account_per_minute = 1;
    s.rate_limit.account_burst = 4;
    let app = spawn_app_with(db, s).await;
    let (_, token) = app.user("customer").await;
    let no_body = app.send(Method::DELETE, ME, Some(&token), None).await;
    assert_problem(no_body, 415, "VALIDATION_FAILED").await;
    let empty = app
        .send(Method::DELETE, ME, Some(&token), Some(json!({})))
        .await;
    assert_problem(empty, 400, "VALIDATION_FAILED").await;
    let wrong = json!({"current_password": "wrong-pass-1"});
    let res = app
        .send(Method::DELETE, ME, Some(&token), Some(wrong.clone()))
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let res = app
        .send(
            Method::PATCH,
            ME,
            Some(&token),
            Some(json!({"password": "new-drop-2027", "current_password": "wrong-pass-1"})),
        )
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let res = app
        .send(Method::DELETE, ME, Some(&token), Some(wrong))
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    // The budget (4: the login behind `token`, then three wrong passwords)
    // is spent: even the right password waits.
    let right = json!({"current_password": USER_PASSWORD});
    let res = app
        .send(Method::DELETE, ME, Some(&token), Some(right.clone()))
        .await;
    assert_problem(res, 429, "RATE_LIMITED").await;
    assert_eq!(
        app.get(ME, Some(&token)).await.status(),
        200,
        "not withdrawn"
    );

    let (_, other) = app.user("seller").await;
    let res = app
        .send(Method::DELETE, ME, Some(&other), Some(right))
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(app.get(ME, Some(&other)).await, 401, "UNAUTHORIZED").await;
    app.stop().await;
}

/// A one-line purchase of `sku` under `key`.
async fn buy(app: &TestApp, token: &str, key: &str, sku: i64) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"items": [{"sku_id": sku, "quantity": 1}], "shipping_address": "Seoul"}))
        .send()
        .await
        .expect("order")
}

/// A withdrawn seller's products leave listings, detail and wishlists at
/// once (whatever was cached), and their SKUs stop selling: a purchase is
/// refused `NOT_ON_SALE` without the stock engine reserving anything. An
/// order placed before still replays its first answer.
async fn a_withdrawn_sellers_products_leave_the_catalog(db: TestDb) {
    let app = spawn_app(db).await;
    app.signup("leaving@shop.test", USER_PASSWORD, "seller")
        .await;
    let leaving = app.login("leaving@shop.test", USER_PASSWORD).await;
    let leaving_token = field(&leaving, "access_token");
    let (_, staying) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(leaving_token, &[(1_000, 10)], None).await[0];
    app.product(&staying, &[(2_000, 10)], None).await;
    let before = buy(&app, &buyer, "before", sku).await;
    assert_eq!(before.status(), 201);
    let before: Value = before.json().await.expect("order");
    let product = before["items"][0]["product_id"].as_i64().expect("product");
    let res = app
        .post_json(
            "/api/v1/wishlist",
            Some(&buyer),
            json!({"product_id": product}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let me = app.get_json(ME, Some(leaving_token)).await;
    let seller_id = me["id"].as_i64().expect("id");
    // Warm every cache a withdrawal must empty.
    let detail = format!("/api/v1/products/{product}");
    let by_seller = format!("/api/v1/products?seller_id={seller_id}");
    let availability = format!("/api/v1/skus/{sku}/availability");
    app.get_json(&detail, None).await;
    assert_eq!(app.get_json("/api/v1/products", None).await["total"], 2);
    assert_eq!(app.get_json(&by_seller, None).await["total"], 1);
    assert_eq!(
        app.get_json("/api/v1/wishlist", Some(&buyer)).await["total"],
        1
    );
    let held = app.get_json(&availability, None).await;
    assert_eq!(held["reserved"], 1);

    let res = app
        .send(
            Method::DELETE,
            ME,
            Some(leaving_token),
            Some(json!({"current_password": USER_PASSWORD})),
        )
        .await;
    assert_eq!(res.status(), 204);

    assert_problem(app.get(&detail, None).await, 404, "NOT_FOUND").await;
    let all = app.get_json("/api/v1/products", None).await;
    assert_eq!(all["total"], 1, "{all}");
    assert_ne!(all["items"][0]["id"], product);
    assert_eq!(app.get_json(&by_seller, None).await["total"], 0);
    assert_eq!(
        app.get_json("/api/v1/wishlist", Some(&buyer)).await["total"],
        0
    );
    assert_problem(buy(&app, &buyer, "after", sku).await, 409, "NOT_ON_SALE").await;
    assert_eq!(
        app.get_json(&availability, None).await,
        held,
        "the stock engine reserved nothing"
    );
    // The order from before keeps its answer.
    let again = buy(&app, &buyer, "before", sku).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.expect("order");
    assert_eq!(again["order_id"], before["order_id"]);
    app.stop().await;
}

/// Emails are one account per mailbox after Unicode NFC normalisation (a
/// composed and a decomposed "é" are the same letter), and the database
/// tells apart what the application tells apart ("josé" is not "jose").
async fn emails_are_compared_after_nfc(db: TestDb) {
    let app = spawn_app(db).await;
    let composed = "jos\u{e9}@shop.test";
    let decomposed = "jose\u{301}@shop.test";
    let res = app
        .post_json(
            SIGNUP,
            None,
            signup_body(composed, USER_PASSWORD, "customer"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["email"], composed);
    let accented = body["id"].as_i64().expect("id");
    let res = app
        .post_json(
            SIGNUP,
            None,
            signup_body(decomposed, USER_PASSWORD, "seller"),
        )
        .await;
    assert_problem(res, 409, "CONFLICT").await;
    let tokens = app.login(decomposed, USER_PASSWORD).await;
    let me = app.get_json(ME, Some(field(&tokens, "access_token"))).await;
    assert_eq!(me["id"], accented);

    let plain = app
        .signup("jose@shop.test", "other-pass-2026", "customer")
        .await;
    assert_ne!(plain, accented);
    let tokens = app.login("jose@shop.test", "other-pass-2026").await;
    let me = app.get_json(ME, Some(field(&tokens, "access_token"))).await;
    assert_eq!(me["id"], plain);
    let wrong = login_status(&app, composed, "other-pass-2026").await;
    assert_problem(wrong, 401, "UNAUTHORIZED").await;

    if app.store.backend() == stampede::persistence::Backend::MySql {
        let row = sqlx::query(
            "SELECT c.CHARACTER_SET_NAME, c.COLLATION_NAME, t.TABLE_COLLATION \
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
             ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = 'users' \
             AND c.COLUMN_NAME = 'email'",
        )
        .fetch_one(app.store.pool())
        .await
        .expect("users.email");
        use sqlx::Row;
        let declared: (String, String, String) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(
            declared,
            (
                "utf8mb4".to_string(),
                "utf8mb4_bin".to_string(),
                "utf8mb4_unicode_ci".to_string()
            )
        );
    }
    app.stop().await;
}

on_both_stores!(
    signup_validates_and_normalises,
    profile_reads_and_edits,
    refresh_rotates_and_reuse_revokes_the_session,
    concurrent_refreshes_rotate_once,
    logout_survives_a_restart,
    password_change_ends_every_session,
    withdrawal_ends_the_account,
    roles_guard_admin_routes,
    auth_is_rate_limited_per_ip,
    signup_cannot_claim_the_admin_email,
    admin_password_change_ends_its_sessions,
    a_dropped_admin_is_demoted,
    password_hashing_is_bounded,
    a_busy_hasher_answers_503,
    failed_logins_are_budgeted_per_account,
    withdrawal_asks_for_the_password,
    a_withdrawn_sellers_products_leave_the_catalog,
    emails_are_compared_after_nfc,
);

fn redis_url() -> String {
    std::env::var("STAMPEDE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_are_mirrored_to_redis() {
    let db = TestDb::sqlite().await;
    let mut s = app_settings(&db);
    s.redis_url = Some(redis_url());
    let app = spawn_app_with(db, s).await;
    app.signup("mirror@shop.test", USER_PASSWORD, "customer")
        .await;
    let pair = app.login("mirror@shop.test", USER_PASSWORD).await;
    let claims: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(field(&pair, "refresh_token"))
            .expect("claims");
    let key = format!("stampede:revoked-session:{}", field(&claims, "sid"));

    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is required");
    let exists = |conn: &mut redis::aio::MultiplexedConnection| {
        let mut conn = conn.clone();
        let key = key.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(&key)
                .query_async::<bool>(&mut conn)
                .await
                .expect("EXISTS")
        }
    };
    assert!(!exists(&mut conn).await);
    let body = json!({"refresh_token": field(&pair, "refresh_token")});
    let res = app
        .post_json(LOGOUT, Some(field(&pair, "access_token")), body)
        .await;
    assert_eq!(res.status(), 204);
    assert!(exists(&mut conn).await, "logout mirrored to Redis");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("TTL");
    assert!(ttl > 0, "the mirror expires with the tokens (ttl {ttl})");
    assert_problem(
        refresh(&app, field(&pair, "refresh_token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    app.stop().await;
}

/// Behind a trusted proxy each forwarded client has its own bucket; by
/// default the header is ignored, so a client cannot pick a fresh bucket.
#[tokio::test]
async fn forwarded_for_is_trusted_only_when_configured() {
    for trusted in [false, true] {
        let db = TestDb::sqlite().await;
        let mut s = app_settings(&db);
        s.rate_limit.auth_per_second = 1;
        s.rate_limit.auth_burst = 1;
        s.rate_limit.trust_forwarded_for = trusted;
        let app = spawn_app_with(db, s).await;
        let from = |ip: &str| {
            app.client
                .post(app.url(REFRESH))
                .header("x-forwarded-for", ip)
                .json(&json!({"refresh_token": "garbage"}))
                .send()
        };
        assert_eq!(from("203.0.113.1").await.expect("send").status(), 401);
        let second = from("203.0.113.2").await.expect("send").status();
        let expected = if trusted { 401 } else { 429 };
        assert_eq!(second, expected, "trusted: {trusted}");
        app.stop().await;
    }
}

#[tokio::test]
async fn an_unreachable_redis_fails_startup() {
    let db = TestDb::sqlite().await;
    let mut s = app_settings(&db);
    s.redis_url = Some("redis://127.0.0.1:1".into());
    let err = stampede::startup::Application::build(s)
        .await
        .err()
        .expect("start-up must fail loudly");
    assert!(err.to_string().contains("Redis"), "{err}");
}

#[tokio::test]
async fn equal_token_secrets_are_refused() {
    let db = TestDb::sqlite().await;
    let mut s = app_settings(&db);
    s.refresh_token_secret = s.jwt_secret.clone();
    let err = stampede::startup::Application::build(s)
        .await
        .err()
        .expect("start-up must refuse");
    assert!(err.to_string().contains("must differ"), "{err}");
}

/// Outside development mode a token secret must hold at least 32 bytes.
#[tokio::test]
async fn short_token_secrets_are_refused() {
    let tunes: [Tune; 2] = [
        |s| s.jwt_secret = Some("a".repeat(31)),
        |s| s.refresh_token_secret = Some("r".repeat(31)),
    ];
    for tune in tunes {
        let db = TestDb::sqlite().await;
        let mut s = app_settings(&db);
        tune(&mut s);
        let err = Application::build(s)
            .await
            .err()
            .expect("start-up must refuse a short secret");
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }
}

/// A change to test settings.
type Tune = fn(&mut stampede::config::Settings);

/// Once anything is configured (here a database and an admin), a missing
/// secret is refused instead of made up for the process.
#[tokio::test]
async fn missing_token_secrets_are_refused_once_anything_is_configured() {
    let tunes: [(Tune, &str); 2] = [
        (|s| s.jwt_secret = None, "STAMPEDE_JWT_SECRET"),
        (
            |s| s.refresh_token_secret = None,
            "STAMPEDE_REFRESH_TOKEN_SECRET",
        ),
    ];
    for (tune, key) in tunes {
        let db = TestDb::sqlite().await;
        let mut s = app_settings(&db);
        tune(&mut s);
        let err = Application::build(s)
            .await
            .err()
            .expect("start-up must refuse a missing secret");
        assert!(err.to_string().contains(key), "{err}");
    }
}

/// `cargo run` with nothing configured: the binary starts in development
/// mode (random secrets, embedded SQLite in the working directory) and says
/// so in one WARN line.
#[tokio::test]
async fn nothing_configured_starts_in_development_mode() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let port = common::process::free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .env_clear()
        // Where to listen is not configuration that makes it production.
        .env("STAMPEDE_BIND", format!("127.0.0.1:{port}"))
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stampede");
    common::process::wait_ready(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}{SIGNUP}"))
        .json(&signup_body("dev@shop.test", USER_PASSWORD, "customer"))
        .send()
        .await
        .expect("signup");
    assert_eq!(res.status(), 201);
    child.start_kill().expect("kill");
    child.wait().await.expect("reap");
    let mut log = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut log)
        .await
        .expect("read log");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("DEVELOPMENT MODE"))
        .collect();
    assert_eq!(warnings.len(), 1, "one clear line:\n{log}");
    assert!(dir.path().join("stampede.db").exists());
}
