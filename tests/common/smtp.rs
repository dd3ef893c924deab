//! A real SMTP server process for the mail tests: `tests/support/smtp_sink.py`
//! (Python's aiosmtpd) saving every message it accepts as a file, run by
//! [`python`]; without aiosmtpd the tests fail, never skip.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::python::python;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py")
}

/// One SMTP server of a test's own, on a port that stays its own across
/// stops and starts.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let mut sink = Self {
            port: super::process::free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        sink.run().await;
        sink
    }

    /// `smtp://127.0.0.1:<port>`, for `mail.smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub async fn run(&mut self) {
        let python = python();
        let mut child = Command::new(&python)
            .arg(script())
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {python} (set STAMPEDE_TEST_PYTHON, or run scripts/test.sh): {e}"
                )
            });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line.trim() == "ready" => {}
            other => panic!(
                "the SMTP server ({python} with aiosmtpd) did not start: {other:?}; \
                 set STAMPEDE_TEST_PYTHON to a python with aiosmtpd, or run scripts/test.sh"
            ),
        }
        self.child = Some(child);
    }

    /// Stops the server: the port refuses connections until [`run`] again.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("kill the SMTP server");
            child.wait().await.expect("reap the SMTP server");
        }
    }

    /// Every message received so far, oldest first, as text.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| decoded(&std::fs::read_to_string(p).expect("read mail")))
            .collect()
    }

    /// Waits up to `within` for a message to `to` containing `needle`.
    pub async fn wait_for(&self, to: &str, needle: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(m) = self
                .messages()
                .into_iter()
                .find(|m| addressed_to(m, to) && m.contains(needle))
            {
                return m;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no mail to {to} containing {needle:?} within {within:?}; got {:#?}",
                    self.messages()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many messages to `to` contain `needle`.
    pub fn count(&self, to: &str, needle: &str) -> usize {
        self.messages()
            .iter()
            .filter(|m| addressed_to(m, to) && m.contains(needle))
            .count()
    }
}

fn addressed_to(message: &str, to: &str) -> bool {
    message
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(to))
}

/// Undoes quoted-printable soft breaks and `=3D`, which a long line may get.
fn decoded(raw: &str) -> String {
    raw.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The 6-digit code of a verification mail (from its subject).
pub fn code_of(message: &str) -> String {
    let subject = message
        .lines()
        .find(|l| l.starts_with("Subject: Your stampede verification code: "))
        .unwrap_or_else(|| panic!("not a verification mail: {message}"));
    subject.rsplit(' ').next().expect("code").trim().to_string()
}

/// The token of the verification link in a mail.
pub fn link_token_of(message: &str) -> String {
    let at = message.find("token=").expect("a link") + "token=".len();
    message[at..at + 32].to_string()
}
