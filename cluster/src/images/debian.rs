//! Images from Debian's packages: the packages are fetched with `apt-get download` (never
//! installed on this machine, so no service starts here) and unpacked with `dpkg-deb -x` into
//! the cache; a program is taken from the unpacked tree with every shared library it loads,
//! from the tree when a fetched package has it, else from this machine.
//!
//! Upstream's httpd and nginx test images are built this way ([`httpd_image`],
//! [`nginx_image`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::archive::{ImageBuilder, image_error};
use super::catalogue::busybox_image;
use super::host::parse_ldd;
use crate::{Error, Result};

/// The names upstream's e2e image manifest (Kubernetes 1.34) gives httpd.
pub const HTTPD_IMAGES: &[&str] = &[
    "registry.k8s.io/e2e-test-images/httpd:2.4.38-4",
    "registry.k8s.io/e2e-test-images/httpd:2.4.39-4",
];
/// The names upstream's e2e image manifest (Kubernetes 1.34) gives nginx.
pub const NGINX_IMAGES: &[&str] = &[
    "registry.k8s.io/e2e-test-images/nginx:1.14-4",
    "registry.k8s.io/e2e-test-images/nginx:1.15-4",
];

/// The Apache modules the httpd image loads: a static site, nothing else (Debian's build has
/// logging and `unixd` compiled in).
const APACHE_MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("dir_module", "mod_dir.so"),
];

const MIME_TYPES: &str = "text/html html htm\ntext/plain txt\ntext/css css\n\
                          application/javascript js\napplication/json json\n";

