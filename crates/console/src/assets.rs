//! The console's static files, built by npm and embedded at compile time (see build.rs): served
//! under `/console/` with a content security policy that allows this origin's own scripts,
//! styles and calls only.

use axum::{
    extract::Path,
    response::{IntoResponse, Redirect, Response},
};
use http::{HeaderValue, StatusCode, header};
use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$OUT_DIR/web/dist");

const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The content type of a file by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// One embedded file, or 404.
fn file(path: &str) -> Response {
    let Some(found) = DIST.get_file(path) else {
        return (StatusCode::NOT_FOUND, "no such file in the console").into_response();
    };
    let mut response = found.contents().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    // Small files that change with every release: the browser checks each time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `/console`: the page is `/console/`, so that its relative links resolve under it.
pub async fn bare() -> Redirect {
    Redirect::permanent("/console/")
}

pub async fn index() -> Response {
    file("index.html")
}

/// Whether `path` names something inside the embedded directory: no parent steps, no absolute
/// or empty parts.
fn inside(path: &str) -> bool {
    !path.split('/').any(|part| part.is_empty() || part == "." || part == "..")
}

pub async fn asset(Path(path): Path<String>) -> Response {
    if !inside(&path) {
        return (StatusCode::NOT_FOUND, "no such file in the console").into_response();
    }
    file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The browser-side logic (order of rows, live frames, routes, languages, macros) is tested
    /// on Node's test runner against the modules just built (crates/console/web/test).
    #[test]
    fn the_browser_logic_passes_its_node_tests() {
        let web = std::path::Path::new(env!("OUT_DIR")).join("web");
        let ran = std::process::Command::new("node").args(["--test", "test/"]).current_dir(&web).output();
        let output = ran.expect("node, which built the console");
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{said}{}", String::from_utf8_lossy(&output.stderr));
        assert!(said.contains("# fail 0"), "{said}");
    }

    #[test]
    fn the_built_console_is_embedded_with_its_scripts() {
        let index = DIST.get_file("index.html").expect("index.html built");
        let page = std::str::from_utf8(index.contents()).expect("utf-8");
        assert!(page.contains("js/main.js"), "{page}");
        assert!(DIST.get_file("js/main.js").is_some(), "the TypeScript was compiled");
        assert_eq!(content_type("js/main.js"), "text/javascript; charset=utf-8");
        assert_eq!(file("js/nothing.js").status(), StatusCode::NOT_FOUND);
        assert!(inside("js/main.js"));
        for outside in ["../Cargo.toml", "js/../../x", "/etc/passwd", "js//main.js", "./index.html"] {
            assert!(!inside(outside), "{outside}");
        }
    }
}
