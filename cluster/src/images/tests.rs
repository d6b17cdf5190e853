//! Tests of the image builder and catalogue.

use std::collections::BTreeMap;
use std::io::Read;

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use super::archive::*;
use super::catalogue::*;
use super::*;

/// The entries of a tar archive: path → (header, contents).
type Entries = BTreeMap<String, (tar::Header, Vec<u8>)>;

fn entries(tar_bytes: &[u8]) -> Entries {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(path, (entry.header().clone(), bytes));
    }
    out
}

fn blob<'a>(archive: &'a Entries, digest: &str) -> &'a [u8] {
    let path = format!("blobs/sha256/{}", hex_of(digest));
    &archive
        .get(&path)
        .unwrap_or_else(|| panic!("{path} is missing"))
        .1
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Writes `image` and returns the archive's entries and the image's layer entries.
fn written(image: &ImageBuilder, image_names: &[String]) -> (ImageInfo, Entries, Entries) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("image.tar");
    let info = image.write_oci_archive(image_names, &out).unwrap();
    let archive = entries(&fs::read(&out).unwrap());
    let manifest = json_of(blob(&archive, &info.manifest_digest));
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    let layer = entries(blob(&archive, layer_digest));
    (info, archive, layer)
}

#[test]
fn the_same_inputs_give_the_same_archive_and_digests() {
    let image = busybox_image(Path::new(BUSYBOX)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image_names = names(LocalImage::Busybox.names());
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    let first = image.write_oci_archive(&image_names, &a).unwrap();
    let second = image.clone().write_oci_archive(&image_names, &b).unwrap();
    assert_eq!(first, second, "building twice gave different digests");
    assert!(
        fs::read(&a).unwrap() == fs::read(&b).unwrap(),
        "building twice gave different archives"
    );
}

#[test]
fn the_index_names_every_image_with_its_tag() {
    let image_names = names(LocalImage::Pause.names());
    let (info, archive, _) = written(&pause_image(Path::new(BUSYBOX)).unwrap(), &image_names);
    assert_eq!(info.names, image_names);
    assert_eq!(
        archive["oci-layout"].1,
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index = json_of(&archive["index.json"].1);
    let listed: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["digest"], info.manifest_digest.as_str());
            let a = &m["annotations"];
            (
                a["io.containerd.image.name"].as_str().unwrap().to_string(),
                a["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (SANDBOX_IMAGE.to_string(), "3.10.1".to_string()),
            ("registry.k8s.io/pause:3.10".to_string(), "3.10".to_string()),
            (
                "localhost/kube-e2e/pause:3.10.1".to_string(),
                "3.10.1".to_string()
            ),
        ]
    );
}

#[test]
fn the_busybox_layer_has_busybox_its_applets_and_a_sticky_tmp() {
    let image = busybox_image(Path::new(BUSYBOX)).unwrap();
    let (_, _, layer) = written(&image, &names(&[E2E_BUSYBOX_IMAGE]));
    let (header, bytes) = &layer["bin/busybox"];
    assert_eq!(bytes, &fs::read(BUSYBOX).unwrap());
    assert_eq!(header.mode().unwrap(), 0o755);
    for applet in ["echo", "env", "sleep", "wget"] {
        let (header, _) = &layer[&format!("bin/{applet}")];
        assert_eq!(header.entry_type(), tar::EntryType::Symlink, "bin/{applet}");
        assert_eq!(header.link_name().unwrap().unwrap(), Path::new("busybox"));
    }
    // `sh` is bash, with the loader and libraries it needs.
    let (sh, _) = &layer["bin/sh"];
    assert_eq!(sh.link_name().unwrap().unwrap(), Path::new("bash"));
    assert_eq!(layer["bin/bash"].1, fs::read(SHELL).unwrap());
    assert!(
        layer.keys().any(|k| k.ends_with("/libc.so.6")),
        "bash's libc is in the layer"
    );
    assert!(!layer.contains_key("bin/bin/busybox"));
    let (tmp, _) = &layer["tmp"];
    assert_eq!(tmp.entry_type(), tar::EntryType::Directory);
    assert_eq!(tmp.mode().unwrap(), 0o1777);
    assert!(
        layer["etc/passwd"]
            .1
            .ends_with(b"nobody:x:65534:65534:nobody:/home:/bin/false\n")
    );
    for (path, (header, _)) in &layer {
        assert_eq!(
            (
                header.mtime().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap()
            ),
            (0, 0, 0),
            "{path} is not owned by root with mtime 0"
        );
    }
    let paths: Vec<&String> = layer.keys().collect();
    assert!(paths.is_sorted(), "layer entries are not sorted");
}

#[test]
fn the_config_points_at_the_layer_and_is_the_image_id() {
    let image = pause_image(Path::new(BUSYBOX))
        .unwrap()
        .env("PATH", "/bin")
        .env("MODE", "test")
        .user("65534");
    let (info, archive, _) = written(&image, &names(&[SANDBOX_IMAGE]));
    let manifest = json_of(blob(&archive, &info.manifest_digest));
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(sha256(blob(&archive, layer_digest)), layer_digest);
    let config_bytes = blob(&archive, &info.config_digest);
    assert_eq!(sha256(config_bytes), info.config_digest);
    assert_eq!(manifest["config"]["digest"], info.config_digest.as_str());
    let config = json_of(config_bytes);
    assert_eq!(config["rootfs"]["diff_ids"], json!([layer_digest]));
    assert_eq!(config["architecture"], architecture());
    assert_eq!(config["created"], CREATED);
    assert_eq!(config["config"]["Entrypoint"], json!(PAUSE_ENTRYPOINT));
    assert_eq!(config["config"].get("Cmd"), None);
    assert_eq!(config["config"]["Env"], json!(["PATH=/bin", "MODE=test"]));
    assert_eq!(config["config"]["User"], "65534");
}

#[test]
fn a_missing_host_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("csi-driver");
    let err = ImageBuilder::new()
        .host_file("/bin/driver", &missing, 0o755)
        .write_oci_archive(
            &names(&["localhost/driver:1.0"]),
            &dir.path().join("out.tar"),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(!dir.path().join("out.tar").exists());
}

#[test]
fn host_files_and_missing_parents_end_up_in_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("driver");
    fs::write(&host, b"#!/bin/sh\n").unwrap();
    let image = ImageBuilder::new().host_file("/usr/local/bin/driver", &host, 0o700);
    let (_, _, layer) = written(&image, &names(&["localhost/driver:1.0"]));
    assert_eq!(layer["usr/local/bin/driver"].1, b"#!/bin/sh\n");
    assert_eq!(layer["usr/local/bin/driver"].0.mode().unwrap(), 0o700);
    for parent in ["usr", "usr/local", "usr/local/bin"] {
        assert_eq!(
            layer[parent].0.entry_type(),
            tar::EntryType::Directory,
            "{parent}"
        );
    }
}

