//! Kubeconfig files for the cluster's users, self-contained (certificates embedded).

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};
use crate::pki::CertifiedKey;

/// Render a kubeconfig for `server` that trusts `ca_pem` and authenticates with `client`.
pub fn render(cluster_name: &str, server: &str, ca_pem: &str, client: &CertifiedKey) -> String {
    let user = format!("{cluster_name}-user");
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {cluster_name}\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: {user}\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n\
         contexts:\n\
         - name: {cluster_name}\n  \
           context:\n    \
             cluster: {cluster_name}\n    \
             user: {user}\n\
         current-context: {cluster_name}\n",
        ca = STANDARD.encode(ca_pem),
        cert = STANDARD.encode(&client.cert_pem),
        key = STANDARD.encode(&client.key_pem),
    )
}

/// Write a kubeconfig readable by its owner only (it holds a private key).
///
/// # Errors
/// Fails if the file cannot be written.
pub fn write(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(path))?;
    file.write_all(contents.as_bytes()).map_err(Error::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_kubeconfig_is_read_back_by_kube() {
        let client = CertifiedKey {
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
        };
        let text = render("kube-e2e", "https://127.0.0.1:6443", "CA", &client);
        let config = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(config.current_context.as_deref(), Some("kube-e2e"));
        let cluster = config.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        let user = config.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(
            user.client_certificate_data.as_deref(),
            Some(STANDARD.encode("CERT").as_str())
        );
    }
}
