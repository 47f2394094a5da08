//! A real SMTP server to send to: aiosmtpd (PyPI, installed by `make env` into `.local/py`),
//! storing every message it receives in a Maildir.

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

/// A running aiosmtpd, killed and cleaned up on drop.
pub struct SmtpSink {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl SmtpSink {
    /// Starts aiosmtpd on a free port; tries again on another if the port was taken meanwhile.
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("switchboard-smtp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        for _ in 0..5 {
            let port = crate::free_port()?;
            let mut child = Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(dir.join("maildir"))
                .env("PYTHONPATH", python_path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start python3 -m aiosmtpd (run `make env`)")?;
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Self { child, dir, port });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("aiosmtpd did not start; is it installed (`make env`)?")
    }

    /// The URL the notifier sends through.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The raw messages received so far, oldest first.
    pub fn messages(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        let new = self.dir.join("maildir").join("new");
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&new) {
            Ok(entries) => entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect(),
            Err(_) => return Ok(Vec::new()),
        };
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files.iter().map(|path| std::fs::read(path).with_context(|| path.display().to_string())).collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where `make env` installs the Python peers (aiosmtpd): `SWITCHBOARD_PYTHONPATH`.
pub fn python_path() -> String {
    std::env::var("SWITCHBOARD_PYTHONPATH").unwrap_or_default()
}
