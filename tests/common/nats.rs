//! NATS for the event tests: the shared server (`STAMPEDE_TEST_NATS_URL`,
//! default `nats://127.0.0.1:4222`, which `scripts/test.sh` starts with
//! JetStream), a server of a test's own that it can stop and start again,
//! and reading a stream back whole. Every test gets its own stream and
//! subject prefix, so tests never see each other's events.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_nats::jetstream;
use serde_json::Value;
use tokio::process::{Child, Command};

pub fn shared_url() -> String {
    std::env::var("STAMPEDE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A stream name and subject prefix of this test's own.
pub struct Channel {
    pub stream: String,
    pub prefix: String,
}

impl Channel {
    pub fn fresh(test: &str) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Self {
            stream: format!("T_{}_{}", test.to_uppercase(), &tag[..8]),
            prefix: format!("t{}", &tag[..12]),
        }
    }

    /// Settings that point the relay at `url` with this channel.
    pub fn apply(&self, s: &mut stampede::config::Settings, url: &str) {
        s.nats.url = Some(url.into());
        s.nats.stream = self.stream.clone();
        s.nats.subject_prefix = self.prefix.clone();
        s.nats.timeout_ms = 1_000;
        s.outbox.poll_ms = 50;
    }

    /// The same, as the binary's environment.
    pub fn env(&self, url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("STAMPEDE_NATS_URL", url.to_string()),
            ("STAMPEDE_NATS_STREAM", self.stream.clone()),
            ("STAMPEDE_NATS_SUBJECT_PREFIX", self.prefix.clone()),
            ("STAMPEDE_NATS_TIMEOUT_MS", "1000".into()),
            ("STAMPEDE_OUTBOX_POLL_MS", "50".into()),
        ]
    }
}

/// One message of the stream: its sequence, `Nats-Msg-Id` and body.
#[derive(Debug, Clone)]
pub struct Stored {
    pub sequence: u64,
    pub msg_id: String,
    pub subject: String,
    pub event: Value,
}

/// Every message in `stream` on the server at `url`, in stream order
/// (none when the stream does not exist yet).
pub async fn read_stream(url: &str, stream: &str) -> Vec<Stored> {
    let client = async_nats::connect(url).await.expect("connect to NATS");
    let js = jetstream::new(client);
    let Ok(mut s) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let info = s.info().await.expect("stream info").clone();
    let mut out = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if info.state.messages == 0 {
            break;
        }
        let Ok(m) = s.get_raw_message(seq).await else {
            continue;
        };
        let msg_id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        out.push(Stored {
            sequence: m.sequence,
            msg_id,
            subject: m.subject.to_string(),
            event: serde_json::from_slice(&m.payload).expect("a JSON event"),
        });
    }
    out
}

pub async fn delete_stream(url: &str, stream: &str) {
    if let Ok(client) = async_nats::connect(url).await {
        let _ = jetstream::new(client).delete_stream(stream).await;
    }
}

/// A nats-server of a test's own, with JetStream on a temp dir, on a free
/// port; stopped and started again with its data kept.
pub struct PrivateNats {
    dir: tempfile::TempDir,
    pub port: u16,
    server: Option<Child>,
}

fn program() -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("nats-server not found: install it (scripts/test.sh does)"))
}

impl PrivateNats {
    pub async fn start() -> Self {
        let mut n = Self {
            dir: tempfile::tempdir().expect("temp dir"),
            port: super::process::free_port(),
            server: None,
        };
        n.run().await;
        n
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let child = Command::new(program())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nats-server");
        self.server = Some(child);
        for _ in 0..100 {
            if async_nats::connect(self.url()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("private nats-server did not listen on {}", self.port);
    }

    /// SIGKILLs the server (its stream is kept on disk).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.server.take() {
            child.start_kill().expect("SIGKILL nats-server");
            child.wait().await.expect("reap nats-server");
        }
    }

    pub async fn restart(&mut self) {
        self.kill().await;
        self.run().await;
    }
}