#[test]
fn a_file_under_a_symlink_or_an_unusable_path_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.tar");
    let image_names = names(&["localhost/x:1.0"]);
    let under_link = ImageBuilder::new()
        .symlink("/lib", "usr/lib")
        .file("/lib/x", "x", 0o644);
    let err = under_link
        .write_oci_archive(&image_names, &out)
        .unwrap_err();
    assert!(
        err.to_string().contains("/lib is a file or symlink"),
        "{err}"
    );
    let escaping = ImageBuilder::new().file("/etc/../x", "x", 0o644);
    let err = escaping.write_oci_archive(&image_names, &out).unwrap_err();
    assert!(err.to_string().contains("`/etc/../x`"), "{err}");
}

#[test]
fn names_must_be_fully_qualified_and_carry_a_version_tag() {
    assert_eq!(tag_of("registry.k8s.io/pause:3.10.1").unwrap(), "3.10.1");
    assert_eq!(tag_of("localhost:5000/a/b:v1").unwrap(), "v1");
    let err = tag_of("busybox:1.37").unwrap_err().to_string();
    assert!(
        err.contains("write `docker.io/library/busybox:1.37`"),
        "{err}"
    );
    let err = tag_of("localhost/kube-e2e/busybox")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no tag"), "{err}");
    let err = tag_of("localhost:5000/busybox").unwrap_err().to_string();
    assert!(err.contains("no tag"), "{err}");
    let err = tag_of("docker.io/library/busybox:latest")
        .unwrap_err()
        .to_string();
    assert!(err.contains("kubelet always pulls"), "{err}");
}

#[test]
fn the_catalogue_names_the_sandbox_and_e2e_busybox_and_never_latest() {
    let all: Vec<&str> = standard_images()
        .iter()
        .flat_map(|i| i.names())
        .copied()
        .collect();
    assert!(all.contains(&SANDBOX_IMAGE) && all.contains(&E2E_BUSYBOX_IMAGE));
    for name in all {
        tag_of(name).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_dynamically_linked_busybox_is_refused() {
    let dynamic = Path::new("/bin/ls");
    let err = busybox_image(dynamic).unwrap_err().to_string();
    assert!(err.contains("busybox-static"), "{err}");
    assert_eq!(is_static_elf(b"#!/bin/sh\n"), None);
}

#[test]
fn standard_archives_are_cached_by_content() {
    let cache = tempfile::tempdir().unwrap();
    let first = build_standard(cache.path()).unwrap();
    let modified: Vec<_> = first
        .iter()
        .map(|b| fs::metadata(&b.archive).unwrap().modified().unwrap())
        .collect();
    let second = build_standard(cache.path()).unwrap();
    assert_eq!(first, second);
    for (built, before) in second.iter().zip(modified) {
        let name = built.archive.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with(built.image.short_name()) && name.ends_with(".tar"));
        assert_eq!(
            fs::metadata(&built.archive).unwrap().modified().unwrap(),
            before
        );
    }
    assert_eq!(
        fs::read_dir(cache.path().join("images")).unwrap().count(),
        2
    );
}
