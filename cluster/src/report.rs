//! What the crate tells the person waiting: progress lines, durations and log tails.

use std::fs;
use std::path::Path;
use std::time::Duration;

/// Progress messages of a build, for the caller to print.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// The last `lines` lines of a text file (empty if unreadable).
pub fn tail_of_file(path: &Path, lines: usize) -> String {
    let text = fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `path` for a message, cut to 200 characters with its length said: a pasted blob given as a
/// path must not flood the terminal.
pub fn shown_path(path: &Path) -> String {
    let text = path.display().to_string();
    let count = text.chars().count();
    if count <= 200 {
        return text;
    }
    let head: String = text.chars().take(200).collect();
    format!("{head}…({count} characters)")
}

/// `1m 23.4s` or `4.2s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 {
        format!("{}m {:.1}s", (secs / 60.0).floor(), secs % 60.0)
    } else {
        format!("{secs:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(format_duration(Duration::from_secs(83)), "1m 23.0s");
    }
}
