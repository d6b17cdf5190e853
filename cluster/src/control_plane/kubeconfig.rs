//! Kubeconfig files for the cluster's users, self-contained (certificates embedded), and
//! clients built from them.

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::control_plane::components::Ports;
use crate::control_plane::pki::{self, CertifiedKey};
use crate::error::{Error, Result};
use crate::layout::Layout;

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
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    pki::write_secret(path, contents)
}

/// Write the kubeconfig of every client in `clients` (`<state dir>/kubeconfig/<file>.kubeconfig`)
/// for the API server at `host`, from the certificates and keys already in the PKI directory.
///
/// # Errors
/// Fails if a certificate or key cannot be read or a kubeconfig cannot be written.
pub(crate) fn write_for_clients(
    layout: &Layout,
    ca: &pki::Authority,
    ports: &Ports,
    host: &str,
    clients: &[pki::ClientIdentity],
) -> Result<()> {
    let server = format!("https://{host}:{}", ports.apiserver);
    let ca_pem = ca.certified_key().cert_pem;
    let paths = layout.pki();
    for client in clients {
        let pair = CertifiedKey {
            cert_pem: fs::read_to_string(paths.cert(client.file))
                .map_err(Error::io(paths.cert(client.file)))?,
            key_pem: fs::read_to_string(paths.key(client.file))
                .map_err(Error::io(paths.key(client.file)))?,
        };
        let text = render("kube-e2e", &server, &ca_pem, &pair);
        write(&layout.kubeconfig(client.file), &text)?;
    }
    Ok(())
}

/// A client from a kubeconfig file (its current context).
///
/// # Errors
/// Fails if the file cannot be read or parsed.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let map = |e: Box<dyn std::error::Error + Send + Sync>| Error::Kubeconfig {
        path: path.to_path_buf(),
        source: e,
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| map(Box::new(e)))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| map(Box::new(e)))?;
    kube::Client::try_from(config).map_err(|e| map(Box::new(e)))
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
