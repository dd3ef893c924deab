//! Shared test set-up: a fresh real database per test (a SQLite file in a
//! temp dir, or a MariaDB database named after the test) and fast engine
//! settings.
#![allow(dead_code, unused_macros)]

pub mod books;
pub mod browser;
pub mod community;
pub mod nats;
pub mod private_mariadb;
pub mod process;
pub mod python;
pub mod s3;
pub mod smtp;

use sqlx::Row;
use stampede::config::{AckMode, InventorySettings};
use stampede::domain::ids::{ReservationId, SkuId};
use stampede::domain::quantity::Quantity;
use stampede::persistence::Store;

pub fn mysql_server_url() -> String {
    std::env::var("STAMPEDE_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// The longest database name MariaDB accepts.
const MAX_DB_NAME: usize = 64;

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// The app's media directory (images), kept as long as the database.
    pub media: tempfile::TempDir,
    /// Where the app's mails go as files (no SMTP relay configured).
    pub mail_dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("stampede.db").display());
        Self {
            url,
            _dir: Some(dir),
            media: tempfile::tempdir().expect("media dir"),
            mail_dir: tempfile::tempdir().expect("mail dir"),
        }
    }

    /// A MariaDB database `stampede_t_<name>` (with `STAMPEDE_TEST_DB_TAG`
    /// appended when set, so two checkouts can test on one server at once),
    /// dropped and created afresh. MariaDB must be running:
    /// `scripts/test.sh` makes sure it is.
    pub async fn mysql(name: &str) -> Self {
        let server = mysql_server_url();
        let store = Store::connect(&server, 2).await.unwrap_or_else(|e| {
            panic!("MariaDB at {server} is required for this test (run scripts/test.sh): {e}")
        });
        let tag = std::env::var("STAMPEDE_TEST_DB_TAG").unwrap_or_default();
        assert!(
            tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "STAMPEDE_TEST_DB_TAG may hold only letters, digits and _"
        );
        let mut db = format!("stampede_t_{name}{tag}");
        if db.len() > MAX_DB_NAME {
            // MariaDB names stop at 64 characters: keep the tag (it tells the
            // checkouts apart) and a hash of the whole name (it tells tests apart).
            use sha2::Digest;
            let digest = sha2::Sha256::digest(db.as_bytes());
            let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
            let keep = MAX_DB_NAME.saturating_sub(tag.len() + hash.len() + 1);
            db = format!("{}_{hash}{tag}", &db[..keep]);
        }
        for stmt in [
            format!("DROP DATABASE IF EXISTS {db}"),
            format!("CREATE DATABASE {db}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
                .execute(store.pool())
                .await
                .expect("create test database");
        }
        store.close().await;
        let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
        Self {
            url: format!("{base}/{db}"),
            _dir: None,
            media: tempfile::tempdir().expect("media dir"),
            mail_dir: tempfile::tempdir().expect("mail dir"),
        }
    }

    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, 16).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

pub fn id(s: impl std::fmt::Display) -> ReservationId {
    ReservationId::parse(s.to_string()).expect("reservation id")
}

pub fn qty(n: i64) -> Quantity {
    Quantity::new(n).expect("quantity")
}

pub fn settings(ack: AckMode) -> InventorySettings {
    InventorySettings {
        ack,
        housekeeping_ms: 50,
        ..InventorySettings::default()
    }
}

/// `(on_hand, reserved, sold)` as the database has it.
pub async fn db_levels(store: &Store, sku: SkuId) -> (i64, i64, i64) {
    let row = sqlx::query("SELECT on_hand, reserved, sold FROM sku_stock WHERE sku_id = ?")
        .bind(sku.get())
        .fetch_one(store.pool())
        .await
        .expect("sku row");
    (row.get(0), row.get(1), row.get(2))
}

/// Reservation rows of a SKU in `status`.
pub async fn db_count(store: &Store, sku: SkuId, status: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM reservations WHERE sku_id = ? AND status = ?")
        .bind(sku.get())
        .bind(status.to_owned())
        .fetch_one(store.pool())
        .await
        .expect("count")
        .get(0)
}

/// Runs each named async test fn once on SQLite and once on MariaDB.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::common::TestDb::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mariadb() {
                super::$name($crate::common::TestDb::mysql(stringify!($name)).await).await
            }
        }
    )*};
}

/// A running server on a random port, talking HTTP.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub inventory: stampede::actors::Inventory,
    pub orders: stampede::actors::Orders,
    pub passwords: stampede::http::passwords::Passwords,
    pub store: Store,
    pub handle: stampede::startup::StopHandle,
    pub stopped: tokio::task::JoinHandle<Result<(), std::io::Error>>,
    pub db: TestDb,
}

pub const ADMIN_EMAIL: &str = "ops@stampede.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery";
pub const USER_PASSWORD: &str = "drop-day-2026";
/// Token secrets of at least 32 bytes, as start-up requires outside
/// development mode (these settings configure a database and an admin).
pub const REFRESH_SECRET: &str = "refresh-secret-refresh-secret-000";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret";

