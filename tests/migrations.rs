//! A database written by an earlier release keeps working: orders stored
//! with an HTTP status and body as their first answer are converted to the
//! domain value (migration 0005) and replay the same answer; accounts keep
//! their rows when the users table gets its declared charset (0006).

mod common;

use common::TestDb;
use stampede::domain::email::Email;
use stampede::domain::ids::OrderId;
use stampede::domain::reason::{FirstAnswer, RejectReason};
use stampede::domain::role::Role;
use stampede::persistence::{Backend, Store};

/// Applies the migrations before 0005 only, as the earlier release did.
async fn migrate_to_0004(store: &Store) {
    migrate_before(store, "0005").await;
}

/// Applies the migrations whose names sort before `first_left_out`.
async fn migrate_before(store: &Store, first_left_out: &str) {
    let folder = match store.backend() {
        Backend::Sqlite => "sqlite",
        Backend::MySql => "mysql",
    };
    let earlier = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(format!("migrations/{folder}")).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name < first_left_out {
            std::fs::copy(&path, earlier.path().join(name)).expect("copy");
        }
    }
    sqlx::migrate::Migrator::new(earlier.path())
        .await
        .expect("migrator")
        .run(store.pool())
        .await
        .expect("migrate to an earlier release");
}

async fn legacy_order(
    store: &Store,
    key: &str,
    status: &str,
    reason: Option<&str>,
    answer: Option<(i64, &str)>,
) -> OrderId {
    let id = OrderId::derive(stampede::domain::ids::UserId::new(1), key);
    sqlx::query(
        "INSERT INTO orders (id, buyer_id, idempotency_key, request_hash, status, step, reason, \
         total, currency, shipping_address, pay_on_place, payment_due_at, attempts, \
         response_status, response_body, created_at, updated_at) \
         VALUES (?, 1, ?, 'h', ?, ?, ?, 1000, 'KRW', 'Seoul', 0, 5000, 0, ?, ?, 1000, 1000)",
    )
    .bind(id.to_string())
    .bind(key.to_owned())
    .bind(status.to_owned())
    .bind(if status == "AWAITING_PAYMENT" || status == "PENDING" {
        "await_payment"
    } else {
        "done"
    })
    .bind(reason.map(str::to_owned))
    .bind(answer.map(|a| a.0))
    .bind(answer.map(|a| a.1.to_owned()))
    .execute(store.pool())
    .await
    .expect("legacy order");
    id
}

async fn stored_http_answers_become_domain_answers(db: TestDb) {
    let store = Store::connect(&db.url, 4).await.expect("connect");
    migrate_to_0004(&store).await;
    let accepted = legacy_order(&store, "a", "AWAITING_PAYMENT", None, Some((201, "{}"))).await;
    let refused = legacy_order(
        &store,
        "r",
        "REJECTED",
        Some("OUT_OF_STOCK"),
        Some((409, "{}")),
    )
    .await;
    let failed = legacy_order(
        &store,
        "u",
        "CANCELLED",
        Some("UNAVAILABLE"),
        Some((503, "{}")),
    )
    .await;
    let undecided = legacy_order(&store, "p", "PENDING", None, None).await;

    store.migrate().await.expect("migrate to the latest");

    for (id, expected) in [
        (accepted, Some(FirstAnswer::Accepted)),
        (
            refused,
            Some(FirstAnswer::Refused(RejectReason::OutOfStock)),
        ),
        (failed, Some(FirstAnswer::Unavailable)),
        (undecided, None),
    ] {
        let order = store.order(id).await.expect("read").expect("order");
        assert_eq!(order.first_answer, expected, "{id}");
    }
    store.close().await;
}

/// Accounts written before 0006 (which declares the users table's charset
/// and collations on MySQL) are found by their email and keep every field.
async fn accounts_survive_the_users_charset(db: TestDb) {
    let store = Store::connect(&db.url, 4).await.expect("connect");
    migrate_before(&store, "0006").await;
    let email = Email::parse("min-ji@shop.test").expect("email");
    // Written as that release wrote it (today's signup also appends an
    // outbox event, a table that release did not have).
    sqlx::query(
        "INSERT INTO users (email, password_hash, name, role, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(email.as_str().to_owned())
    .bind("$argon2id$v=19$stub")
    .bind("\u{ae40}\u{bbfc}\u{c9c0}")
    .bind(Role::Seller.as_str())
    .bind(0_i64)
    .execute(store.pool())
    .await
    .expect("user");
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = ?")
        .bind(email.as_str().to_owned())
        .fetch_one(store.pool())
        .await
        .expect("its id");
    let id = stampede::domain::ids::UserId::new(id);

    store.migrate().await.expect("migrate to the latest");

    let user = store
        .find_user_by_email(&email)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(
        (
            user.id,
            user.name.as_str(),
            user.role,
            user.password_hash.as_str()
        ),
        (
            id,
            "\u{ae40}\u{bbfc}\u{c9c0}",
            Role::Seller,
            "$argon2id$v=19$stub"
        )
    );
    store.close().await;
}

on_both_stores!(
    stored_http_answers_become_domain_answers,
    accounts_survive_the_users_charset,
);
