//! The services as separate OS processes of the `switchboard` binary, one per service, that the
//! harness kills, pauses and restarts.

use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};

/// Each process's one service, in the order faults visit them.
pub const SERVICES: [&str; 8] =
    ["intake", "classifier", "router", "knowledge", "notifier", "analytics", "desk", "channels"];

/// Where everything the processes talk to is.
pub struct Peers {
    pub nats_url: String,
    pub database_url: String,
    pub smtp_sink: String,
    pub webhook_sink: String,
    pub ack_wait: Duration,
}

/// The running processes, by service; each keeps its listening addresses across restarts.
pub struct Services {
    binary: PathBuf,
    dir: PathBuf,
    environment: BTreeMap<&'static str, Vec<(String, String)>>,
    children: BTreeMap<&'static str, Child>,
    pub grpc: BTreeMap<&'static str, SocketAddr>,
    pub smtp: SocketAddr,
}

impl Services {
    /// Starts one process per service, its log in `dir`.
    pub fn start(peers: &Peers, dir: &Path) -> anyhow::Result<Self> {
        let binary = crate::common::switchboard_binary()?;
        let mut grpc = BTreeMap::new();
        for service in SERVICES {
            grpc.insert(service, loopback()?);
        }
        let (http, smtp) = (loopback()?, loopback()?);
        let endpoint = |service: &str| format!("http://{}", grpc[service]);
        let mut environment = BTreeMap::new();
        for service in SERVICES {
            let mut env = common_environment(peers);
            env.extend([
                ("SWITCHBOARD_SERVICES".into(), service.into()),
                ("SWITCHBOARD_GRPC_ADDR".into(), grpc[service].to_string()),
                ("SWITCHBOARD_KNOWLEDGE_ENDPOINT".into(), endpoint("knowledge")),
                ("SWITCHBOARD_INTAKE_ENDPOINT".into(), endpoint("intake")),
                ("SWITCHBOARD_DESK_ENDPOINT".into(), endpoint("desk")),
                ("SWITCHBOARD_HTTP_ADDR".into(), http.to_string()),
                ("SWITCHBOARD_SMTP_ADDR".into(), smtp.to_string()),
                // Eight processes on one machine: each its own metrics port.
                ("SWITCHBOARD_METRICS_ADDR".into(), "127.0.0.1:0".into()),
                ("SWITCHBOARD_INDEX_DIR".into(), dir.join(format!("index-{service}")).display().to_string()),
            ]);
            environment.insert(service, env);
        }
        let mut services =
            Self { binary, dir: dir.to_path_buf(), environment, children: BTreeMap::new(), grpc, smtp };
        for service in SERVICES {
            services.spawn(service)?;
        }
        Ok(services)
    }

