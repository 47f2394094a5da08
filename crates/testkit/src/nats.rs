//! A nats-server with JetStream, on ports it picks itself, in a temporary directory.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// A running nats-server, killed and cleaned up on drop.
pub struct NatsServer {
    child: Child,
    dir: PathBuf,
    port: u16,
    binary: PathBuf,
    options: Vec<String>,
}

impl NatsServer {
    /// Starts the server named by `SWITCHBOARD_NATS_SERVER`, else the one `make` installs in
    /// `.local/`, and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_binary(&binary()?)
    }

    /// Starts the server with further options, e.g. `--user u --pass p` or `--tls ...`.
    pub fn start_with(options: &[&str]) -> anyhow::Result<Self> {
        Self::spawn(&binary()?, options)
    }

    /// Starts a given nats-server binary (e.g. an old one, to test refusal).
    pub fn start_binary(binary: &Path) -> anyhow::Result<Self> {
        Self::spawn(binary, &[])
    }

    fn spawn(binary: &Path, options: &[&str]) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("switchboard-nats-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let options: Vec<String> = options.iter().map(|option| option.to_string()).collect();
        let child = launch(binary, &dir, "-1", &options)?;
        let mut server = Self { child, dir, port: 0, binary: binary.to_path_buf(), options };
        server.port = server.wait_for_port()?;
        Ok(server)
    }

    /// Kills the server (`SIGKILL`, as a crash) and starts it again on the same port and store.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        self.child = launch(&self.binary, &self.dir, &self.port.to_string(), &self.options)?;
        self.wait_for_port().map(|_| ())
    }

    /// The server's process id (benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Synchronous on purpose (tests call it before or outside a runtime); polls a file the
    /// server writes, there being no event to wait on.
    #[allow(clippy::disallowed_methods)]
    fn wait_for_port(&mut self) -> anyhow::Result<u16> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let ports_file = self.dir.join(format!("nats-server_{}.ports", self.child.id()));
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("nats-server exited at start: {status}");
            }
            if let Some(port) = read_port(&ports_file)
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                return Ok(port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("nats-server did not report its ports within 20 s")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn launch(binary: &Path, dir: &Path, port: &str, options: &[String]) -> anyhow::Result<Child> {
    Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", port, "-m", "-1"])
        .arg("-sd")
        .arg(dir.join("store"))
        .arg("--ports_file_dir")
        .arg(dir)
        .args(options)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

/// The client port from the server's ports file: `{"nats":["nats://127.0.0.1:PORT"], ...}`
/// (`tls://` when the server requires TLS).
fn read_port(path: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("nats://").or_else(|| text.find("tls://"))? + "://".len();
    let address = &text[start..];
    let end = address.find('"')?;
    address[..end].rsplit(':').next()?.parse().ok()
}

fn binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHBOARD_NATS_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local/pip/bin/nats-server");
    if local.exists() {
        return Ok(local);
    }
    bail!(
        "no nats-server: run the tests with `make test` (it installs nats-server 2.10+ into .local/) \
         or set SWITCHBOARD_NATS_SERVER"
    )
}
