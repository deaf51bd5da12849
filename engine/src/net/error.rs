//! What can go wrong reaching a server, below any protocol: the name, the connection, the secure
//! connection and its certificate. The Icecast protocol's own error wraps it, so each reads the same.

use super::trust::{CertificateOffer, Fingerprint};

/// Reaching the server failed, in words a broadcaster can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("The server name \"{host}\" could not be found. Check the spelling of the host in Settings.")]
    HostNotFound { host: String },
    #[error(
        "Nothing is accepting connections at {server}. Check the host and port, and that Icecast is running."
    )]
    Refused { server: String },
    #[error("The server at {server} did not answer in time. Check the host and port, and your network.")]
    TimedOut { server: String },
    #[error("The connection to {server} failed: {reason}.")]
    Network { server: String, reason: String },
    #[error("A secure (TLS) connection to {host} could not be made: {reason}.")]
    Tls { host: String, reason: String },
    #[error(
        "The server at {server} does not answer with a secure (TLS) connection on this port. Check the \
         port: Icecast serves TLS on a port of its own, which the server's owner can tell you."
    )]
    NotTls { server: String },
    #[error(
        "The certificate of {host} is not signed by an authority this computer trusts: the server made \
         it itself, or it comes from a private authority. If this is your server, compare its SHA-256 \
         fingerprint with the one the server's owner gives you, then trust it: {sha256}"
    )]
    UntrustedCertificate {
        host: String,
        port: u16,
        sha256: Fingerprint,
    },
    #[error(
        "The certificate of {host} is not the one you trusted. Trusted: {trusted}. Presented now: \
         {presented}. If the server's owner replaced it, trust the new one; if not, someone may be \
         intercepting the connection, so do not go on."
    )]
    CertificateChanged {
        host: String,
        trusted: Fingerprint,
        presented: Fingerprint,
    },
    #[error(
        "The certificate of {host} is made out for {}, not for {host}. Enter the server's name as \
         its certificate gives it in Settings, or ask the server's owner for a certificate that names {host}.",
        if names.is_empty() { "another name" } else { names.as_str() }
    )]
    CertificateWrongHost { host: String, names: String },
    #[error(
        "The certificate of {host} has expired. Ask the server's owner to renew it; if it was renewed, \
         check that this computer's date and time are right."
    )]
    CertificateExpired { host: String },
    #[error(
        "The certificate of {host} is not valid yet. Check that this computer's date and time are right."
    )]
    CertificateNotYetValid { host: String },
    /// Turned into the protocol's "not an Icecast server" by the caller, who knows what was asked.
    #[error("The server at {server} gave no HTTP answer. Check the host and port.")]
    NoHttpAnswer { server: String },
}

impl NetError {
    /// The name does not resolve, or the secure connection cannot be made: retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, NetError::HostNotFound { .. }) || self.is_secure_connection()
    }

    /// The secure connection could not be made (the server was reached, not trusted or not TLS).
    pub fn is_secure_connection(&self) -> bool {
        matches!(
            self,
            NetError::Tls { .. }
                | NetError::NotTls { .. }
                | NetError::UntrustedCertificate { .. }
                | NetError::CertificateChanged { .. }
                | NetError::CertificateWrongHost { .. }
                | NetError::CertificateExpired { .. }
                | NetError::CertificateNotYetValid { .. }
        )
    }

    /// The server's own certificate, when trusting it would let the connection through.
    pub fn certificate_offer(&self) -> Option<CertificateOffer> {
        match self {
            NetError::UntrustedCertificate { host, port, sha256 } => Some(CertificateOffer {
                host: host.clone(),
                port: *port,
                sha256: *sha256,
            }),
            _ => None,
        }
    }
}