/// The packages `packages` unpacked into `<cache_dir>/debian/<name>/root` (fetched once; a
/// changed package list fetches again). Returns the root.
///
/// # Errors
/// `apt-get download` fails (also after `apt-get update`), or `dpkg-deb` fails.
pub fn unpacked(cache_dir: &Path, name: &str, packages: &[&str]) -> Result<PathBuf> {
    let dir = cache_dir.join("debian").join(name);
    let (root, stamp) = (dir.join("root"), dir.join("packages"));
    let wanted = packages.join("\n");
    if root.is_dir() && fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(root);
    }
    let debs = dir.join("debs");
    let fresh = dir.join("root.new");
    for d in [&debs, &fresh] {
        let _ = fs::remove_dir_all(d);
        fs::create_dir_all(d).map_err(Error::io(d))?;
    }
    if download(&debs, packages).is_err() {
        // Stale package lists name files the mirror no longer has.
        apt(&debs, &["update", "-q"])?;
        download(&debs, packages)?;
    }
    let mut files: Vec<PathBuf> = fs::read_dir(&debs)
        .map_err(Error::io(&debs))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    files.sort();
    for deb in &files {
        let output = Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(&fresh)
            .output()
            .map_err(Error::io("dpkg-deb"))?;
        if !output.status.success() {
            return Err(Error::Command {
                command: format!("dpkg-deb -x {} {}", deb.display(), fresh.display()),
                status: output.status.to_string(),
                output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
    }
    let _ = fs::remove_dir_all(&root);
    fs::rename(&fresh, &root).map_err(Error::io(&root))?;
    let _ = fs::remove_dir_all(&debs);
    fs::write(&stamp, wanted).map_err(Error::io(&stamp))?;
    Ok(root)
}

fn download(dir: &Path, packages: &[&str]) -> Result<()> {
    let mut args = vec!["download", "-q"];
    args.extend(packages);
    apt(dir, &args)
}

/// Runs `apt-get args…` in `dir` as a recorded build step (an interrupted `up` stops it).
fn apt(dir: &Path, args: &[&str]) -> Result<()> {
    let mut command = Command::new("apt-get");
    command
        .args(args)
        .current_dir(dir)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());
    let output = crate::process::build_step_output(&mut command).map_err(Error::io("apt-get"))?;
    if !output.status.success() {
        return Err(Error::Command {
            command: format!("apt-get {}", args.join(" ")),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Adds `path` of the unpacked `root` at the same path in the image, and the libraries it
/// loads: from `root` when a fetched package has them, else from this machine.
fn unpacked_program(image: ImageBuilder, root: &Path, path: &str) -> Result<ImageBuilder> {
    let program = root.join(path.trim_start_matches('/'));
    if !program.is_file() {
        return Err(image_error(
            format!(
                "take {path} from the unpacked packages in {}",
                root.display()
            ),
            "no such file: the package list is wrong",
        ));
    }
    let library_dirs: Vec<String> = fs::read_dir(root.join("usr/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.to_string_lossy().ends_with("-linux-gnu"))
        .map(|p| p.display().to_string())
        .collect();
    let output = Command::new("ldd")
        .arg(&program)
        .env("LD_LIBRARY_PATH", library_dirs.join(":"))
        .output()
        .map_err(Error::io("ldd"))?;
    let mut image = image.host_file(path, &program, 0o755);
    for library in parse_ldd(&String::from_utf8_lossy(&output.stdout)) {
        let at = match library.strip_prefix(root) {
            Ok(inside) => format!("/{}", inside.display()),
            Err(_) => library.display().to_string(),
        };
        image = image.host_file(&at, &library, 0o755);
    }
    Ok(image)
}

/// Upstream's httpd test image, from Debian's `apache2-bin` (Apache 2.4) and the APR libraries,
/// laid out as the official httpd image: `httpd-foreground` (the command) runs Apache in the
/// foreground on port 80, serving `/usr/local/apache2/htdocs` (an "It works!" page), logging
/// to stdout and stderr, workers as `daemon`. Only the modules a static site needs are
/// loaded.
///
/// # Errors
/// As [`busybox_image`] and [`unpacked`].
pub fn httpd_image(busybox: &Path, cache_dir: &Path) -> Result<ImageBuilder> {
    let root = unpacked(
        cache_dir,
        "httpd",
        &["apache2-bin", "libapr1", "libaprutil1"],
    )?;
    let mut image = unpacked_program(busybox_image(busybox)?, &root, "/usr/sbin/apache2")?;
    let mut conf = String::from("ServerRoot \"/usr/local/apache2\"\nListen 80\n");
    for (name, file) in APACHE_MODULES {
        let path = format!("/usr/lib/apache2/modules/{file}");
        image = unpacked_program(image, &root, &path)?;
        conf.push_str(&format!("LoadModule {name} {path}\n"));
    }
    conf.push_str(
        "User daemon\nGroup daemon\nServerName localhost\n\
         DocumentRoot \"/usr/local/apache2/htdocs\"\n\
         <Directory \"/usr/local/apache2/htdocs\">\n    Require all granted\n</Directory>\n\
         DirectoryIndex index.html\nTypesConfig conf/mime.types\n\
         ErrorLog /proc/self/fd/2\nLogLevel warn\n\
         LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common\nCustomLog /proc/self/fd/1 common\n\
         PidFile logs/httpd.pid\n",
    );
    Ok(with_user(image, "daemon", 1)
        .file("usr/local/apache2/conf/httpd.conf", conf, 0o644)
        .file("usr/local/apache2/conf/mime.types", MIME_TYPES, 0o644)
        .file(
            "usr/local/apache2/htdocs/index.html",
            "<html><body><h1>It works!</h1></body></html>\n",
            0o644,
        )
        .dir("usr/local/apache2/logs", 0o755)
        .symlink("usr/local/apache2/bin/httpd", "/usr/sbin/apache2")
        .file(
            "usr/local/bin/httpd-foreground",
            "#!/bin/sh\nset -e\nrm -f /usr/local/apache2/logs/httpd.pid\n\
             exec /usr/sbin/apache2 -DFOREGROUND -f /usr/local/apache2/conf/httpd.conf \"$@\"\n",
            0o755,
        )
        .env(
            "PATH",
            "/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .working_dir("/usr/local/apache2")
        .cmd(vec!["httpd-foreground".into()]))
}

/// Upstream's nginx test image, from Debian's `nginx` package (1.22): `nginx -g 'daemon off;'`
/// (the command) on port 80 serving `/usr/share/nginx/html` (a "Welcome to nginx!" page),
/// logging to stdout and stderr, workers as `nginx`.
///
/// # Errors
/// As [`busybox_image`] and [`unpacked`].
pub fn nginx_image(busybox: &Path, cache_dir: &Path) -> Result<ImageBuilder> {
    let root = unpacked(cache_dir, "nginx", &["nginx"])?;
    let image = unpacked_program(busybox_image(busybox)?, &root, "/usr/sbin/nginx")?;
    let mut types = String::new();
    for line in MIME_TYPES.lines() {
        let mut words = line.split_whitespace();
        if let Some(kind) = words.next() {
            types.push_str(&format!(
                "    {kind} {};\n",
                words.collect::<Vec<_>>().join(" ")
            ));
        }
    }
    let conf = format!(
        "user nginx;\nworker_processes 1;\nerror_log /dev/stderr warn;\npid /run/nginx.pid;\n\
         events {{\n  worker_connections 1024;\n}}\n\
         http {{\n  types {{\n{types}  }}\n  default_type application/octet-stream;\n\
         access_log /dev/stdout;\n  server {{\n    listen 80;\n    server_name localhost;\n\
         location / {{\n      root /usr/share/nginx/html;\n      index index.html;\n    }}\n  }}\n}}\n"
    );
    let mut image = with_user(image, "nginx", 101)
        .file("etc/nginx/nginx.conf", conf, 0o644)
        .file(
            "usr/share/nginx/html/index.html",
            "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n\
             <body><h1>Welcome to nginx!</h1></body></html>\n",
            0o644,
        )
        .dir("var/log/nginx", 0o755)
        .dir("run", 0o755)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .cmd(vec!["nginx".into(), "-g".into(), "daemon off;".into()]);
    // Debian's build keeps request bodies and proxied responses here.
    for dir in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        image = image.dir(&format!("var/lib/nginx/{dir}"), 0o755);
    }
    Ok(image)
}

/// The busybox image's users and groups plus `name` with uid and gid `id`.
fn with_user(image: ImageBuilder, name: &str, id: u32) -> ImageBuilder {
    image
        .file(
            "etc/passwd",
            format!(
                "root:x:0:0:root:/root:/bin/sh\n{name}:x:{id}:{id}::/nonexistent:/bin/false\n\
                 nobody:x:65534:65534:nobody:/home:/bin/false\n"
            ),
            0o644,
        )
        .file(
            "etc/group",
            format!("root:x:0:\n{name}:x:{id}:\nnogroup:x:65534:\n"),
            0o644,
        )
}
