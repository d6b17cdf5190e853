//! Certificates and keys of the local cluster, generated in Rust.
//!
//! One CA signs every serving and client certificate; a separate ECDSA key pair signs
//! service-account tokens. Keys are P-256 ECDSA: fast to generate and accepted by every
//! Kubernetes component for TLS, client certificates and token signing.

use std::fs;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::error::{Error, Result};
use crate::layout::PkiPaths;

/// The first address of the service range, which the `kubernetes` Service gets.
pub const SERVICE_IP: &str = "10.0.0.1";

/// A certificate and its private key, both PEM encoded.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("CertifiedKey").finish_non_exhaustive()
    }
}

/// Who a client certificate identifies: the user name (CN) and groups (O).
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// File stem, e.g. `admin`.
    pub file: &'static str,
    /// The user name Kubernetes sees.
    pub user: String,
    /// The groups Kubernetes sees.
    pub groups: Vec<String>,
}

/// The client identities of a stage-1 cluster.
pub fn control_plane_clients() -> Vec<ClientIdentity> {
    vec![
        ClientIdentity {
            file: "admin",
            user: "kubernetes-admin".into(),
            groups: vec!["system:masters".into()],
        },
        ClientIdentity {
            file: "kube-controller-manager",
            user: "system:kube-controller-manager".into(),
            groups: vec![],
        },
        ClientIdentity {
            file: "kube-scheduler",
            user: "system:kube-scheduler".into(),
            groups: vec![],
        },
        ClientIdentity {
            file: "apiserver-kubelet-client",
            user: "kube-apiserver-kubelet-client".into(),
            groups: vec!["system:masters".into()],
        },
        ClientIdentity {
            file: "front-proxy-client",
            user: "front-proxy-client".into(),
            groups: vec![],
        },
        ClientIdentity {
            file: "kwok",
            user: "kwok-controller".into(),
            groups: vec!["system:masters".into()],
        },
    ]
}

/// The client identities of a real node's agents.
pub fn node_clients(node: &str) -> Vec<ClientIdentity> {
    vec![
        ClientIdentity {
            file: "kubelet",
            user: format!("system:node:{node}"),
            groups: vec!["system:nodes".into()],
        },
        ClientIdentity {
            file: "kube-proxy",
            user: "system:kube-proxy".into(),
            groups: vec![],
        },
    ]
}

/// Write the CA certificate (not its key) into `paths`, for a node whose files live apart
/// from the control plane's.
///
/// # Errors
/// Fails if the file cannot be written.
pub fn write_ca_cert(paths: &PkiPaths, ca: &Authority) -> Result<()> {
    let path = paths.ca_cert();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    fs::write(&path, ca.certified_key().cert_pem).map_err(Error::io(&path))
}

/// Generate the real node's certificates: kubelet and kube-proxy clients and the kubelet's
/// serving certificate for `node` at `node_ip`.
///
/// # Errors
/// Fails if generation fails or a file cannot be written.
pub fn generate_node(paths: &PkiPaths, ca: &Authority, node: &str, node_ip: IpAddr) -> Result<()> {
    for client in node_clients(node) {
        write_pair(paths, client.file, &ca.sign_client(&client)?)?;
    }
    let names = vec![
        node.to_string(),
        "localhost".into(),
        "127.0.0.1".into(),
        node_ip.to_string(),
    ];
    write_pair(
        paths,
        "kubelet-serving",
        &ca.sign_server(&format!("system:node:{node}"), &names)?,
    )
}

