//! HTTPS for the emulated AWS services, as on AWS (where they speak nothing else).
//!
//! Each `vpclab serve` start makes a certificate authority of its own and, signed by
//! it, one server certificate for every name and address the emulated services answer
//! on: the services' public names (`ssm.us-east-1.amazonaws.com`, …), their interface
//! endpoints' names (`*.ssm.us-east-1.vpce.amazonaws.com`), S3's virtual-hosted bucket
//! names, `checkip.amazonaws.com`, and their addresses. The CA's certificate is written
//! to the lab's state directory (`tls/ca.pem`, and `tls/ca-bundle.pem` with the
//! system's authorities before it); `vpclab exec` points the usual variables at the
//! bundle, so `curl https://…` and the aws CLI inside an instance trust the services
//! and nothing else changes. The host's own trust store is never touched.
//!
//! The CA's key lives in memory only and is dropped once the services' certificate is
//! signed, so the CA vouches for those names and nothing else, ever; a new start makes
//! new ones. (It carries no name constraints: rustls-based clients, the AWS SDK for
//! Rust among them, refuse wildcard names under a constrained CA.)

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use vpclab_dataplane::services::dns::{CHECK_IP, S3, SERVICE_NAMES};
use vpclab_model::{INTERFACE_SERVICES, REGION};

/// The lab's TLS files, under its state directory.
pub(crate) const DIR: &str = "tls";
/// The CA's certificate, alone.
pub(crate) const CA_FILE: &str = "ca.pem";
/// The system's authorities and then the lab's CA: for clients that take one file.
pub(crate) const BUNDLE_FILE: &str = "ca-bundle.pem";
/// The services' certificate (and the CA's after it, the chain a server sends).
pub(crate) const CERT_FILE: &str = "server.pem";
/// The services' private key (mode 0600).
pub(crate) const KEY_FILE: &str = "server-key.pem";

/// Where the system keeps its authorities as one file (Debian and its derivatives).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The variables `vpclab exec` sets to the bundle: OpenSSL's (curl, Python's `ssl`,
/// wget), curl's own, the AWS CLI's and SDKs', Python requests', and Node's (which adds
/// to its built-in list rather than replacing it).
pub(crate) const CLIENT_VARIABLES: [&str; 5] = [
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "AWS_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
];

/// A lab's certificates, PEM-encoded.
#[derive(Debug)]
pub(crate) struct LabCertificates {
    pub ca: String,
    /// The server's certificate followed by the CA's.
    pub chain: String,
    pub key: String,
}

/// Every DNS name the server certificate holds. (Wildcards cover one label: S3's
/// endpoint-specific bucket names, `<bucket>.vpce-….s3.….vpce.amazonaws.com`, are not
/// covered; `https://bucket.s3.us-east-1.amazonaws.com` is.)
pub(crate) fn server_names() -> Vec<String> {
    let mut names: Vec<String> = SERVICE_NAMES.iter().map(|(name, _)| (*name).to_owned()).collect();
    names.push("*.s3.amazonaws.com".to_owned());
    names.push(format!("*.s3.{REGION}.amazonaws.com"));
    for service in &INTERFACE_SERVICES {
        names.push(format!("{}.{REGION}.amazonaws.com", service.short));
        names.extend(service.private_names());
        names.push(format!("*.{}.{REGION}.vpce.amazonaws.com", service.short));
    }
    names.sort();
    names.dedup();
    names
}

/// Every address the server certificate holds: where the services listen.
pub(crate) fn server_addresses() -> Vec<Ipv4Addr> {
    let mut addresses = vec![CHECK_IP, S3];
    addresses.extend(INTERFACE_SERVICES.iter().map(|s| s.address));
    addresses.sort();
    addresses.dedup();
    addresses
}

/// Makes a new CA and the services' certificate signed by it.
pub(crate) fn issue() -> Result<LabCertificates, String> {
    let failed = |e: rcgen::Error| format!("cannot make the lab's certificates: {e}");
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.distinguished_name = name("vpclab lab CA (emulated AWS services only)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(failed)?;
    let mut server = CertificateParams::new(server_names()).map_err(failed)?;
    server
        .subject_alt_names
        .extend(server_addresses().into_iter().map(|a| rcgen::SanType::IpAddress(IpAddr::V4(a))));
    server.distinguished_name = name("emulated AWS services");
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let server_cert = server.signed_by(&key, &issuer).map_err(failed)?;

    Ok(LabCertificates {
        ca: ca_cert.pem(),
        chain: format!("{}{}", server_cert.pem(), ca_cert.pem()),
        key: key.serialize_pem(),
    })
}

fn name(common: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "vpclab");
    name.push(DnType::CommonName, common);
    name
}

