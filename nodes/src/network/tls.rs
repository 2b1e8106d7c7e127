//! TLS plumbing shared by the MQTT client connections (`mqtt-broker` with a `tls-config`) and
//! the embedded broker: PEM parsing, client and server configurations, the client handshake.
//!
//! Everything runs on rustls with the `ring` provider, passed explicitly to every config so
//! nothing depends on a process-wide default provider. The client side follows Node.js'
//! `tls.connect` as Node-RED drives it: `ca` given means only those CAs are trusted (else the
//! system's), `rejectUnauthorized: false` accepts any server certificate (handshake signatures
//! are still checked), `servername` replaces the host for SNI and for the certificate check,
//! and `passphrase` decrypts an encrypted PKCS#8 key.

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use pkcs8::EncryptedPrivateKeyInfoRef;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{
    self, AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct,
    InconsistentKeys, RootCertStore, ServerConfig, SignatureScheme,
};
use tokio_rustls::server::TlsStream as ServerTlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Why TLS material or a TLS connection cannot be used. Messages start with the setting
/// concerned (`ca`, `cert`, `key`, `servername`) where there is one.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what}: file {path}: {error}")]
    File {
        what: &'static str,
        path: String,
        error: io::Error,
    },
    #[error("{what}: invalid PEM data: {error}")]
    Pem {
        what: &'static str,
        error: pem::Error,
    },
    #[error("{what}: no certificate found in PEM data")]
    NoCertificate { what: &'static str },
    #[error("{what}: unusable certificate: {error}")]
    BadCertificate {
        what: &'static str,
        error: rustls::Error,
    },
    #[error("key: no private key found in PEM data")]
    NoKey,
    #[error("key: unusable private key: {0}")]
    BadKey(rustls::Error),
    #[error("key: the private key is encrypted; set the passphrase")]
    PassphraseRequired,
    #[error(
        "key: cannot decrypt the private key (wrong passphrase or unsupported encryption): {0}"
    )]
    Decrypt(String),
    #[error(
        "key: keys encrypted in OpenSSL's legacy format (Proc-Type: 4,ENCRYPTED) are not \
         supported; convert with openssl pkcs8 -topk8"
    )]
    LegacyEncryptedKey,
    #[error("key: a client certificate needs its private key")]
    MissingKey,
    #[error("cert: a private key needs its certificate")]
    MissingCert,
    #[error("certificate and key do not match")]
    KeyMismatch,
    #[error("no system CA certificates found; set ca to the CA that signed the server")]
    NoSystemRoots,
    #[error("servername: {0:?} is neither a DNS name nor an IP address")]
    ServerName(String),
    #[error("TLS setup: {0}")]
    Setup(String),
    #[error("TLS handshake with {server} failed: {}", explain(.error))]
    Handshake { server: String, error: io::Error },
    #[error("TLS handshake with a client failed: {}", explain(.0))]
    Accept(io::Error),
}

/// What a client connection needs: PEM material as read from files or inline data.
#[derive(Clone)]
pub struct ClientOptions {
    /// CA certificates (PEM). When set, only these are trusted; otherwise the system's.
    pub ca: Option<Vec<u8>>,
    /// Client certificate chain (PEM), leaf first.
    pub cert: Option<Vec<u8>>,
    /// The client certificate's private key (PEM: PKCS#1, PKCS#8, SEC1, or encrypted PKCS#8).
    pub key: Option<Vec<u8>>,
    /// Decrypts an `ENCRYPTED PRIVATE KEY`.
    pub passphrase: Option<String>,
    /// `false` accepts any server certificate (Node.js `rejectUnauthorized: false`).
    pub verify_server_cert: bool,
    /// Name for SNI and the certificate check instead of the host connected to.
    pub server_name: Option<String>,
    /// ALPN protocols offered, most preferred first.
    pub alpn: Vec<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            ca: None,
            cert: None,
            key: None,
            passphrase: None,
            verify_server_cert: true,
            server_name: None,
            alpn: Vec::new(),
        }
    }
}

