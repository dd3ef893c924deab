//! The real `stampede` binary as a separate process, configured only by
//! explicit environment (nothing inherited from the developer's shell), so
//! the kill loop can SIGKILL it and start it again on the same database.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long a start may take before the loop gives up on it.
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The binary built beside this tool (`target/<profile>/stampede`), or the
/// one named on the command line.
pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!("--stampede-bin {}: no such file", path.display());
    }
    let exe = std::env::current_exe().context("where is this tool?")?;
    // target/<profile>/examples/flash-sale -> target/<profile>/stampede
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("this tool does not run from a cargo target directory")?;
    let bin = profile_dir.join(format!("stampede{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        return Ok(bin);
    }
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    bail!(
        "the kill loop runs the real binary, and {} does not exist: build it first with \
         `cargo build{} --bin stampede` (or pass --stampede-bin PATH)",
        bin.display(),
        if release { " --release" } else { "" }
    )
}

/// Everything a start of the binary needs; each start uses the same.
pub struct Binary {
    pub path: PathBuf,
    pub port: u16,
    pub database_url: String,
    /// Appended to by every start, so a failed run can be read afterwards.
    pub log: PathBuf,
    /// Secrets of this loop: the same across restarts, so tokens survive.
    jwt_secret: String,
    refresh_secret: String,
    /// An empty directory the binary looks in for `stampede.toml`.
    config_dir: tempfile::TempDir,
}

impl Binary {
    pub fn new(
        path: PathBuf,
        port: u16,
        database_url: String,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        // Two v4 UUIDs: 64 hex characters, well over the 32 bytes required.
        let secret = || {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        };
        Ok(Self {
            path,
            port,
            database_url,
            log,
            jwt_secret: secret(),
            refresh_secret: secret(),
            config_dir: tempfile::tempdir()?,
        })
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the binary and waits until `/health/ready` answers 200. A
    /// start that exits before it is ready (a database still recovering, an
    /// owner lease not yet lapsed) is tried again until the deadline.
    pub async fn start(&self, client: &reqwest::Client) -> anyhow::Result<Child> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let mut child = self.spawn()?;
            loop {
                if ready(client, &self.base()).await {
                    return Ok(child);
                }
                if let Some(status) = child.try_wait()? {
                    if Instant::now() > deadline {
                        bail!(
                            "stampede exited ({status}) before it was ready, for {} s; see {}",
                            START_DEADLINE.as_secs(),
                            self.log.display()
                        );
                    }
                    eprintln!(
                        "   stampede exited ({status}) before it was ready; starting it again (see {})",
                        self.log.display()
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
                if Instant::now() > deadline {
                    child.start_kill()?;
                    bail!(
                        "stampede was not ready on {} after {} s; see {}",
                        self.base(),
                        START_DEADLINE.as_secs(),
                        self.log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn spawn(&self) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open {}", self.log.display()))?;
        let mut cmd = Command::new(&self.path);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "STAMPEDE_CONFIG",
                self.config_dir.path().join("stampede.toml"),
            )
            .env("STAMPEDE_BIND", format!("127.0.0.1:{}", self.port))
            .env("DATABASE_URL", &self.database_url)
            .env("STAMPEDE_JWT_SECRET", &self.jwt_secret)
            .env("STAMPEDE_REFRESH_TOKEN_SECRET", &self.refresh_secret)
            // A long loop outlives the default 15 minutes of a token.
            .env("STAMPEDE_ACCESS_TOKEN_TTL_SECS", "86400")
            // The loop signs every buyer up from one address and each buyer
            // presses many purchases at once: not the abuse budgets stop.
            .env("STAMPEDE_RATE_LIMIT_ENABLED", "false")
            // Its buyers never read mail: they buy unverified, and no
            // notification is written.
            .env("STAMPEDE_REQUIRE_VERIFIED_EMAIL", "false")
            .env("STAMPEDE_MAIL_NOTIFICATIONS", "false")
            .env("STAMPEDE_MAIL_DIR", self.config_dir.path().join("mail"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        cmd.spawn()
            .with_context(|| format!("spawn {}", self.path.display()))
    }
}

async fn ready(client: &reqwest::Client, base: &str) -> bool {
    client
        .get(format!("{base}/health/ready"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// SIGKILLs the process and reaps it.
pub async fn sigkill(child: &mut Child) -> anyhow::Result<()> {
    child.start_kill().context("SIGKILL")?;
    child.wait().await.context("reap the killed process")?;
    Ok(())
}
