//! A headless Debian Chromium for the tests that look at the control room,
//! driven over the DevTools protocol (chromiumoxide, no downloaded
//! browser): `STAMPEDE_TEST_CHROMIUM`, default `/usr/bin/chromium`
//! (`scripts/test.sh` installs Debian's `chromium`).

use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures::StreamExt;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn chromium() -> PathBuf {
    let path =
        std::env::var("STAMPEDE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "the control-room test needs Chromium at {} (set STAMPEDE_TEST_CHROMIUM, or \
         `apt-get install chromium`; scripts/test.sh installs it)",
        path.display()
    );
    path
}

/// A headless Chromium and the task that drives its protocol connection.
pub struct Chromium {
    pub browser: Browser,
    driver: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn launch() -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let config = BrowserConfig::builder()
            .chrome_executable(chromium())
            .new_headless_mode()
            // Tests run as root in CI; Chromium refuses its sandbox there.
            .no_sandbox()
            .window_size(1440, 1100)
            .viewport(Viewport {
                width: 1440,
                height: 1100,
                ..Viewport::default()
            })
            .user_data_dir(profile.path())
            .request_timeout(Duration::from_secs(30))
            .args([
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
            ])
            .build()
            .expect("browser config");
        let (browser, mut handler) = Browser::launch(config)
            .await
            .unwrap_or_else(|e| panic!("could not start {}: {e}", chromium().display()));
        // Events the protocol crate does not know are reported as errors
        // here; they do not end the connection.
        let driver = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Self {
            browser,
            driver,
            _profile: profile,
        }
    }

    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.driver.abort();
    }
}

/// Evaluates `expr` in the page and parses its (JSON-able) value.
pub async fn eval(page: &Page, expr: &str) -> Value {
    page.evaluate(expr)
        .await
        .unwrap_or_else(|e| panic!("evaluate {expr}: {e}"))
        .into_value()
        .unwrap_or(Value::Null)
}

/// Polls `expr` until it is truthy, or fails after `within`.
pub async fn wait_for(page: &Page, expr: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if eval(page, expr).await.as_bool() == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "the page never showed: {expr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens `/admin` and signs in through the form, as a person would.
pub async fn sign_in(browser: &Browser, base: &str, email: &str, password: &str) -> Page {
    let page = browser
        .new_page(format!("{base}/admin"))
        .await
        .expect("open /admin");
    wait_for(
        &page,
        "document.readyState === 'complete'",
        Duration::from_secs(20),
    )
    .await;
    page.find_element("#email")
        .await
        .expect("email field")
        .click()
        .await
        .expect("focus email")
        .type_str(email)
        .await
        .expect("type email");
    page.find_element("#password")
        .await
        .expect("password field")
        .click()
        .await
        .expect("focus password")
        .type_str(password)
        .await
        .expect("type password");
    page.find_element("#login-submit")
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("sign in");
    let live = "document.getElementById('status').dataset.state === 'live' && \
         Number(document.getElementById('room').dataset.seq) > 0";
    let deadline = Instant::now() + Duration::from_secs(30);
    while eval(&page, live).await.as_bool() != Some(true) {
        if Instant::now() > deadline {
            let seen = eval(
                &page,
                "JSON.stringify({status: document.getElementById('status').textContent, \
                 error: document.getElementById('login-error').textContent, \
                 seq: document.getElementById('room').dataset.seq})",
            )
            .await;
            panic!("the control room never went live: {seen}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    page
}