/// A ready client configuration; cheap to clone and share between connections.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl ClientTls {
    /// Parses the material and builds the rustls configuration.
    pub fn new(options: &ClientOptions) -> Result<Self, TlsError> {
        let server_name = options
            .server_name
            .as_deref()
            .map(parse_server_name)
            .transpose()?;
        // Parsed even when not verifying, so bad CA data is reported all the same.
        let ca = options
            .ca
            .as_deref()
            .map(|pem| root_store("ca", pem))
            .transpose()?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let builder = if options.verify_server_cert {
            let roots = match ca {
                Some(roots) => Arc::new(roots),
                None => system_roots()?,
            };
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(
                    provider().signature_verification_algorithms,
                )))
        };
        let mut config = match (&options.cert, &options.key) {
            (Some(cert), Some(key)) => {
                let chain = certificates("cert", cert)?;
                let key = private_key(key, options.passphrase.as_deref())?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(key_error)?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(TlsError::MissingKey),
            (None, Some(_)) => return Err(TlsError::MissingCert),
        };
        config.alpn_protocols = options
            .alpn
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.as_bytes().to_vec())
            .collect();
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// Runs the client handshake over `io` (a connected TCP stream). The certificate is checked
/// against the `servername` override when set, else against `host` (a DNS name, or an IP
/// address matched against the certificate's IP addresses).
pub async fn connect<IO>(io: IO, tls: &ClientTls, host: &str) -> Result<TlsStream<IO>, TlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let name = match &tls.server_name {
        Some(name) => name.clone(),
        None => parse_server_name(host)?,
    };
    let server = name.to_str().into_owned();
    TlsConnector::from(Arc::clone(&tls.config))
        .connect(name, io)
        .await
        .map_err(|error| TlsError::Handshake { server, error })
}

/// Runs the server handshake over `io` (an accepted TCP stream).
pub async fn accept<IO>(io: IO, config: &Arc<ServerConfig>) -> Result<ServerTlsStream<IO>, TlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    TlsAcceptor::from(Arc::clone(config))
        .accept(io)
        .await
        .map_err(TlsError::Accept)
}

/// A server configuration for the embedded broker: its certificate chain and key (PEM), and
/// when `client_ca_pem` is given, clients must present a certificate signed by one of those CAs.
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates("cert", cert_chain_pem)?;
    let key = private_key(key_pem, None)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let builder = match client_ca_pem {
        Some(pem) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(root_store("ca", pem)?),
                provider(),
            )
            .build()
            .map_err(|e| TlsError::Setup(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).map_err(key_error)?;
    Ok(Arc::new(config))
}

/// Reads a PEM file named in a setting (`what`: `ca`, `cert`, `key`).
pub fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::File {
        what,
        path: path.display().to_string(),
        error,
    })
}

/// Every certificate in `pem`; at least one.
fn certificates(what: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem { what, error })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { what });
    }
    Ok(certs)
}

/// The first private key in `pem`, decrypted with `passphrase` when it is encrypted.
fn private_key(pem: &[u8], passphrase: Option<&str>) -> Result<PrivateKeyDer<'static>, TlsError> {
    if let Some(block) = pem_block(pem, "ENCRYPTED PRIVATE KEY") {
        let passphrase = passphrase
            .filter(|p| !p.is_empty())
            .ok_or(TlsError::PassphraseRequired)?;
        let decrypt_error = |e: &dyn std::fmt::Display| TlsError::Decrypt(e.to_string());
        // DER first: the PEM reader cannot decode the optional fields of the parameters.
        let (_, der) = pkcs8::der::pem::decode_vec(block).map_err(|e| decrypt_error(&e))?;
        let info =
            EncryptedPrivateKeyInfoRef::try_from(der.as_slice()).map_err(|e| decrypt_error(&e))?;
        let document = info.decrypt(passphrase).map_err(|e| decrypt_error(&e))?;
        return Ok(PrivatePkcs8KeyDer::from(document.as_bytes().to_vec()).into());
    }
    if find(pem, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err(TlsError::LegacyEncryptedKey);
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey,
        error => TlsError::Pem { what: "key", error },
    })
}

