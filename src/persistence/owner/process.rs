//! This process as the store's owner record names it, and whether a process
//! named there still runs. On Linux a process is named by its host name and
//! PID namespace (`host`), its pid and its start time in clock ticks after
//! boot (`started`, from `/proc`), so a pid reused by another program is
//! not mistaken for the old holder. Where `/proc` is missing the start time
//! is unknown (0) and a recorded process is never judged ended: only its
//! lease decides.

use std::path::Path;

/// A process as recorded in `store_owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub host: String,
    pub pid: i64,
    /// Start time in clock ticks after boot; 0 when unknown.
    pub started: i64,
}

impl Process {
    /// This process.
    pub fn current() -> Self {
        let pid = i64::from(std::process::id());
        Self {
            host: host(),
            pid,
            started: start_time(pid).unwrap_or(0),
        }
    }

    /// True when `other` ran on this machine (same host and PID namespace)
    /// and has ended. Unknown is not ended: a process we cannot see might
    /// still be writing.
    pub fn sees_ended(&self, other: &Process) -> bool {
        if self.started == 0 || other.started == 0 || other.host != self.host {
            return false;
        }
        if other.pid == self.pid && other.started == self.started {
            // This very process (a second service built in it, as tests do).
            return false;
        }
        start_time(other.pid) != Some(other.started)
    }
}

/// The host name, with the PID namespace when known: processes in two
/// containers may share a host name but not a PID namespace.
fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    match std::fs::read_link("/proc/self/ns/pid") {
        Ok(ns) => format!("{name} {}", ns.display()),
        Err(_) => name,
    }
}

/// When the running process `pid` started (field 22 of its `stat`); `None`
/// when there is no such process, or only its zombie.
fn start_time(pid: i64) -> Option<i64> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.get(19)?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_known_and_running() {
        let me = Process::current();
        assert!(me.started > 0);
        assert!(!me.sees_ended(&me));
    }

    #[test]
    fn a_process_that_exited_has_ended_and_a_reused_pid_is_not_it() {
        let me = Process::current();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = i64::from(child.id());
        let recorded = Process {
            host: me.host.clone(),
            pid,
            started: start_time(pid).expect("running child"),
        };
        assert!(!me.sees_ended(&recorded));
        let reused = Process {
            started: recorded.started - 1,
            ..recorded.clone()
        };
        assert!(me.sees_ended(&reused), "another start time: not the holder");
        let elsewhere = Process {
            host: "another-machine".into(),
            ..reused.clone()
        };
        assert!(!me.sees_ended(&elsewhere), "cannot judge another machine");
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert!(me.sees_ended(&recorded));
    }
}
