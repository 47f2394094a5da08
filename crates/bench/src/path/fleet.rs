//! The cluster as `switchboard serve` processes of the release binary beside the bench (or
//! `SWITCHBOARD_BIN`), each with its own ports and log, killed when the fleet is dropped.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use anyhow::Context as _;

/// One process: the services it runs, where it serves gRPC, and its child.
pub(crate) struct Member {
    pub services: String,
    pub grpc: SocketAddr,
    child: Child,
}

impl Member {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Running processes, stopped and their logs removed on drop.
pub(crate) struct Fleet {
    pub members: Vec<Member>,
    dir: PathBuf,
}

/// What every process is given: the bus, the database, the cluster's key, the rules.
pub(crate) struct Shared {
    pub nats_url: String,
    pub database_url: String,
    pub rules: PathBuf,
    /// Connections each process's pool may open (PostgreSQL allows 100 on this machine).
    pub pool_size: u32,
}

impl Fleet {
    /// Starts one process per entry of `layout` (each a `SWITCHBOARD_SERVICES` list); the
    /// routers call the knowledge service of their own replica when there is one.
    pub(crate) fn start(shared: &Shared, layout: &[&str]) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("switchboard-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let addresses: Vec<SocketAddr> = layout.iter().map(|_| loopback()).collect::<Result<_, _>>()?;
        let mut members = Vec::with_capacity(layout.len());
        for (n, services) in layout.iter().enumerate() {
            let knowledge = knowledge_for(layout, &addresses, n);
            let log = std::fs::File::create(dir.join(format!("{n}-{services}.log")))?;
            let child = Command::new(binary()?)
                .arg("serve")
                .env_clear()
                .envs(environment(shared, services, addresses[n], knowledge)?)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("starting switchboard serve")?;
            members.push(Member { services: (*services).to_string(), grpc: addresses[n], child });
        }
        Ok(Self { members, dir })
    }

    /// The members that run `service`.
    pub(crate) fn running<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Member> + 'a {
        self.members
            .iter()
            .filter(move |m| m.services == "all" || m.services.split(',').any(|s| s == service))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for member in &mut self.members {
            let _ = member.child.kill();
            let _ = member.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The knowledge service the `n`th process's router calls: the one of the same replica (its
/// rank among the processes running each service), else its own listener.
fn knowledge_for(layout: &[&str], addresses: &[SocketAddr], n: usize) -> SocketAddr {
    let runs = |services: &str, service: &str| services == "all" || services.split(',').any(|s| s == service);
    let replica = layout[..n].iter().filter(|services| runs(services, "router")).count();
    let knowledge: Vec<SocketAddr> =
        layout.iter().zip(addresses).filter(|(s, _)| runs(s, "knowledge")).map(|(_, a)| *a).collect();
    knowledge.get(replica % knowledge.len().max(1)).copied().unwrap_or(addresses[n])
}

fn environment(
    shared: &Shared,
    services: &str,
    grpc: SocketAddr,
    knowledge: SocketAddr,
) -> anyhow::Result<Vec<(String, String)>> {
    let inherited = ["PATH", "HOME", "TMPDIR", "RUST_LOG"]
        .into_iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)));
    let own: [(&str, String); 11] = [
        ("SWITCHBOARD_SERVICES", services.into()),
        ("SWITCHBOARD_GRPC_ADDR", grpc.to_string()),
        ("SWITCHBOARD_KNOWLEDGE_ENDPOINT", format!("http://{knowledge}")),
        ("SWITCHBOARD_HTTP_ADDR", loopback()?.to_string()),
        ("SWITCHBOARD_SMTP_ADDR", loopback()?.to_string()),
        ("SWITCHBOARD_METRICS_ADDR", "off".into()),
        ("SWITCHBOARD_NATS_URL", shared.nats_url.clone()),
        ("SWITCHBOARD_DATABASE_URL", shared.database_url.clone()),
        ("SWITCHBOARD_DATABASE_POOL_SIZE", shared.pool_size.to_string()),
        ("SWITCHBOARD_AUTH_KEY", switchboard_testkit::TEST_AUTH_KEY.into()),
        ("SWITCHBOARD_RULES", shared.rules.display().to_string()),
    ];
    Ok(inherited.chain(own.into_iter().map(|(name, value)| (name.to_string(), value))).collect())
}

/// The `switchboard` binary: `SWITCHBOARD_BIN`, else the one built beside this bench.
fn binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHBOARD_BIN") {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe()?.parent().map(|dir| dir.join("switchboard"));
    beside.filter(|path| path.exists()).context(
        "no switchboard binary beside the bench: run `cargo build --release --bin switchboard` (make bench does)",
    )
}

fn loopback() -> anyhow::Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], switchboard_testkit::free_port()?)))
}