/// An I/O error on a TLS connection, with a hint when the cause is a setting users can fix.
/// For errors after the handshake too: a server refusing a client certificate tells the
/// client only on its first read (TLS 1.3).
pub fn explain(err: &io::Error) -> String {
    match hint(err) {
        Some(hint) => format!("{err} ({hint})"),
        None => err.to_string(),
    }
}

fn hint(err: &io::Error) -> Option<&'static str> {
    let err = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(match err {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server certificate is not signed by a trusted CA: set ca to the CA that signed \
             it, or turn off verifyservercert"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "the server certificate is not for this host: set servername to a name it holds",
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server requires a client certificate: set cert and key"
        }
        rustls::Error::AlertReceived(
            AlertDescription::UnknownCA | AlertDescription::BadCertificate,
        ) => "the server rejected the client certificate",
        _ => return None,
    })
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

/// The system's trusted CAs, loaded on first use and kept for the process.
fn system_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        if !loaded.errors.is_empty() {
            tracing::warn!(errors = ?loaded.errors, "some system CA certificates could not be read");
        }
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(loaded.certs);
        tracing::debug!(added, ignored, "loaded the system CA certificates");
        Arc::new(store)
    });
    if roots.is_empty() {
        return Err(TlsError::NoSystemRoots);
    }
    Ok(Arc::clone(roots))
}

fn root_store(what: &'static str, pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(what, pem)? {
        store
            .add(cert)
            .map_err(|error| TlsError::BadCertificate { what, error })?;
    }
    Ok(store)
}

fn key_error(err: rustls::Error) -> TlsError {
    match err {
        rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError::KeyMismatch,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            TlsError::BadCertificate {
                what: "cert",
                error: err,
            }
        }
        other => TlsError::BadKey(other),
    }
}

fn parse_server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    // A URL host gives an IPv6 address in brackets.
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::ServerName(name.to_owned()))
}

/// The `-----BEGIN <label>-----` ... `-----END <label>-----` block of `pem`, if any.
fn pem_block<'a>(pem: &'a [u8], label: &str) -> Option<&'a [u8]> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = find(pem, begin.as_bytes())?;
    let stop = start + find(&pem[start..], end.as_bytes())? + end.len();
    Some(&pem[start..stop])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `verifyservercert: false`: any certificate is accepted, but the handshake signatures must
