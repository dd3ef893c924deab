//! A MariaDB server of a test's own, in a temp dir on a free port, so the
//! test can kill and restart it under load without disturbing the shared
//! server the other tests use. Needs the `mariadbd` and
//! `mariadb-install-db` that `scripts/test.sh` installs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct PrivateMariaDb {
    dir: tempfile::TempDir,
    pub port: u16,
    server: Option<Child>,
}

fn program(names: &[&str]) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin"].map(PathBuf::from));
    for dir in dirs {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("{names:?} not found: install MariaDB (scripts/test.sh does)");
}

fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

impl PrivateMariaDb {
    /// Initialises a data directory and starts the server on it.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new(program(&["mariadb-install-db", "mysql_install_db"]))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--user={}", user()))
            .arg("--skip-test-db")
            .arg("--auth-root-authentication-method=normal")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("run mariadb-install-db");
        assert!(status.success(), "mariadb-install-db failed");
        let mut db = Self {
            port: super::process::free_port(),
            dir,
            server: None,
        };
        db.run().await;
        db
    }

    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    async fn run(&mut self) {
        let child = Command::new(program(&["mariadbd", "mysqld"]))
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
            .expect("spawn mariadbd");
        self.server = Some(child);
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("private mariadbd did not listen on {}", self.port);
    }

    /// SIGKILLs the server: a crash, with InnoDB recovery on the next start.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.server.take() {
            child.start_kill().expect("SIGKILL mariadbd");
            child.wait().await.expect("reap mariadbd");
        }
    }

    pub async fn restart(&mut self) {
        self.kill().await;
        self.run().await;
    }
}
