//! The real `stampede` binary as a child process, for tests that kill it
//! with SIGKILL, and the API calls those tests make to set up a shop.

use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub const ADMIN_EMAIL: &str = "ops@crash.test";
pub const ADMIN_PASSWORD: &str = "crash-test-admin-1";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Starts the binary on `port` over `database_url` with `env` on top of a
/// test configuration, and waits until it is ready.
pub async fn start_binary(database_url: &str, port: u16, env: &[(&str, &str)]) -> Child {
    let mut cmd = command(database_url, port, env);
    // `STAMPEDE_TEST_CHILD_LOG=<filter>` shows the processes' logs.
    if let Ok(filter) = std::env::var("STAMPEDE_TEST_CHILD_LOG") {
        cmd.env("RUST_LOG", filter);
    } else {
        cmd.stdout(Stdio::null());
    }
    let child = cmd.kill_on_drop(true).spawn().expect("spawn stampede");
    wait_ready(port).await;
    child
}

/// Starts the binary like [`start_binary`] and expects it to exit by
/// itself within `within` (a refused start); answers its exit status and
/// everything it wrote.
pub async fn run_to_exit(
    database_url: &str,
    port: u16,
    env: &[(&str, &str)],
    within: Duration,
) -> std::process::Output {
    let child = command(database_url, port, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stampede");
    tokio::time::timeout(within, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("stampede on port {port} was still running after {within:?}"))
        .expect("wait for stampede")
}

/// The binary's command line with the test configuration.
fn command(database_url: &str, port: u16, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.env("STAMPEDE_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env(
            "STAMPEDE_JWT_SECRET",
            "crash-access-secret-0123456789abcdef",
        )
        .env(
            "STAMPEDE_REFRESH_TOKEN_SECRET",
            "crash-refresh-secret-0123456789abcdef",
        )
        .env("STAMPEDE_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("STAMPEDE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env(
            "STAMPEDE_MEDIA_DIR",
            std::env::temp_dir().join("stampede-test-media"),
        )
        // These tests buy without reading mail; their mails go to /tmp.
        .env("STAMPEDE_REQUIRE_VERIFIED_EMAIL", "false")
        .env(
            "STAMPEDE_MAIL_DIR",
            std::env::temp_dir().join("stampede-test-mail"),
        )
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Polls `/health/ready` for up to 30 s.
pub async fn wait_ready(port: u16) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/health/ready"))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("stampede on port {port} did not become ready");
}

pub async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.expect("json")
}

/// Signs up and logs in; answers the access token.
pub async fn account(client: &reqwest::Client, base: &str, email: &str, role: &str) -> String {
    let password = "crash-drop-2026";
    post(
        client,
        format!("{base}/api/v1/auth/signup"),
        None,
        json!({"email": email, "password": password, "name": "Crash", "role": role}),
    )
    .await;
    let tokens = post(
        client,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"email": email, "password": password}),
    )
    .await;
    tokens["access_token"].as_str().expect("token").to_string()
}