/// Providers and carrier fast enough for tests: a parcel ships after 60 ms
/// and is delivered after 120 ms; sagas poll every 20 ms.
pub fn fast_orders(s: &mut stampede::config::Settings) {
    s.payments.latency_ms = 1;
    s.payments.timeout_ms = 30;
    s.payments.late_callback_ms = 60;
    s.shipments.latency_ms = 1;
    s.shipments.timeout_ms = 30;
    s.shipments.ship_after_ms = 60;
    s.shipments.deliver_after_ms = 120;
    s.orders.track_interval_ms = 20;
    s.orders.retry_backoff_ms = 5;
    s.orders.provider_timeout_ms = 1_000;
}

pub fn app_settings(db: &TestDb) -> stampede::config::Settings {
    let mut s = stampede::config::Settings {
        bind: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        jwt_secret: Some(JWT_SECRET.into()),
        refresh_token_secret: Some(REFRESH_SECRET.into()),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        http_workers: Some(2),
        inventory: settings(AckMode::Durable),
        ..Default::default()
    };
    s.media.dir = db.media.path().display().to_string();
    // Tests run many apps at once on a few cores: a signup waiting its turn
    // to hash must not be answered 503 (the tests of that set their own).
    s.rate_limit.hash_wait_ms = 30_000;
    // Buying needs no verified email unless a test turns it on (tests/mail.rs).
    s.require_verified_email = false;
    s.mail.dir = db.mail_dir.path().display().to_string();
    s
}

pub async fn spawn_app(db: TestDb) -> TestApp {
    let s = app_settings(&db);
    spawn_app_with(db, s).await
}

pub async fn spawn_app_with(db: TestDb, s: stampede::config::Settings) -> TestApp {
    let app = stampede::startup::Application::build(s)
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let inventory = app.inventory().clone();
    let orders = app.orders().clone();
    let passwords = app.passwords().clone();
    let handle = app.server_handle();
    let store = db.store().await;
    let stopped = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        inventory,
        orders,
        passwords,
        store,
        handle,
        stopped,
        db,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn admin_token(&self) -> String {
        let res = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_string()
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Signs up an account and answers its id.
    pub async fn signup(&self, email: &str, password: &str, role: &str) -> i64 {
        let res = self
            .post_json(
                "/api/v1/auth/signup",
                None,
                serde_json::json!({"email": email, "password": password, "name": "Test User", "role": role}),
            )
            .await;
        assert_eq!(res.status(), 201, "signup {email}");
        let body: serde_json::Value = res.json().await.expect("json");
        body["id"].as_i64().expect("id")
    }

    /// Logs in and answers the whole token response.
    pub async fn login(&self, email: &str, password: &str) -> serde_json::Value {
        let res = self
            .post_json(
                "/api/v1/auth/login",
                None,
                serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(res.status(), 200, "login {email}");
        res.json().await.expect("json")
    }

    /// A fresh account with `role` (`customer` or `seller`): `(id, access token)`.
    pub async fn user(&self, role: &str) -> (i64, String) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let email = format!("{role}{n}@shop.test");
        let id = self.signup(&email, USER_PASSWORD, role).await;
        let tokens = self.login(&email, USER_PASSWORD).await;
        (
            id,
            tokens["access_token"].as_str().expect("token").to_string(),
        )
    }

    /// A seller's product with one SKU per `(price, stock)`; answers the SKU ids.
    pub async fn product(
        &self,
        seller_token: &str,
        skus: &[(i64, i64)],
        sale: Option<serde_json::Value>,
    ) -> Vec<i64> {
        let skus: Vec<serde_json::Value> = skus
            .iter()
            .enumerate()
            .map(|(i, (price, stock))| {
                serde_json::json!({"sku_code": format!("SKU-{i}"), "option": format!("option {i}"),
                                   "price": price, "stock": stock})
            })
            .collect();
        let mut body = serde_json::json!({"name": "Drop item", "category": "drops", "skus": skus});
        if let Some(sale) = sale {
            body["sale"] = sale;
        }
        let res = self
            .post_json("/api/v1/products", Some(seller_token), body)
            .await;
        assert_eq!(res.status(), 201, "create product");
        let product: serde_json::Value = res.json().await.expect("product");
        sku_ids(&product)
    }

    /// POSTs an order of one unit of `sku` with `key` as its Idempotency-Key.
    pub async fn buy_one(&self, token: &str, key: &str, sku: i64) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/orders"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(
                &serde_json::json!({"items": [{"sku_id": sku, "quantity": 1}],
                                      "shipping_address": "Seoul, Gangnam-gu 1"}),
            )
            .send()
            .await
            .expect("POST /orders")
    }

    /// GETs `path` (with a bearer token if given) and parses the JSON body.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> serde_json::Value {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("GET");
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.expect("JSON body")
    }

    /// GETs `path` and returns the raw response.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("GET")
    }

    /// Stops gracefully; hands back the database so it outlives the app.
    pub async fn stop(self) -> TestDb {
        self.handle.stop(true).await;
        self.stopped.await.expect("join").expect("server");
        self.db
    }
}

/// The `skus[].id` of a product answer.
pub fn sku_ids(product: &serde_json::Value) -> Vec<i64> {
    product["skus"]
        .as_array()
        .expect("skus")
        .iter()
        .map(|s| s["id"].as_i64().expect("sku id"))
        .collect()
}

/// Asserts a problem+json answer with `status` and `code`.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = res.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "problem lacks {field}: {body}");
    }
    body
}