/// Writes the certificates under `state`/`tls`, the key readable by root only, and the
/// bundle of the system's authorities and the lab's CA.
pub(crate) fn write(state: &Path, certificates: &LabCertificates) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;

    let dir = state.join(DIR);
    let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let key = dir.join(KEY_FILE);
    let _ = std::fs::remove_file(&key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key)
        .map_err(|e| io(&key, e))?;
    std::io::Write::write_all(&mut file, certificates.key.as_bytes()).map_err(|e| io(&key, e))?;
    let mut bundle = std::fs::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(&certificates.ca);
    for (file, text) in
        [(CA_FILE, &certificates.ca), (CERT_FILE, &certificates.chain), (BUNDLE_FILE, &bundle)]
    {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    Ok(())
}

/// The bundle clients inside the lab should trust, if the lab has made one.
pub(crate) fn bundle(state: &Path) -> Option<PathBuf> {
    let path = state.join(DIR).join(BUNDLE_FILE);
    path.is_file().then_some(path)
}

/// A server configuration for the services' certificate and key (PEM), over TLS 1.2
/// and 1.3 as AWS's endpoints offer, with HTTP/1.1 by ALPN.
pub(crate) fn server_config(chain: &[u8], key: &[u8]) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the services' certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("the services' key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the services' certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server configuration from the files `write` made in `dir`.
pub(crate) fn server_config_from(dir: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    server_config(&read(CERT_FILE)?, &read(KEY_FILE)?)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use rustls::pki_types::ServerName;

    use super::*;

    /// A client trusting only the lab's CA.
    fn client(ca: &str) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// Completes a handshake for `name` against a server with `certs`, and says
    /// whether the client accepted the server.
    fn handshake(certs: &LabCertificates, name: &str) -> Result<(), String> {
        let server = server_config(certs.chain.as_bytes(), certs.key.as_bytes()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(server).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut byte = [0u8; 1];
            if tls.read_exact(&mut byte).is_ok() {
                let _ = tls.write_all(&byte);
            }
        });
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let conn = rustls::ClientConnection::new(client(&certs.ca), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
        let result = tls.write_all(b"x").and_then(|()| {
            let mut echo = [0u8; 1];
            tls.read_exact(&mut echo)
        });
        drop(tls);
        serving.join().unwrap();
        result.map_err(|e| e.to_string())
    }

    #[test]
    fn the_services_certificate_is_trusted_for_their_names_and_addresses_only() {
        let certs = issue().unwrap();
        for name in [
            "ssm.us-east-1.amazonaws.com",
            "sts.us-east-1.amazonaws.com",
            "checkip.amazonaws.com",
            "my-bucket.s3.us-east-1.amazonaws.com",
            "vpce-0123-abcdefgh.ssm.us-east-1.vpce.amazonaws.com",
            "vpce-0123-abcdefgh-us-east-1a.ec2.us-east-1.vpce.amazonaws.com",
            "198.51.100.136",
            "192.0.2.1",
        ] {
            assert_eq!(handshake(&certs, name), Ok(()), "{name}");
        }
        for name in ["example.com", "ssm.us-west-2.amazonaws.com", "10.0.3.4"] {
            let refused = handshake(&certs, name).unwrap_err();
            assert!(refused.contains("certificate"), "{name}: {refused}");
        }
    }

    #[test]
    fn each_lab_has_its_own_authority() {
        let (one, two) = (issue().unwrap(), issue().unwrap());
        assert_ne!(one.ca, two.ca);
        let mixed = LabCertificates { ca: two.ca, chain: one.chain, key: one.key };
        assert!(handshake(&mixed, "ssm.us-east-1.amazonaws.com").is_err());
    }

    #[test]
    fn the_bundle_holds_the_labs_authority_and_the_key_is_private() {
        use std::os::unix::fs::PermissionsExt;

        let dir = std::env::temp_dir().join(format!("vpclab-tls-test-{}", std::process::id()));
        let certs = issue().unwrap();
        write(&dir, &certs).unwrap();
        let bundle = std::fs::read_to_string(bundle(&dir).unwrap()).unwrap();
        assert!(bundle.ends_with(&certs.ca));
        let key = std::fs::metadata(dir.join(DIR).join(KEY_FILE)).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
        assert!(server_config_from(&dir.join(DIR)).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
