//! Which server certificates are trusted, and why one was not, in words.
//!
//! Trust comes from the operating system's store (rustls-platform-verifier: the Keychain on macOS,
//! the Windows store, and on Linux the distribution's CA bundle, which honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`), so a company's or a home CA the computer trusts works like a public one. Beyond
//! that, a person may trust one server's own certificate by its SHA-256 fingerprint (a "pin", kept
//! per host and port): a self-signed certificate cannot be made trusted by adding it as a root
//! (webpki refuses a CA used as an end entity), so the pin is checked here, around the platform's
//! verdict. A pin only stands in for a missing or unknown issuer: it never excuses a CA-signed
//! certificate made out for another name.
//!
//! Errors are read from rustls' types, never from their text: the verifier wraps each refusal with
//! the presented certificate's fingerprint, and `classify` turns that into an `NetError`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, OtherError, SignatureScheme};

use super::error::NetError;
use super::trust::Fingerprint;

/// The verifier's refusal, carried through rustls to `classify`.
#[derive(Debug)]
struct Refused {
    presented: Fingerprint,
    /// Issued by itself: the server's own certificate, which no authority vouches for.
    own: bool,
    /// The DNS names it is made out for.
    names: Vec<String>,
    cause: TlsError,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate {} refused: {}", self.presented, self.cause)
    }
}

impl std::error::Error for Refused {}

/// The operating system's verifier, built once: reading the system store takes a while.
fn platform() -> Arc<dyn ServerCertVerifier> {
    static PLATFORM: OnceLock<Arc<dyn ServerCertVerifier>> = OnceLock::new();
    PLATFORM
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            match rustls_platform_verifier::Verifier::new(provider.clone()) {
                Ok(v) => Arc::new(v),
                // A system with no CA store at all (a bare container): Mozilla's list, rather
                // than trusting nothing.
                Err(e) => {
                    log::warn!(
                        "the system's certificate store could not be read ({e}); using Mozilla's list"
                    );
                    let roots = rustls::RootCertStore {
                        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                    };
                    rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .expect("Mozilla's roots make a verifier")
                }
            }
        })
        .clone()
}

#[derive(Debug)]
struct Verifier {
    platform: Arc<dyn ServerCertVerifier>,
    pin: Option<Fingerprint>,
}

/// The platform found no trusted issuer: the certificate is the server's own, or from an
/// authority this computer does not know. Only then may a pin vouch for it.
///
/// A certificate issued by itself counts whatever the platform's complaint: its issuer's name can
/// match an unrelated root in the store (Debian's `ssl-cert` puts its own "CN = localhost"
/// certificate in /etc/ssl/certs), and then the complaint is a bad signature instead.
fn issuer_unknown(e: &TlsError, own: bool) -> bool {
    if own && !name_wrong(e) {
        return true;
    }
    match e {
        // Signed by a key that is not the one of the trusted authority of that name: not by
        // an authority this computer trusts either.
        TlsError::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            true
        }
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(inner))) => matches!(
            inner.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

fn name_wrong(e: &TlsError) -> bool {
    matches!(
        e,
        TlsError::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

/// A self-signed certificate is checked for its dates before its issuer, so an expired pinned one
/// arrives here as expired: the pin, an explicit trust of exactly this certificate, covers that too.
fn dates_wrong(e: &TlsError) -> bool {
    matches!(
        e,
        TlsError::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        )
    )
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let presented = Fingerprint::of(end_entity);
        let cause =
            match self
                .platform
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            {
                Ok(v) => return Ok(v),
                Err(cause) => cause,
            };
        let parsed = webpki::EndEntityCert::try_from(end_entity).ok();
        let own = parsed.as_ref().is_some_and(|c| c.issuer() == c.subject());
        if self.pin == Some(presented) && (issuer_unknown(&cause, own) || dates_wrong(&cause)) {
            return Ok(ServerCertVerified::assertion());
        }
        let names = parsed
            .map(|c| c.valid_dns_names().map(str::to_string).collect())
            .unwrap_or_default();
        Err(TlsError::InvalidCertificate(CertificateError::Other(OtherError(
            Arc::new(Refused {
                presented,
                own,
                names,
                cause,
            }),
        ))))
    }

    // The handshake's signatures are checked with the certificate's own key, whoever vouched for it.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.platform.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.platform.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.platform.supported_verify_schemes()
    }
}

/// The client configuration for one server: the system's trust, plus its pin if it has one.
pub fn client_config(pin: Option<Fingerprint>) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier {
            platform: platform(),
            pin,
        }))
        .with_no_client_auth();
    Arc::new(config)
}

/// Where the handshake failed, as the person must read it. `pin` is the fingerprint that was
/// trusted for this server, if any.
pub fn classify(host: &str, port: u16, pin: Option<Fingerprint>, e: &std::io::Error) -> NetError {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>()) else {
        // The server closed or reset the connection instead of answering the handshake.
        return NetError::NotTls {
            server: authority(host, port),
        };
    };
    let other = |reason: &str| NetError::Tls {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    match tls {
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            match inner.downcast_ref::<Refused>() {
                Some(refused) => certificate(host, port, pin, refused),
                None => other("its certificate could not be checked"),
            }
        }
        TlsError::InvalidCertificate(_) => other("its certificate could not be checked"),
        TlsError::InvalidMessage(_)
        | TlsError::InappropriateMessage { .. }
        | TlsError::InappropriateHandshakeMessage { .. } => NetError::NotTls {
            server: authority(host, port),
        },
        TlsError::AlertReceived(_) => other("the server ended the secure handshake"),
        TlsError::PeerIncompatible(_) => other("the server offers no secure protocol Icecream can use"),
        _ => other("the secure handshake failed"),
    }
}

/// The refusal in words, logged as such (the log is sent by people too: no rustls debug forms).
fn certificate(host: &str, port: u16, pin: Option<Fingerprint>, refused: &Refused) -> NetError {
    let e = certificate_error(host, port, pin, refused);
    log::info!("certificate {} of {host}:{port} refused: {e}", refused.presented);
    e
}

fn certificate_error(host: &str, port: u16, pin: Option<Fingerprint>, refused: &Refused) -> NetError {
    let host_s = host.to_string();
    match &refused.cause {
        e if issuer_unknown(e, refused.own)
            || (pin.is_some() && dates_wrong(e) && pin != Some(refused.presented)) =>
        {
            match pin {
                Some(trusted) => NetError::CertificateChanged {
                    host: host_s,
                    trusted,
                    presented: refused.presented,
                },
                None => NetError::UntrustedCertificate {
                    host: host_s,
                    port,
                    sha256: refused.presented,
                },
            }
        }
        e if name_wrong(e) => NetError::CertificateWrongHost {
            host: host_s,
            names: refused.names.join(", "),
        },
        TlsError::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            NetError::CertificateExpired { host: host_s }
        }
        TlsError::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => NetError::CertificateNotYetValid { host: host_s },
        TlsError::InvalidCertificate(CertificateError::Revoked) => NetError::Tls {
            host: host_s,
            reason: "its certificate has been revoked by the authority that signed it".into(),
        },
        TlsError::InvalidCertificate(
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. },
        ) => NetError::Tls {
            host: host_s,
            reason: "its certificate is not made out for a server".into(),
        },
        _ => NetError::Tls {
            host: host_s,
            reason: "its certificate is not valid".into(),
        },
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
