//! Everything that can go wrong talking to an Icecast server, in words a broadcaster can act on.

use crate::net::trust::CertificateOffer;
use crate::net::NetError;

/// Everything that can go wrong talking to the server, each in words a broadcaster can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcecastError {
    /// The server could not be reached, or not securely: said by the network layer.
    #[error(transparent)]
    Net(NetError),
    #[error(
        "The server refused the username or password. Check the source username (usually \"source\") \
         and the password in Settings."
    )]
    WrongPassword,
    #[error("Someone is already streaming to the mount {mount}. Stop that stream or choose another mount.")]
    MountInUse { mount: String },
    #[error(
        "The server does not accept {content_type} streams on this mount. Choose another format, or \
         ask the server's owner to allow it."
    )]
    ContentTypeRefused { content_type: String },
    #[error("The server already has as many streams as it allows. Try again later, or ask its owner to raise the limit.")]
    TooManySources,
    #[error("The server refused the stream: {reason}.")]
    Refusal { reason: String },
    #[error(
        "The server at {server} is not an Icecast server that accepts streams (it answered: {answer}). \
         Check the host and port; Icecast 2.4 or newer is needed."
    )]
    NotIcecast { server: String, answer: String },
    #[error("The connection to the server was lost: {reason}.")]
    ConnectionLost { reason: String },
    #[error("Nothing is streaming to {mount} right now, so its title cannot be changed. Go live first.")]
    NotLive { mount: String },
    #[error(
        "Now playing can't be shown on {format} mounts: the format has no place for titles. Use an MP3 \
         mount to show titles."
    )]
    NowPlayingUnsupported { format: &'static str },
    #[error(
        "The server took the title but does not show it on this {format} mount (Icecast 2.4 shows \
         titles set during a broadcast only on MP3 and Ogg Vorbis mounts). Use one of those to show titles."
    )]
    NowPlayingNotShown { format: &'static str },
}

impl From<NetError> for IcecastError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::NoHttpAnswer { server } => IcecastError::NotIcecast {
                server,
                answer: "no HTTP answer".into(),
            },
            e => IcecastError::Net(e),
        }
    }
}

impl IcecastError {
    /// Retrying cannot fix these without the person changing something.
    pub fn is_permanent(&self) -> bool {
        match self {
            IcecastError::Net(e) => e.is_permanent(),
            e => matches!(
                e,
                IcecastError::WrongPassword
                    | IcecastError::MountInUse { .. }
                    | IcecastError::ContentTypeRefused { .. }
                    | IcecastError::NotIcecast { .. }
                    | IcecastError::NowPlayingUnsupported { .. }
            ),
        }
    }

    /// The secure connection could not be made (the server was reached, not trusted or not TLS).
    pub fn is_secure_connection(&self) -> bool {
        matches!(self, IcecastError::Net(e) if e.is_secure_connection())
    }

    /// The server's own certificate, when trusting it would let the connection through.
    pub fn certificate_offer(&self) -> Option<CertificateOffer> {
        match self {
            IcecastError::Net(e) => e.certificate_offer(),
            _ => None,
        }
    }
}
