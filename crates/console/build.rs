//! Builds the web console (crates/console/web, TypeScript) with npm into `$OUT_DIR/web/dist`,
//! which the crate embeds. The sources are copied to `$OUT_DIR/web` first, so the checkout gets
//! no node_modules or build output, and `npm ci` runs again only when the lockfile changes.
//! `SWITCHBOARD_CONSOLE_DIST` names an already built `dist` instead (an image's Node.js stage).

use std::{
    error::Error,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// What the build reads: a change to any of them builds the console again.
const SOURCES: &[&str] = &["package.json", "package-lock.json", "tsconfig.json", "src", "static", "test"];

fn main() -> Result<()> {
    // Read at run time: a target directory shared by two checkouts must build each one's own.
    let web = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("web");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("web");
    let dist = out.join("dist");
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_CONSOLE_DIST");
    if let Some(prebuilt) = std::env::var_os("SWITCHBOARD_CONSOLE_DIST") {
        let prebuilt = PathBuf::from(prebuilt);
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        replace_dir(&prebuilt, &dist)?;
        return require_index(&dist);
    }
    for source in SOURCES {
        println!("cargo:rerun-if-changed={}", web.join(source).display());
    }
    for source in SOURCES {
        let (from, to) = (web.join(source), out.join(source));
        if from.is_dir() { replace_dir(&from, &to)? } else { copy_file(&from, &to)? }
    }
    install(&out)?;
    let _ = fs::remove_dir_all(&dist);
    npm(&out, &["run", "--silent", "build"])?;
    require_index(&dist)
}

/// `npm ci` unless the installed packages came from this very lockfile.
fn install(out: &Path) -> Result<()> {
    let lock = fs::read(out.join("package-lock.json"))?;
    let stamp = out.join("node_modules/.installed-from-lock");
    if fs::read(&stamp).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    npm(out, &["ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"])?;
    fs::write(stamp, lock)?;
    Ok(())
}

fn npm(dir: &Path, args: &[&str]) -> Result<()> {
    let output = Command::new("npm").args(args).current_dir(dir).output().map_err(|error| {
        format!(
            "building the web console needs Node.js 20+ and npm ({error}); install them, or set \
             SWITCHBOARD_CONSOLE_DIST to a console built with `npm ci && npm run build` in crates/console/web"
        )
    })?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        return Err(format!("npm {} failed in {}:\n{said}", args.join(" "), dir.display()).into());
    }
    Ok(())
}

fn require_index(dist: &Path) -> Result<()> {
    if dist.join("index.html").is_file() {
        Ok(())
    } else {
        Err(format!("{} has no index.html: not a built console", dist.display()).into())
    }
}

/// Makes `to` a copy of the directory `from` (files it no longer has go too).
fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            replace_dir(&entry.path(), &target)?;
        } else {
            copy_file(&entry.path(), &target)?;
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::copy(from, to).map_err(|error| format!("copying {}: {error}", from.display()))?;
    Ok(())
}