    fn spawn(&mut self, service: &'static str) -> anyhow::Result<()> {
        let log = OpenOptions::new().create(true).append(true).open(self.log(service))?;
        let child = Command::new(&self.binary)
            .arg("serve")
            .env_clear()
            .envs(self.environment[service].iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {} for {service}", self.binary.display()))?;
        self.children.insert(service, child);
        Ok(())
    }

    fn log(&self, service: &str) -> PathBuf {
        self.dir.join(format!("{service}.log"))
    }

    /// `kill -9`, then a new process in its place.
    pub fn kill_and_restart(&mut self, service: &'static str) -> anyhow::Result<()> {
        if let Some(mut child) = self.children.remove(service) {
            child.kill()?;
            child.wait()?;
        }
        self.spawn(service)
    }

    /// `SIGTERM` (a drain, as a rollout stops a pod), waits for the process to end, then a new
    /// one in its place.
    pub async fn drain_and_restart(&mut self, service: &'static str, grace: Duration) -> anyhow::Result<()> {
        self.signal(service, "-TERM")?;
        if let Some(child) = self.children.remove(service) {
            ended(service, child, tokio::time::Instant::now() + grace).await?;
        }
        self.spawn(service)
    }

    /// `SIGSTOP` now; [`resume`](Self::resume) sends `SIGCONT`.
    pub fn pause(&mut self, service: &str) -> anyhow::Result<()> {
        self.signal(service, "-STOP")
    }

    pub fn resume(&mut self, service: &str) -> anyhow::Result<()> {
        self.signal(service, "-CONT")
    }

    fn signal(&mut self, service: &str, signal: &str) -> anyhow::Result<()> {
        if let Some(exited) = self.exited_by_itself(service)? {
            bail!("before kill {signal}: {exited}");
        }
        let child = self.children.get(service).with_context(|| format!("no process for {service}"))?;
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status()?;
        if !status.success() {
            bail!("kill {signal} {service}: {status}");
        }
        Ok(())
    }

    /// The processes that exited by themselves (a crash the harness did not cause), with their logs' ends.
    pub fn exited(&mut self) -> anyhow::Result<Vec<String>> {
        let mut exited = Vec::new();
        for service in SERVICES {
            exited.extend(self.exited_by_itself(service)?);
        }
        Ok(exited)
    }

    /// `service` and its log's end, if its process has exited without the harness stopping it.
    fn exited_by_itself(&mut self, service: &str) -> anyhow::Result<Option<String>> {
        let Some(child) = self.children.get_mut(service) else { return Ok(None) };
        Ok(child
            .try_wait()?
            .map(|status| format!("{service} exited ({status}):\n{}", tail(&self.log(service)))))
    }

    /// Fails, with the log's end, when a process exited by itself.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.exited()?.first() {
            Some(crashed) => bail!("a process exited by itself: {crashed}"),
            None => Ok(()),
        }
    }

    /// `SIGTERM` to each process (a drain), then waits for all; `SIGKILL` after `grace`.
    pub async fn stop(&mut self, grace: Duration) -> anyhow::Result<()> {
        for service in SERVICES {
            let _ = self.signal(service, "-TERM");
        }
        let deadline = tokio::time::Instant::now() + grace;
        for (service, child) in std::mem::take(&mut self.children) {
            ended(service, child, deadline).await?;
        }
        Ok(())
    }

    /// The last lines each process wrote, for a failure's diagnosis.
    pub fn logs(&self) -> String {
        SERVICES.iter().map(|service| format!("--- {service}\n{}", tail(&self.log(service)))).collect()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for a process told to stop; kills it, and fails, past `deadline`.
async fn ended(service: &str, mut child: Child, deadline: tokio::time::Instant) -> anyhow::Result<()> {
    while child.try_wait()?.is_none() {
        if tokio::time::Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            bail!("{service} did not stop in time after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn common_environment(peers: &Peers) -> Vec<(String, String)> {
    let inherited = ["PATH", "HOME", "TMPDIR", "SWITCHBOARD_ENCODER_DIR"]
        .into_iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)));
    inherited
        .chain([
            // The server's own steps (connected, serving, shutdown requested, stopped) place a hang.
            ("RUST_LOG".into(), "warn,switchboard_server=info".into()),
            ("SWITCHBOARD_NATS_URL".into(), peers.nats_url.clone()),
            ("SWITCHBOARD_DATABASE_URL".into(), peers.database_url.clone()),
            ("SWITCHBOARD_AUTH_KEY".into(), switchboard_testkit::TEST_AUTH_KEY.into()),
            ("SWITCHBOARD_ACK_WAIT_SECS".into(), peers.ack_wait.as_secs().to_string()),
            ("SWITCHBOARD_SMTP_URL".into(), peers.smtp_sink.clone()),
            ("SWITCHBOARD_WEBHOOK_URL".into(), peers.webhook_sink.clone()),
            ("SWITCHBOARD_OUTBOUND_ALLOW".into(), "127.0.0.0/8".into()),
            ("SWITCHBOARD_EMAIL_FROM".into(), "Acme Support <support@acme.example>".into()),
            ("SWITCHBOARD_EMAIL_SPF".into(), "false".into()),
            ("SWITCHBOARD_WEBHOOK_SECRET".into(), "chaos-webhook-secret".into()),
            ("SWITCHBOARD_SMTP_MAX_PER_CLIENT".into(), "64".into()),
        ])
        .collect()
}

/// A free loopback address (the port is taken again by the process that is given it).
fn loopback() -> anyhow::Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], switchboard_testkit::free_port()?)))
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
