//! Test certificates made by Debian's openssl: a CA, and a certificate it signed for
//! `localhost` and 127.0.0.1, as files in a temporary directory removed on drop.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

pub struct TestCertificates {
    pub dir: PathBuf,
}

impl TestCertificates {
    pub fn make() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("switchboard-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let certificates = Self { dir };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=switchboard test CA"];
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        ca.extend(ec);
        certificates.openssl(&ca)?;
        let mut request =
            vec!["req", "-new", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "cert.csr"];
        request.extend(ec);
        certificates.openssl(&request)?;
        let extensions = "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n";
        std::fs::write(certificates.dir.join("san.ext"), extensions)?;
        certificates.openssl(&[
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            "cert.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            "san.ext",
            "-out",
            "cert.pem",
        ])?;
        Ok(certificates)
    }

    fn openssl(&self, args: &[&str]) -> anyhow::Result<()> {
        let ran = std::process::Command::new("openssl")
            .current_dir(&self.dir)
            .args(args)
            .output()
            .context("openssl (Debian package openssl) is needed to make test certificates")?;
        anyhow::ensure!(ran.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&ran.stderr));
        Ok(())
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn certificate(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
