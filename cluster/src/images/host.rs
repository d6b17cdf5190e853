//! Host programs in images: a program from this machine's Debian packages, copied with every
//! shared library it loads (as `ldd` lists them), so it runs in an image without a
//! distribution.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::archive::{ImageBuilder, image_error};
use crate::{Error, Result};

/// Adds the host program `host` at `in_image`, and every shared library `ldd` says it loads at
/// the library's own path.
pub(super) fn host_program(
    image: ImageBuilder,
    host: &Path,
    in_image: &str,
    package: &str,
) -> Result<ImageBuilder> {
    if !host.is_file() {
        return Err(Error::MissingTool {
            tool: host.display().to_string(),
            hint: format!(
                "an image of the local cluster carries it; install it with `apt-get install {package}`"
            ),
        });
    }
    let mut image = image.host_file(in_image, host, 0o755);
    for library in shared_libraries(host)? {
        let at = library.display().to_string();
        image = image.host_file(&at, &library, 0o755);
    }
    Ok(image)
}

/// The shared libraries (and the dynamic loader) `program` loads, as `ldd` lists them; none
/// for a static program.
///
/// # Errors
/// `ldd` cannot be run, or fails on a program that is dynamic.
pub fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|source| Error::Spawn {
            component: "ldd".into(),
            binary: PathBuf::from("ldd"),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        if text.contains("not a dynamic executable")
            || String::from_utf8_lossy(&output.stderr).contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        return Err(image_error(
            format!("list the libraries of {}", program.display()),
            format!("ldd: {}", output.status),
        ));
    }
    Ok(parse_ldd(&text))
}

/// The absolute paths in `ldd` output: `name => /path (0x…)` and `/path (0x…)` lines.
pub(super) fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => line,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines_give_library_and_loader_paths() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x00007f)\n\
                    \tlibgone.so => not found\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libcurl.so.4"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn a_missing_tool_names_its_debian_package() {
        let err = host_program(
            ImageBuilder::new(),
            Path::new("/nonexistent/dig"),
            "/usr/bin/dig",
            "bind9-dnsutils",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/dig"), "{err}");
        assert!(err.contains("apt-get install bind9-dnsutils"), "{err}");
    }
}
