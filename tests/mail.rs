//! Email verification and mail out, over real HTTP against a real SMTP
//! server process (aiosmtpd, `tests/common/smtp.rs`): codes read from the
//! received mail, their budgets and expiry, purchases refused until the
//! email is verified, notifications driven by the outbox, retries while the
//! SMTP server is down (visible to admins), and logging out everywhere.

mod common;

use std::time::Duration;

use common::smtp::{SmtpSink, code_of, link_token_of};
use common::{
    TestApp, TestDb, USER_PASSWORD, app_settings, assert_problem, fast_orders, spawn_app_with,
};
use serde_json::{Value, json};
use stampede::config::Settings;

const SIGNUP: &str = "/api/v1/auth/signup";
const VERIFY: &str = "/api/v1/auth/verify-email";
const RESEND: &str = "/api/v1/auth/resend-verification";
const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT_ALL: &str = "/api/v1/auth/logout-all";
const ME: &str = "/api/v1/users/me";
const ADMIN_MAIL: &str = "/api/v1/admin/mail";
/// How long a mail may take to arrive.
const ARRIVES: Duration = Duration::from_secs(10);
const CODE_SUBJECT: &str = "Your stampede verification code";

/// The test settings with verification required and mail to `smtp`.
fn mail_settings(db: &TestDb, smtp: &SmtpSink) -> Settings {
    let mut s = app_settings(db);
    fast_orders(&mut s);
    s.require_verified_email = true;
    s.mail.smtp_url = Some(smtp.url());
    s.mail.poll_ms = 50;
    s.mail.retry_base_ms = 100;
    s.mail.retry_max_ms = 400;
    s.mail.send_timeout_ms = 2_000;
    s.mail.gap_wait_ms = 500;
    s
}

/// A fresh email for this test run.
fn email(who: &str) -> String {
    format!("{who}-{}@shop.test", uuid::Uuid::new_v4().simple())
}

