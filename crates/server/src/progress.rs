//! Progress of long commands (`knowledge import`, `classifier train`, `replay`, `events backup`
//! and `restore`) on stderr, drawn only when stderr is a terminal: piped, redirected or run by a
//! script, a command prints its results on stdout and nothing else.

use std::{io::IsTerminal as _, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const STEPS: &str = "{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)";
const BYTES: &str = "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)";

/// A bar over `total` steps named `what`; hidden unless stderr is a terminal.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    bar_on(total, what, STEPS, std::io::stderr().is_terminal())
}

/// A bar over `total` bytes (a file read through once); hidden unless stderr is a terminal.
pub fn bytes(total: u64, what: &str) -> ProgressBar {
    bar_on(total, what, BYTES, std::io::stderr().is_terminal())
}

/// A spinner for work whose length is not known, ticking by itself; hidden unless stderr is a
/// terminal.
pub fn spinner(what: &str) -> ProgressBar {
    let spinner = shown(ProgressBar::new_spinner(), std::io::stderr().is_terminal());
    spinner.set_style(style("{spinner} {msg} {elapsed}"));
    spinner.set_message(what.to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

fn bar_on(total: u64, what: &str, template: &str, terminal: bool) -> ProgressBar {
    let bar = shown(ProgressBar::new(total), terminal);
    bar.set_style(style(template).progress_chars("=> "));
    bar.set_message(what.to_string());
    bar
}

fn shown(bar: ProgressBar, terminal: bool) -> ProgressBar {
    bar.set_draw_target(if terminal { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    bar
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_a_terminal_a_bar_draws_nothing_and_still_counts() {
        let quiet = bar_on(3, "importing", STEPS, false);
        assert!(quiet.is_hidden());
        quiet.inc(2);
        assert_eq!(quiet.position(), 2);
    }
}
