//! A PostgreSQL cluster of the harness's own (Debian's binaries), so that it can be crashed and
//! restarted without touching the server other tests share.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail};

/// A running cluster in a temporary directory, stopped and removed on drop.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// Creates a cluster (trust authentication, loopback only) and starts it.
    pub fn start() -> anyhow::Result<Self> {
        let bin = binaries()?;
        let dir = std::env::temp_dir().join(format!("switchboard-chaos-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let cluster = Self { bin, dir, port: switchboard_testkit::free_port()? };
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&cluster.dir))?;
        }
        let data = cluster.data();
        cluster.as_owner("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"])?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`: no checkpoint, sessions cut).
    pub fn crash(&self) -> anyhow::Result<()> {
        self.as_owner("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"])
    }

    /// Starts the server again (crash recovery first, after [`crash`](Self::crash)).
    pub fn start_server(&self) -> anyhow::Result<()> {
        // The faults are process crashes, not power losses: the OS keeps what was written, so
        // fsync buys nothing here but time on a shared CI disk.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.as_owner("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-t", "60", "-o", &options, "start"])
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Runs one of the cluster's binaries as the cluster's owner (`postgres` when run as root).
    fn as_owner(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        run(command.args(args))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?}: {}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.starts_with(b"0\n"))
}

/// `SWITCHBOARD_PG_BIN`, else the newest of Debian's `/usr/lib/postgresql/*/bin` (`make env`
/// installs it where no server answers).
fn binaries() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .with_context(|| format!("no PostgreSQL binaries in {}: run `make env`", root.display()))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context("no initdb under /usr/lib/postgresql/*/bin: run `make env`")
}