/// The cluster's certificate authority, able to sign more certificates.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Authority {
    /// Generate a new self-signed CA.
    ///
    /// # Errors
    /// Fails if key generation or signing fails.
    pub fn generate() -> Result<Self> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name("kube-e2e-ca", &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let key = KeyPair::generate().map_err(pki_error("generate the CA key"))?;
        let issuer = CertifiedIssuer::self_signed(params, key)
            .map_err(pki_error("self-sign the CA certificate"))?;
        Ok(Self { issuer })
    }

    /// The CA certificate and key.
    pub fn certified_key(&self) -> CertifiedKey {
        CertifiedKey {
            cert_pem: self.issuer.pem(),
            key_pem: self.issuer.key().serialize_pem(),
        }
    }

    /// Sign a serving certificate for `cn` valid for `names` (DNS names or IP addresses).
    ///
    /// # Errors
    /// Fails if a name is not a valid DNS name or signing fails.
    pub fn sign_server(&self, cn: &str, names: &[String]) -> Result<CertifiedKey> {
        let mut params = CertificateParams::new(names.to_vec())
            .map_err(pki_error(&format!("use the names {names:?} for {cn}")))?;
        params.distinguished_name = name(cn, &[]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign_leaf(params, cn)
    }

    /// Sign a client certificate for `identity`.
    ///
    /// # Errors
    /// Fails if signing fails.
    pub fn sign_client(&self, identity: &ClientIdentity) -> Result<CertifiedKey> {
        let mut params = CertificateParams::default();
        let groups: Vec<&str> = identity.groups.iter().map(String::as_str).collect();
        params.distinguished_name = name(&identity.user, &groups);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign_leaf(params, &identity.user)
    }

    fn sign_leaf(&self, mut params: CertificateParams, cn: &str) -> Result<CertifiedKey> {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate().map_err(pki_error(&format!("generate the key of {cn}")))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(pki_error(&format!("sign the certificate of {cn}")))?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// File stem of etcd's serving certificate (client and peer listeners).
pub const ETCD_SERVER: &str = "etcd-server";
/// File stem of the API server's client certificate for etcd.
pub const ETCD_CLIENT: &str = "apiserver-etcd-client";

/// The names the API server's serving certificate must be valid for.
pub fn apiserver_names(extra_ips: &[IpAddr]) -> Vec<String> {
    let mut names: Vec<String> = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        SERVICE_IP,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for ip in extra_ips {
        let ip = ip.to_string();
        if !names.contains(&ip) {
            names.push(ip);
        }
    }
    names
}

/// Generate the whole control-plane PKI into `paths`: CA, API server serving certificate,
/// every client certificate of [`control_plane_clients`], and the service-account key pair.
///
/// # Errors
/// Fails if generation fails or a file cannot be written.
pub fn generate_control_plane(paths: &PkiPaths, extra_ips: &[IpAddr]) -> Result<Authority> {
    fs::create_dir_all(paths.dir()).map_err(Error::io(paths.dir()))?;
    let ca = Authority::generate()?;
    write_pair(paths, "ca", &ca.certified_key())?;
    let apiserver = ca.sign_server("kube-apiserver", &apiserver_names(extra_ips))?;
    write_pair(paths, "apiserver", &apiserver)?;
    for client in control_plane_clients() {
        write_pair(paths, client.file, &ca.sign_client(&client)?)?;
    }
    // etcd serves clients (and peers) over TLS and asks for a client certificate: only the
    // API server, holding `apiserver-etcd-client`, can read the cluster's data.
    let etcd = ca.sign_server(
        ETCD_SERVER,
        &["127.0.0.1".to_string(), "localhost".to_string()],
    )?;
    write_pair(paths, ETCD_SERVER, &etcd)?;
    let etcd_client = ca.sign_client(&ClientIdentity {
        file: ETCD_CLIENT,
        user: "kube-apiserver-etcd-client".into(),
        groups: vec![],
    })?;
    write_pair(paths, ETCD_CLIENT, &etcd_client)?;
    let sa = KeyPair::generate().map_err(pki_error("generate the service-account key"))?;
    write_secret(&paths.service_account_key(), &sa.serialize_pem())?;
    write_secret(&paths.service_account_pub(), &sa.public_key_pem())?;
    Ok(ca)
}

/// Write `pair` as `<stem>.crt` and `<stem>.key` (the key readable by the owner only).
///
/// # Errors
/// Fails if a file cannot be written.
pub fn write_pair(paths: &PkiPaths, stem: &str, pair: &CertifiedKey) -> Result<()> {
    let cert = paths.cert(stem);
    fs::write(&cert, &pair.cert_pem).map_err(Error::io(&cert))?;
    write_secret(&paths.key(stem), &pair.key_pem)
}

/// Write `contents` to `path`, readable by its owner only (mode 0600): private keys and the
/// kubeconfigs that embed them.
///
/// # Errors
/// Fails if the file cannot be written.
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(path))?;
    file.write_all(contents.as_bytes()).map_err(Error::io(path))
}

fn name(cn: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for o in organizations {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

fn validity(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
}

fn pki_error(what: &str) -> impl Fn(rcgen::Error) -> Error + '_ {
    move |source| Error::Pki {
        what: what.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apiserver_names_cover_the_service_ip_and_extra_ips_once() {
        let names = apiserver_names(&["172.30.0.1".parse().unwrap(), "127.0.0.1".parse().unwrap()]);
        assert!(names.contains(&SERVICE_IP.to_string()));
        assert!(names.contains(&"kubernetes.default.svc".to_string()));
        assert_eq!(names.iter().filter(|n| *n == "127.0.0.1").count(), 1);
        assert!(names.contains(&"172.30.0.1".to_string()));
    }

    #[test]
    fn generated_files_are_pem_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let paths = PkiPaths::new(dir.path().join("pki"));
        generate_control_plane(&paths, &[]).unwrap();
        let ca = fs::read_to_string(paths.ca_cert()).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        for client in control_plane_clients() {
            let key = paths.key(client.file);
            let text = fs::read_to_string(&key).unwrap();
            assert!(text.contains("PRIVATE KEY"), "{key:?} is not a private key");
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{key:?} must be readable by its owner only");
        }
        let public = fs::read_to_string(paths.service_account_pub()).unwrap();
        assert!(public.contains("BEGIN PUBLIC KEY"));
    }

    #[test]
    fn debug_output_never_contains_key_material() {
        let ca = Authority::generate().unwrap();
        let text = format!("{:?}", ca.certified_key());
        assert!(!text.contains("PRIVATE"), "{text}");
    }

    #[test]
    fn client_certificates_carry_user_and_groups() {
        let ca = Authority::generate().unwrap();
        let admin = &control_plane_clients()[0];
        let pair = ca.sign_client(admin).unwrap();
        let der = pem_to_der(&pair.cert_pem);
        // The subject is DER-encoded in the certificate: the user and group strings appear verbatim.
        assert!(contains(&der, b"kubernetes-admin"));
        assert!(contains(&der, b"system:masters"));
    }

    fn pem_to_der(pem: &str) -> Vec<u8> {
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }
}
