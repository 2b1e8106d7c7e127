//! Test certificates, generated per test with rcgen: a CA, a server certificate for
//! `localhost` and `127.0.0.1`, a client certificate, and an unrelated second CA, written as
//! PEM files (ECDSA P-256, PKCS#8 keys) into a temporary directory that Mosquitto (OpenSSL)
//! and Ferrite both read. Other key encodings are made on demand with the `openssl` command,
//! the tool users make them with.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use tempfile::TempDir;

/// A PEM item and the file it was written to.
pub struct PemFile {
    pub pem: String,
    pub path: PathBuf,
}

/// A certificate with its private key.
pub struct Identity {
    pub cert: PemFile,
    pub key: PemFile,
}

/// The test PKI; its files live as long as it does.
pub struct TestPki {
    dir: TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA that signed `server` and `client`.
    pub ca: PemFile,
    /// A CA that signed nothing here.
    pub other_ca: PemFile,
    /// For `localhost` and `127.0.0.1`, extended key usage serverAuth.
    pub server: Identity,
    /// Common name `ferrite-client`, extended key usage clientAuth.
    pub client: Identity,
}

impl TestPki {
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let issuer = ca("Ferrite test CA", 1);
        let other = ca("Ferrite other CA", 2);
        let ca = write(dir.path(), "ca.pem", issuer.pem());
        let other_ca = write(dir.path(), "other-ca.pem", other.pem());
        let server = issue(
            dir.path(),
            &issuer,
            "server",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            3,
        );
        let client = issue(
            dir.path(),
            &issuer,
            "client",
            &["ferrite-client"],
            ExtendedKeyUsagePurpose::ClientAuth,
            4,
        );
        Self {
            dir,
            issuer,
            ca,
            other_ca,
            server,
            client,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client key as `openssl pkey -traditional` writes it: SEC1 (`EC PRIVATE KEY`).
    pub fn client_key_sec1(&self) -> PemFile {
        let path = self.dir().join("client-sec1.key");
        openssl(&[
            "pkey",
            "-traditional",
            "-in",
            path_str(&self.client.key.path),
            "-out",
            path_str(&path),
        ]);
        read(path)
    }

    /// The client key encrypted with `passphrase` by `openssl pkcs8 -topk8` (PBES2,
    /// AES-256-CBC, PBKDF2 with HMAC-SHA256): `ENCRYPTED PRIVATE KEY`.
    pub fn client_key_encrypted(&self, passphrase: &str) -> PemFile {
        let path = self.dir().join("client-encrypted.key");
        openssl(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            &format!("pass:{passphrase}"),
            "-in",
            path_str(&self.client.key.path),
            "-out",
            path_str(&path),
        ]);
        read(path)
    }

    /// A client certificate for an RSA key stored as PKCS#1 (`RSA PRIVATE KEY`).
    pub fn rsa_client(&self) -> Identity {
        let pkcs8 = self.dir().join("rsa-client-pkcs8.key");
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            path_str(&pkcs8),
        ]);
        let key_pair = KeyPair::from_pem(&read(pkcs8.clone()).pem).expect("RSA key");
        let params = leaf_params(
            &["ferrite-rsa-client"],
            ExtendedKeyUsagePurpose::ClientAuth,
            5,
        );
        let cert = params
            .signed_by(&key_pair, &self.issuer)
            .expect("RSA client certificate");
        let key = self.dir().join("rsa-client.key");
        openssl(&[
            "pkey",
            "-traditional",
            "-in",
            path_str(&pkcs8),
            "-out",
            path_str(&key),
        ]);
        Identity {
            cert: write(self.dir(), "rsa-client.pem", cert.pem()),
            key: read(key),
        }
    }

    /// Mosquitto's TLS listener files: this server certificate, trusting the CA for client
    /// certificates, which it requires when `mutual`.
    pub fn mosquitto_tls(&self, mutual: bool) -> super::mosquitto::TlsFiles {
        super::mosquitto::TlsFiles {
            ca: self.ca.path.clone(),
            cert: self.server.cert.path.clone(),
            key: self.server.key.path.clone(),
            mutual,
        }
    }
}

fn ca(name: &str, serial: u64) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate")
}

fn leaf_params(names: &[&str], usage: ExtendedKeyUsagePurpose, serial: u64) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("subject names");
    params
        .distinguished_name
        .push(DnType::CommonName, &names[0]);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(SerialNumber::from(serial));
    params
}

fn issue(
    dir: &Path,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    stem: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    serial: u64,
) -> Identity {
    let key = KeyPair::generate().expect("key");
    let cert = leaf_params(names, usage, serial)
        .signed_by(&key, issuer)
        .expect("certificate");
    Identity {
        cert: write(dir, &format!("{stem}.pem"), cert.pem()),
        key: write(dir, &format!("{stem}.key"), key.serialize_pem()),
    }
}

fn write(dir: &Path, name: &str, pem: String) -> PemFile {
    let path = dir.join(name);
    std::fs::write(&path, &pem).expect("write PEM file");
    PemFile { pem, path }
}

fn read(path: PathBuf) -> PemFile {
    let pem = std::fs::read_to_string(&path).expect("read PEM file");
    PemFile { pem, path }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
