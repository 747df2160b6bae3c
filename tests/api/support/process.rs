//! The `prefcenter` binary run as a separate process.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// The `prefcenter` binary serving on a database, as a separate process, its log
/// lines arriving on a channel.
pub struct Served {
    child: Child,
    lines: Receiver<String>,
    pub base: String,
}

impl Served {
    pub fn start(db: &str) -> Self {
        Self::start_with(db, &[])
    }

    /// Starts with these settings in its environment too (they win over the defaults).
    pub fn start_with(db: &str, settings: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_prefcenter"))
            .env("PREFCENTER_DATABASE_URL", db)
            .env("PREFCENTER_BIND", format!("127.0.0.1:{port}"))
            .env("PREFCENTER_LOG", "info")
            .env("PREFCENTER_WORKERS", "1")
            .envs(settings.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the server starts");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, base: format!("http://127.0.0.1:{port}") }
    }

    /// The log lines up to and including the first that contains `needle`.
    pub fn wait_for(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}; saw:\n{}", seen.join("\n")),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    }

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.wait_for("prefcenter stopped");
        self.child.wait().unwrap()
    }
}

/// A test that fails leaves no server behind.
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
