//! A MariaDB server of the loop's own, in a temp dir on a free port, so the
//! loop can SIGKILL and restart the database under load without touching
//! the shared server other people's tests use (the approach of
//! `tests/common/private_mariadb.rs`). Needs `mariadbd` and
//! `mariadb-install-db`, which `scripts/test.sh` installs.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct PrivateMariaDb {
    dir: tempfile::TempDir,
    pub port: u16,
    server: Option<Child>,
}

fn program(names: &[&str]) -> anyhow::Result<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin"].map(PathBuf::from));
    for dir in dirs {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!("{names:?} not found: install MariaDB (`scripts/test.sh --services-only` does)")
}

/// mariadbd refuses to run as root unless told to; it runs as whoever we are.
fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into())
}

impl PrivateMariaDb {
    /// Initialises a data directory and starts the server on it.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let status = Command::new(program(&["mariadb-install-db", "mysql_install_db"])?)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--user={}", user()))
            .arg("--skip-test-db")
            .arg("--auth-root-authentication-method=normal")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .context("run mariadb-install-db")?;
        if !status.success() {
            bail!("mariadb-install-db failed ({status})");
        }
        let mut db = Self {
            port: super::free_port()?,
            dir,
            server: None,
        };
        db.run().await?;
        Ok(db)
    }

    /// The server's URL without a database (the loop creates its own).
    pub fn server_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let child = Command::new(program(&["mariadbd", "mysqld"])?)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.path().join("data").display()))
            .arg(format!(
                "--socket={}",
                self.path().join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.path().join("mysqld.pid").display()
            ))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--user={}", user()))
            .arg("--skip-grant-tables")
            .arg("--skip-name-resolve")
            .arg("--innodb-buffer-pool-size=64M")
            .arg("--max-connections=500")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("spawn mariadbd")?;
        self.server = Some(child);
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "the private mariadbd did not listen on {} in 60 s",
            self.port
        )
    }

    /// SIGKILLs the server: a crash, with InnoDB recovery on the next start.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.server.take() {
            super::process::sigkill(&mut child).await?;
        }
        Ok(())
    }

    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await?;
        self.run().await
    }
}