async fn signup(app: &TestApp, email: &str) -> i64 {
    let res = app
        .post_json(
            SIGNUP,
            None,
            json!({"email": email, "password": USER_PASSWORD, "name": "Kim Minsu", "role": "customer"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["email_verified"], false);
    body["id"].as_i64().expect("id")
}

async fn verify(app: &TestApp, email: &str, code: &str) -> reqwest::Response {
    app.post_json(VERIFY, None, json!({"email": email, "code": code}))
        .await
}

/// The code of the latest verification mail to `email`.
async fn latest_code(smtp: &SmtpSink, email: &str, expected: usize) -> String {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let codes: Vec<String> = smtp
            .messages()
            .iter()
            .filter(|m| m.contains(email) && m.contains(CODE_SUBJECT))
            .map(|m| code_of(m))
            .collect();
        if codes.len() >= expected {
            return codes[expected - 1].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{expected} codes to {email} did not arrive: {:#?}",
            smtp.messages()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Signs `email` up, verifies it with the mailed code, logs in.
async fn verified_customer(app: &TestApp, smtp: &SmtpSink, email: &str) -> Value {
    signup(app, email).await;
    let code = latest_code(smtp, email, 1).await;
    assert_eq!(verify(app, email, &code).await.status(), 200);
    app.login(email, USER_PASSWORD).await
}

fn token(tokens: &Value, which: &str) -> String {
    tokens[which].as_str().expect("token").to_string()
}

async fn purchase_waits_for_a_verified_email(db: TestDb) {
    let smtp = SmtpSink::start().await;
    let s = mail_settings(&db, &smtp);
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let sku = app.product(&seller, &[(1_000, 10)], None).await[0];
    let kim = email("kim");
    signup(&app, &kim).await;
    let tokens = app.login(&kim, USER_PASSWORD).await;
    let access = token(&tokens, "access_token");
    assert_eq!(
        app.get_json(ME, Some(&access)).await["email_verified"],
        false
    );
    let refused = app.buy_one(&access, "unverified-1", sku).await;
    assert_problem(refused, 403, "EMAIL_NOT_VERIFIED").await;

    let mail = smtp.wait_for(&kim, CODE_SUBJECT, ARRIVES).await;
    assert!(mail.contains("token="), "the mail carries a link: {mail}");
    let res = verify(&app, &kim, &code_of(&mail)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.expect("json")["email_verified"],
        true
    );
    assert_eq!(
        app.get_json(ME, Some(&access)).await["email_verified"],
        true
    );
    // The old token still says "not verified"; a refreshed one does not.
    let stale = app.buy_one(&access, "unverified-2", sku).await;
    assert_problem(stale, 403, "EMAIL_NOT_VERIFIED").await;
    let res = app
        .post_json(
            REFRESH,
            None,
            json!({"refresh_token": token(&tokens, "refresh_token")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let fresh = token(&res.json::<Value>().await.expect("json"), "access_token");
    assert_eq!(app.buy_one(&fresh, "verified-1", sku).await.status(), 201);

    // The link verifies too, once.
    let lee = email("lee");
    signup(&app, &lee).await;
    let mail = smtp.wait_for(&lee, CODE_SUBJECT, ARRIVES).await;
    let link = format!("{VERIFY}?token={}", link_token_of(&mail));
    let res = app.get(&link, None).await;
    assert_eq!(res.status(), 200);
    let lee_tokens = app.login(&lee, USER_PASSWORD).await;
    let lee_access = token(&lee_tokens, "access_token");
    assert_eq!(app.buy_one(&lee_access, "lee-1", sku).await.status(), 201);
    assert_problem(app.get(&link, None).await, 410, "CODE_EXPIRED").await;
    let bad = app.get(&format!("{VERIFY}?token=nothex"), None).await;
    assert_problem(bad, 400, "VALIDATION_FAILED").await;
    // The bootstrapped admin counts as verified.
    let admin = app.admin_token().await;
    assert_eq!(app.get_json(ME, Some(&admin)).await["email_verified"], true);
    app.stop().await;
}

async fn wrong_codes_burn_the_code(db: TestDb) {
    let smtp = SmtpSink::start().await;
    let mut s = mail_settings(&db, &smtp);
    s.verification.max_attempts = 3;
    let app = spawn_app_with(db, s).await;
    let kim = email("kim");
    signup(&app, &kim).await;
    let code = latest_code(&smtp, &kim, 1).await;
    let wrong = other_than(&code);
    for left in [2, 1] {
        let body = assert_problem(verify(&app, &kim, &wrong).await, 400, "INVALID_CODE").await;
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains(&format!("{left} tries left")),
            "{body}"
        );
    }
    let body = assert_problem(verify(&app, &kim, &wrong).await, 400, "INVALID_CODE").await;
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("no tries left"),
        "{body}"
    );
    // Burnt: the right code no longer works.
    assert_problem(verify(&app, &kim, &code).await, 410, "CODE_EXPIRED").await;
    // Malformed input and unknown accounts.
    assert_problem(verify(&app, &kim, "12ab56").await, 400, "VALIDATION_FAILED").await;
    assert_problem(
        verify(&app, "nobody@shop.test", &code).await,
        400,
        "INVALID_CODE",
    )
    .await;
    // A new code works.
    assert_eq!(
        app.post_json(RESEND, None, json!({"email": kim}))
            .await
            .status(),
        202
    );
    let fresh = latest_code(&smtp, &kim, 2).await;
    assert_eq!(verify(&app, &kim, &fresh).await.status(), 200);
    app.stop().await;
}

async fn a_code_expires(db: TestDb) {
    let smtp = SmtpSink::start().await;
    let mut s = mail_settings(&db, &smtp);
    s.verification.code_ttl_secs = 1;
    let app = spawn_app_with(db, s).await;
    let kim = email("kim");
    signup(&app, &kim).await;
    let code = latest_code(&smtp, &kim, 1).await;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_problem(verify(&app, &kim, &code).await, 410, "CODE_EXPIRED").await;
    app.stop().await;
}

async fn a_code_works_once(db: TestDb) {
    let smtp = SmtpSink::start().await;
    let s = mail_settings(&db, &smtp);
    let app = spawn_app_with(db, s).await;
    let kim = email("kim");
    signup(&app, &kim).await;
    let mail = smtp.wait_for(&kim, CODE_SUBJECT, ARRIVES).await;
    let code = code_of(&mail);
    assert_eq!(verify(&app, &kim, &code).await.status(), 200);
    assert_problem(verify(&app, &kim, &code).await, 409, "CONFLICT").await;
    let link = format!("{VERIFY}?token={}", link_token_of(&mail));
    assert_problem(app.get(&link, None).await, 410, "CODE_EXPIRED").await;
    // A resend replaces the code: the first one is wrong from then on.
    let lee = email("lee");
    signup(&app, &lee).await;
    let first = latest_code(&smtp, &lee, 1).await;
    assert_eq!(
        app.post_json(RESEND, None, json!({"email": lee}))
            .await
            .status(),
        202
    );
    let second = latest_code(&smtp, &lee, 2).await;
    if first != second {
        assert_problem(verify(&app, &lee, &first).await, 400, "INVALID_CODE").await;
    }
    assert_eq!(verify(&app, &lee, &second).await.status(), 200);
    app.stop().await;
}

async fn resends_are_budgeted(db: TestDb) {
    let smtp = SmtpSink::start().await;
    let mut s = mail_settings(&db, &smtp);
    s.verification.resend_per_account_per_hour = 2;
    s.verification.resend_per_ip_per_hour = 5;
    let app = spawn_app_with(db, s).await;
    let kim = email("kim");
    signup(&app, &kim).await;
    let resend = |who: String| {
        let app = &app;
        async move { app.post_json(RESEND, None, json!({"email": who})).await }
    };
    assert_eq!(resend(kim.clone()).await.status(), 202);
    assert_eq!(resend(kim.clone()).await.status(), 202);
    let spent = resend(kim.clone()).await;
    assert!(spent.headers().contains_key("retry-after"));
    assert_problem(spent, 429, "RATE_LIMITED").await;
    latest_code(&smtp, &kim, 3).await;
    // The client's budget: 3 spent above, 2 left for any account.
    assert_eq!(resend(email("a")).await.status(), 202);
    assert_eq!(resend(email("b")).await.status(), 202);
    assert_problem(resend(email("c")).await, 429, "RATE_LIMITED").await;
    assert_problem(
        app.post_json(RESEND, None, json!({"email": "not an email"}))
            .await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    // Signup, then two resends: three codes, and no more were sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.count(&kim, CODE_SUBJECT), 3);
    app.stop().await;
}

async fn notifications_arrive_by_smtp(db: TestDb) {
    let smtp = SmtpSink::start().await;
    let mut s = mail_settings(&db, &smtp);
    // Slow enough to cancel a paid order before it ships.
    s.shipments.ship_after_ms = 1_500;
    s.shipments.deliver_after_ms = 2_500;
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let sku = app.product(&seller, &[(2_500, 10)], None).await[0];
    let kim = email("kim");
    let tokens = verified_customer(&app, &smtp, &kim).await;
    let access = token(&tokens, "access_token");
    smtp.wait_for(&kim, "Subject: Welcome to stampede", ARRIVES)
        .await;

    let paid = place(&app, &access, "n-1", sku, true).await;
    let short = &paid[..8];
    smtp.wait_for(&kim, &format!("Order {short} is paid"), ARRIVES)
        .await;
    smtp.wait_for(&kim, &format!("Order {short} has shipped"), ARRIVES)
        .await;
    let delivered = smtp
        .wait_for(&kim, &format!("Order {short} was delivered"), ARRIVES)
        .await;
    assert!(delivered.contains("Seoul, Gangnam-gu 1"), "{delivered}");

    // Cancelled after payment: refunded.
    let refunded = place(&app, &access, "n-2", sku, true).await;
    cancel(&app, &access, &refunded).await;
    let mail = smtp
        .wait_for(
            &kim,
            &format!("Order {} was cancelled", &refunded[..8]),
            ARRIVES,
        )
        .await;
    assert!(mail.contains("BUYER_CANCELLED"), "{mail}");
    assert!(mail.contains("2500 KRW has been refunded"), "{mail}");
    // Cancelled before payment: nothing to refund.
    let unpaid = place(&app, &access, "n-3", sku, false).await;
    cancel(&app, &access, &unpaid).await;
    let mail = smtp
        .wait_for(
            &kim,
            &format!("Order {} was cancelled", &unpaid[..8]),
            ARRIVES,
        )
        .await;
    assert!(mail.contains("no payment had been taken"), "{mail}");
    // One mail per event: nothing was sent twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.count(&kim, &format!("Order {short} is paid")),
        1,
        "{:#?}",
        smtp.messages()
    );
    assert_eq!(smtp.count(&kim, "Subject: Welcome to stampede"), 1);
    app.stop().await;
}

/// Places one unit of `sku` (paying at once when `pay`); answers the order id.
async fn place(app: &TestApp, token: &str, key: &str, sku: i64, pay: bool) -> String {
    let mut body = json!({"items": [{"sku_id": sku, "quantity": 1}],
                          "shipping_address": "Seoul, Gangnam-gu 1"});
    if pay {
        body["payment"] = json!({"method": "card"});
    }
    let res = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("json");
    order["order_id"].as_str().expect("order id").to_string()
}

async fn cancel(app: &TestApp, token: &str, order: &str) {
    let res = app
        .post_json(
            &format!("/api/v1/orders/{order}/cancel"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "cancel {order}");
}

async fn a_failed_send_is_retried_and_shown(db: TestDb) {
    let mut smtp = SmtpSink::start().await;
    smtp.stop().await;
    let s = mail_settings(&db, &smtp);
    let app = spawn_app_with(db, s).await;
    let admin = app.admin_token().await;
    let kim = email("kim");
    signup(&app, &kim).await;
    // The server is down: the mail waits, and admins see why.
    let deadline = tokio::time::Instant::now() + ARRIVES;
    let view = loop {
        let view = app.get_json(ADMIN_MAIL, Some(&admin)).await;
        let failing = view["last_errors"]
            .as_array()
            .expect("last_errors")
            .iter()
            .any(|e| e["recipient"] == kim.as_str() && e["attempts"].as_i64() >= Some(2));
        if failing {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failure shown: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(view["queued"].as_u64() >= Some(1), "{view}");
    assert!(
        view["transport"]
            .as_str()
            .expect("transport")
            .starts_with("smtp://127.0.0.1:")
    );
    let metrics = app.get("/metrics", None).await.text().await.expect("text");
    assert!(
        metrics.contains("stampede_mail_send_failures_total"),
        "{metrics}"
    );
    // Back up: the mail arrives, and the queue says it went.
    smtp.run().await;
    let mail = smtp.wait_for(&kim, CODE_SUBJECT, ARRIVES).await;
    assert_eq!(verify(&app, &kim, &code_of(&mail)).await.status(), 200);
    let view = app.get_json(ADMIN_MAIL, Some(&admin)).await;
    assert!(view["sent"].as_u64() >= Some(1), "{view}");
    assert!(
        !view["last_errors"]
            .as_array()
            .expect("last_errors")
            .iter()
            .any(|e| e["recipient"] == kim.as_str() && e["kind"] == "verification"),
        "a sent mail is no longer a failure: {view}"
    );
    // Admins only.
    assert_problem(app.get(ADMIN_MAIL, None).await, 401, "UNAUTHORIZED").await;
    let (_, customer) = app.user("customer").await;
    assert_problem(app.get(ADMIN_MAIL, Some(&customer)).await, 403, "FORBIDDEN").await;
    app.stop().await;
}

async fn logout_all_ends_every_session(db: TestDb) {
    // No relay configured: mails are files in the test's mail directory.
    let mail_dir = db.mail_dir.path().to_path_buf();
    let s = app_settings(&db);
    let app = spawn_app_with(db, s).await;
    let kim = email("kim");
    signup(&app, &kim).await;
    let phone = app.login(&kim, USER_PASSWORD).await;
    let laptop = app.login(&kim, USER_PASSWORD).await;
    assert_problem(
        app.post_json(LOGOUT_ALL, None, json!({})).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let res = app
        .send(
            reqwest::Method::POST,
            LOGOUT_ALL,
            Some(&token(&phone, "access_token")),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    for device in [&phone, &laptop] {
        let me = app.get(ME, Some(&token(device, "access_token"))).await;
        assert_problem(me, 401, "UNAUTHORIZED").await;
        let refresh = app
            .post_json(
                REFRESH,
                None,
                json!({"refresh_token": token(device, "refresh_token")}),
            )
            .await;
        assert_problem(refresh, 401, "UNAUTHORIZED").await;
    }
    // A new login works; the old tokens stay refused after a restart.
    let again = app.login(&kim, USER_PASSWORD).await;
    assert_eq!(
        app.get(ME, Some(&token(&again, "access_token")))
            .await
            .status(),
        200
    );
    let db = app.stop().await;
    let s = app_settings(&db);
    let app = spawn_app_with(db, s).await;
    let stale = app.get(ME, Some(&token(&laptop, "access_token"))).await;
    assert_problem(stale, 401, "UNAUTHORIZED").await;
    assert_eq!(
        app.get(ME, Some(&token(&again, "access_token")))
            .await
            .status(),
        200
    );
    // Without a relay the welcome mail was written as a file.
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let found = std::fs::read_dir(&mail_dir)
            .expect("mail dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .any(|e| {
                std::fs::read_to_string(e.path())
                    .is_ok_and(|m| m.contains(&kim) && m.contains("Subject: Welcome to stampede"))
            });
        if found {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no welcome mail in {mail_dir:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

async fn a_mail_is_given_up_after_its_attempts(db: TestDb) {
    let mut smtp = SmtpSink::start().await;
    smtp.stop().await;
    let mut s = mail_settings(&db, &smtp);
    s.mail.max_attempts = 2;
    let app = spawn_app_with(db, s).await;
    let admin = app.admin_token().await;
    let lee = email("lee");
    signup(&app, &lee).await;
    // Two failed attempts each: the code and the welcome mail are given
    // up on, and admins see them so.
    let deadline = tokio::time::Instant::now() + ARRIVES;
    let view = loop {
        let view = app.get_json(ADMIN_MAIL, Some(&admin)).await;
        let given_up = view["last_errors"]
            .as_array()
            .expect("last_errors")
            .iter()
            .filter(|e| e["recipient"] == lee.as_str() && e["status"] == "failed")
            .count();
        if given_up == 2 {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never given up: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(view["failed"], 2, "{view}");
    let lees = view["last_errors"].as_array().expect("last_errors");
    for failure in lees.iter().filter(|e| e["recipient"] == lee.as_str()) {
        assert_eq!(failure["attempts"], 2, "{failure}");
        assert!(failure["next_attempt_at"].is_null(), "{failure}");
        assert!(failure["given_up_at"].is_string(), "{failure}");
    }
    let metrics = app.get("/metrics", None).await.text().await.expect("text");
    assert!(
        metrics.contains("stampede_mail_queue{status=\"failed\"}"),
        "{metrics}"
    );
    // The server is back: a given-up mail stays given up (sent mail would
    // show as `sent`), and a resend makes a new mail that does go out.
    smtp.run().await;
    let res = app.post_json(RESEND, None, json!({"email": lee})).await;
    assert_eq!(res.status(), 202);
    let mail = smtp.wait_for(&lee, CODE_SUBJECT, ARRIVES).await;
    assert_eq!(verify(&app, &lee, &code_of(&mail)).await.status(), 200);
    let to_lee: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.contains(lee.as_str()))
        .collect();
    assert_eq!(
        to_lee.len(),
        1,
        "a given-up mail was sent after all: {to_lee:#?}"
    );
    let view = app.get_json(ADMIN_MAIL, Some(&admin)).await;
    assert_eq!(view["failed"], 2, "{view}");
    app.stop().await;
}

async fn sent_mail_is_pruned_after_its_retention(db: TestDb) {
    let smtp = SmtpSink::start().await;
    let s = mail_settings(&db, &smtp);
    let app = spawn_app_with(db, s).await;
    let admin = app.admin_token().await;
    let ann = email("ann");
    signup(&app, &ann).await;
    // Signup queues two mails: the code at once, the welcome through the
    // notifier a moment later. Both must be sent (and nothing queued) before
    // the prune, or a late send lands between the count and the delete.
    smtp.wait_for(&ann, CODE_SUBJECT, ARRIVES).await;
    smtp.wait_for(&ann, "Subject: Welcome to stampede", ARRIVES)
        .await;
    let deadline = tokio::time::Instant::now() + ARRIVES;
    let sent = loop {
        let view = app.get_json(ADMIN_MAIL, Some(&admin)).await;
        let sent = view["sent"].as_u64().expect("sent");
        if sent >= 2 && view["queued"] == 0 {
            break sent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never all sent: {view}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A cutoff before the send keeps it; one after deletes every sent mail
    // and nothing else.
    let before = stampede::domain::time::Timestamp::now().minus(Duration::from_secs(3600));
    assert_eq!(app.store.prune_sent_mail(before).await.expect("prune"), 0);
    let after = stampede::domain::time::Timestamp::now().plus(Duration::from_secs(1));
    assert_eq!(app.store.prune_sent_mail(after).await.expect("prune"), sent);
    let view = app.get_json(ADMIN_MAIL, Some(&admin)).await;
    assert_eq!(view["sent"], 0, "{view}");
    app.stop().await;
}

on_both_stores!(
    purchase_waits_for_a_verified_email,
    wrong_codes_burn_the_code,
    a_code_expires,
    a_code_works_once,
    resends_are_budgeted,
    notifications_arrive_by_smtp,
    a_failed_send_is_retried_and_shown,
    a_mail_is_given_up_after_its_attempts,
    sent_mail_is_pruned_after_its_retention,
    logout_all_ends_every_session,
);