/// still be made by its key, so the session keys stay bound to the certificate shown.
#[derive(Debug)]
struct AcceptAnyServerCert(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::time::Duration;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;
    use tokio_rustls::rustls::sign::{CertifiedKey, SingleCertAndKey};

    use super::*;

    struct Ca(CertifiedIssuer<'static, KeyPair>);

    /// A certificate and its key, as PEM.
    struct Identity {
        cert: String,
        key: String,
    }

    impl Ca {
        fn new(name: &str) -> Self {
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let key = KeyPair::generate().expect("key");
            Self(CertifiedIssuer::self_signed(params, key).expect("CA certificate"))
        }

        fn pem(&self) -> Vec<u8> {
            self.0.pem().into_bytes()
        }

        fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Identity {
            let mut params =
                CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                    .expect("names");
            params.distinguished_name.push(DnType::CommonName, names[0]);
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &self.0).expect("certificate");
            Identity {
                cert: cert.pem(),
                key: key.serialize_pem(),
            }
        }

        fn server(&self, names: &[&str]) -> Identity {
            self.issue(names, ExtendedKeyUsagePurpose::ServerAuth)
        }

        fn client(&self) -> Identity {
            self.issue(&["ferrite-client"], ExtendedKeyUsagePurpose::ClientAuth)
        }
    }

    fn server(identity: &Identity, client_ca: Option<&Ca>) -> Arc<ServerConfig> {
        let ca = client_ca.map(Ca::pem);
        server_config(
            identity.cert.as_bytes(),
            identity.key.as_bytes(),
            ca.as_deref(),
        )
        .expect("server config")
    }

    fn client(options: ClientOptions) -> ClientTls {
        ClientTls::new(&options).expect("client config")
    }

    fn trusting(ca: &Ca) -> ClientOptions {
        ClientOptions {
            ca: Some(ca.pem()),
            ..ClientOptions::default()
        }
    }

    async fn bounded<T>(work: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), work)
            .await
            .expect("finished within 10 s")
    }

    /// What the server saw of the one connection it accepted.
    #[derive(Debug)]
    struct Accepted {
        sni: Option<String>,
        alpn: Option<Vec<u8>>,
        client_cert: bool,
    }

    /// Accepts one connection on a free loopback port, completes the handshake and says "hi".
    async fn serve_once(
        config: Arc<ServerConfig>,
    ) -> (u16, JoinHandle<Result<Accepted, TlsError>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.map_err(TlsError::Accept)?;
            let mut tls = accept(tcp, &config).await?;
            let (_, conn) = tls.get_ref();
            let accepted = Accepted {
                sni: conn.server_name().map(str::to_owned),
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                client_cert: conn.peer_certificates().is_some(),
            };
            tls.write_all(b"hi").await.map_err(TlsError::Accept)?;
            tls.shutdown().await.map_err(TlsError::Accept)?;
            Ok(accepted)
        });
        (port, task)
    }

    /// Connects to `port` as `host` and reads the server's greeting.
    async fn greet(port: u16, tls: &ClientTls, host: &str) -> Result<Vec<u8>, TlsError> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.expect("tcp");
        let mut stream = connect(tcp, tls, host).await?;
        let mut greeting = vec![0; 2];
        stream
            .read_exact(&mut greeting)
            .await
            .map_err(|error| TlsError::Handshake {
                server: host.to_owned(),
                error,
            })?;
        Ok(greeting)
    }

    /// A CA given in `ca` verifies a server reached by IP address through its IP SAN.
    #[tokio::test]
    async fn trusts_the_given_ca_and_checks_ip_addresses() {
        bounded(async {
            let ca = Ca::new("test CA");
            let (port, task) =
                serve_once(server(&ca.server(&["localhost", "127.0.0.1"]), None)).await;
            let greeting = greet(port, &client(trusting(&ca)), "127.0.0.1").await;
            assert_eq!(greeting.expect("handshake"), b"hi");
            let accepted = task.await.expect("task").expect("accepted");
            // No SNI for an IP address, and no client certificate was asked for.
            assert_eq!(accepted.sni, None);
            assert!(!accepted.client_cert);
        })
        .await;
    }

    /// A server certificate from another CA fails the handshake with a hint about `ca`.
    #[tokio::test]
    async fn a_server_from_another_ca_is_rejected() {
        bounded(async {
            let (ca, other) = (Ca::new("test CA"), Ca::new("other CA"));
            let (port, _task) = serve_once(server(&ca.server(&["localhost"]), None)).await;
            let err = greet(port, &client(trusting(&other)), "localhost")
                .await
                .expect_err("untrusted server");
            let text = err.to_string();
            assert!(
                text.starts_with("TLS handshake with localhost failed: "),
                "{text}"
            );
            assert!(text.contains("not signed by a trusted CA"), "{text}");
        })
        .await;
    }

    /// Without `ca` the system roots are used, and they do not hold a test CA.
    #[tokio::test]
    async fn without_ca_the_system_roots_are_used() {
        bounded(async {
            let ca = Ca::new("test CA");
            let (port, _task) = serve_once(server(&ca.server(&["localhost"]), None)).await;
            match ClientTls::new(&ClientOptions::default()) {
                Ok(tls) => {
                    let err = greet(port, &tls, "localhost")
                        .await
                        .expect_err("unknown CA");
                    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
                }
                Err(err) => assert!(matches!(err, TlsError::NoSystemRoots), "{err}"),
            }
        })
        .await;
    }

    /// `verify_server_cert: false` accepts a certificate no trusted CA signed.
    #[tokio::test]
    async fn not_verifying_accepts_any_server_certificate() {
        bounded(async {
            let (ca, other) = (Ca::new("test CA"), Ca::new("other CA"));
            let (port, task) = serve_once(server(&ca.server(&["broker.example"]), None)).await;
            let tls = client(ClientOptions {
                verify_server_cert: false,
                ..trusting(&other)
            });
            assert_eq!(
                greet(port, &tls, "localhost").await.expect("handshake"),
                b"hi"
            );
            assert_eq!(
                task.await.expect("task").expect("accepted").sni.as_deref(),
                Some("localhost")
            );
        })
        .await;
    }

    /// Not verifying still requires the handshake to be signed by the certificate's key: a
    /// server showing a certificate whose key it does not hold is refused.
    #[tokio::test]
    async fn not_verifying_still_checks_handshake_signatures() {
        bounded(async {
            let ca = Ca::new("test CA");
            let (shown, held) = (ca.server(&["localhost"]), ca.server(&["localhost"]));
            let key = PrivateKeyDer::from_pem_slice(held.key.as_bytes()).expect("key");
            let impostor = CertifiedKey::new(
                certificates("cert", shown.cert.as_bytes()).expect("certificate"),
                provider()
                    .key_provider
                    .load_private_key(key)
                    .expect("signing key"),
            );
            let config = ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(SingleCertAndKey::from(impostor)));
            let (port, _task) = serve_once(Arc::new(config)).await;
            let tls = client(ClientOptions {
                verify_server_cert: false,
                ..ClientOptions::default()
            });
            let err = greet(port, &tls, "localhost")
                .await
                .expect_err("forged handshake");
            assert!(err.to_string().contains("BadSignature"), "{err}");
        })
        .await;
    }

    /// `servername` replaces the host for SNI and for the certificate check.
    #[tokio::test]
    async fn servername_overrides_the_host() {
        bounded(async {
            let ca = Ca::new("test CA");
            let identity = ca.server(&["broker.example"]);
            let (port, _task) = serve_once(server(&identity, None)).await;
            let err = greet(port, &client(trusting(&ca)), "127.0.0.1")
                .await
                .expect_err("the certificate is not for 127.0.0.1");
            assert!(err.to_string().contains("set servername"), "{err}");

            let (port, task) = serve_once(server(&identity, None)).await;
            let tls = client(ClientOptions {
                server_name: Some("broker.example".into()),
                ..trusting(&ca)
            });
            assert_eq!(
                greet(port, &tls, "127.0.0.1").await.expect("handshake"),
                b"hi"
            );
            let accepted = task.await.expect("task").expect("accepted");
            assert_eq!(accepted.sni.as_deref(), Some("broker.example"));
        })
        .await;
    }

    /// A server that requires client certificates accepts ours and refuses a client without.
    #[tokio::test]
    async fn mutual_tls() {
        bounded(async {
            let ca = Ca::new("test CA");
            let identity = ca.server(&["localhost"]);
            let (port, task) = serve_once(server(&identity, Some(&ca))).await;
            let me = ca.client();
            let tls = client(ClientOptions {
                cert: Some(me.cert.into_bytes()),
                key: Some(me.key.into_bytes()),
                ..trusting(&ca)
            });
            assert_eq!(
                greet(port, &tls, "localhost").await.expect("handshake"),
                b"hi"
            );
            assert!(task.await.expect("task").expect("accepted").client_cert);

            let (port, task) = serve_once(server(&identity, Some(&ca))).await;
            let err = greet(port, &client(trusting(&ca)), "localhost")
                .await
                .expect_err("no client certificate");
            assert!(
                err.to_string().contains("requires a client certificate"),
                "{err}"
            );
            assert!(task.await.expect("task").is_err());
        })
        .await;
    }

    /// The ALPN protocol offered is the one the server selects.
    #[tokio::test]
    async fn alpn_is_negotiated() {
        bounded(async {
            let ca = Ca::new("test CA");
            let mut config = (*server(&ca.server(&["localhost"]), None)).clone();
            config.alpn_protocols = vec![b"x-other".to_vec(), b"mqtt".to_vec()];
            let (port, task) = serve_once(Arc::new(config)).await;
            let tls = client(ClientOptions {
                alpn: vec!["mqtt".into()],
                ..trusting(&ca)
            });
            let tcp = TcpStream::connect(("127.0.0.1", port)).await.expect("tcp");
            let stream = connect(tcp, &tls, "localhost").await.expect("handshake");
            assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"mqtt"[..]));
            let accepted = task.await.expect("task").expect("accepted");
            assert_eq!(accepted.alpn.as_deref(), Some(&b"mqtt"[..]));
        })
        .await;
    }

    /// A certificate with another certificate's key is refused when the config is built.
    #[test]
    fn certificate_and_key_must_match() {
        let ca = Ca::new("test CA");
        let (a, b) = (ca.client(), ca.client());
        let err = ClientTls::new(&ClientOptions {
            cert: Some(a.cert.into_bytes()),
            key: Some(b.key.clone().into_bytes()),
            ..ClientOptions::default()
        })
        .expect_err("mismatch");
        assert_eq!(err.to_string(), "certificate and key do not match");
        let err = server_config(
            ca.server(&["localhost"]).cert.as_bytes(),
            b.key.as_bytes(),
            None,
        )
        .expect_err("mismatch");
        assert_eq!(err.to_string(), "certificate and key do not match");
    }

    /// A certificate without its key, or a key without its certificate, is an error.
    #[test]
    fn certificate_and_key_come_together() {
        let id = Ca::new("test CA").client();
        let cert_only = ClientOptions {
            cert: Some(id.cert.into_bytes()),
            ..ClientOptions::default()
        };
        let err = ClientTls::new(&cert_only).expect_err("no key");
        assert_eq!(
            err.to_string(),
            "key: a client certificate needs its private key"
        );
        let key_only = ClientOptions {
            key: Some(id.key.into_bytes()),
            ..ClientOptions::default()
        };
        let err = ClientTls::new(&key_only).expect_err("no cert");
        assert_eq!(err.to_string(), "cert: a private key needs its certificate");
    }

    /// PEM data without the expected item names the setting.
    #[test]
    fn pem_errors_name_the_setting() {
        let id = Ca::new("test CA").client();
        let err = ClientTls::new(&ClientOptions {
            ca: Some(id.key.clone().into_bytes()),
            ..ClientOptions::default()
        })
        .expect_err("a key is no CA");
        assert_eq!(err.to_string(), "ca: no certificate found in PEM data");
        let err = private_key(id.cert.as_bytes(), None).expect_err("a certificate is no key");
        assert_eq!(err.to_string(), "key: no private key found in PEM data");
        let broken = "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n";
        let err = certificates("cert", broken.as_bytes()).expect_err("bad base64");
        assert!(
            err.to_string().starts_with("cert: invalid PEM data: "),
            "{err}"
        );
    }

    /// An unreadable file names the setting and the path.
    #[test]
    fn read_file_names_the_path() {
        let err = read_file("key", Path::new("/nonexistent/ferrite/key.pem")).expect_err("missing");
        let text = err.to_string();
        assert!(
            text.starts_with("key: file /nonexistent/ferrite/key.pem: No such file or directory"),
            "{text}"
        );
    }

    /// Encrypted keys: a passphrase is needed; the legacy OpenSSL format is explained.
    #[test]
    fn encrypted_key_errors() {
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = private_key(encrypted.as_bytes(), None).expect_err("no passphrase");
        assert_eq!(
            err.to_string(),
            "key: the private key is encrypted; set the passphrase"
        );
        let err = private_key(encrypted.as_bytes(), Some("")).expect_err("empty passphrase");
        assert!(matches!(err, TlsError::PassphraseRequired), "{err}");
        let err = private_key(encrypted.as_bytes(), Some("secret")).expect_err("not a key");
        assert!(
            err.to_string()
                .starts_with("key: cannot decrypt the private key"),
            "{err}"
        );
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let err = private_key(legacy.as_bytes(), Some("secret")).expect_err("legacy");
        assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");
    }

    /// A servername that is neither a DNS name nor an IP address is refused up front.
    #[test]
    fn bad_servername() {
        let err = ClientTls::new(&ClientOptions {
            server_name: Some("not a name".into()),
            ..ClientOptions::default()
        })
        .expect_err("bad name");
        assert_eq!(
            err.to_string(),
            "servername: \"not a name\" is neither a DNS name nor an IP address"
        );
    }
}
