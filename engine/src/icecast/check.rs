//! "Test connection": each thing checked in order, the server reached, the login, the mount free.

use super::error::IcecastError;
use super::source::connect_source;
use super::target::{StreamHeaders, Target};
use crate::net::trust::CertificateOffer;
use crate::net::NetError;

/// Each thing "Test connection" checks, in order; later ones are only known once earlier ones pass.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub what: &'static str,
    pub ok: Option<bool>,
    pub message: String,
    /// The server's own certificate, which the person may choose to trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateOffer>,
}

/// Logs in without sending media and leaves at once: a PUT answered `100 Continue` followed by a
/// close before any byte of body, which Icecast undoes within a moment. Nothing is left behind.
pub async fn test_connection(target: &Target, headers: &StreamHeaders) -> Vec<Check> {
    let result = connect_source(target, headers).await;
    let server = target.endpoint.authority();
    let reached = match &result {
        Ok(_) => Some(true),
        Err(e) => match e {
            IcecastError::Net(
                NetError::HostNotFound { .. }
                | NetError::Refused { .. }
                | NetError::TimedOut { .. }
                | NetError::Network { .. },
            )
            | IcecastError::NotIcecast { .. } => Some(false),
            e if e.is_secure_connection() => Some(false),
            _ => Some(true),
        },
    };
    let creds = match &result {
        Ok(_) => Some(true),
        Err(IcecastError::WrongPassword) => Some(false),
        Err(_) if reached == Some(true) => Some(true),
        Err(_) => None,
    };
    let mount_ok = match &result {
        Ok(_) => Some(true),
        Err(_) if creds == Some(true) => Some(false),
        Err(_) => None,
    };
    let failure = result.as_ref().err().map(|e| e.to_string());
    let mut checks = vec![Check {
        what: "server",
        ok: reached,
        certificate: result.as_ref().err().and_then(|e| e.certificate_offer()),
        message: match reached {
            Some(true) => format!("The server at {server} answers as Icecast."),
            _ => failure.clone().unwrap_or_default(),
        },
    }];
    checks.push(Check {
        what: "credentials",
        ok: creds,
        certificate: None,
        message: match creds {
            Some(true) => "The username and password are right.".into(),
            Some(false) => failure.clone().unwrap_or_default(),
            None => "Not checked: the server could not be reached.".into(),
        },
    });
    checks.push(Check {
        what: "mount",
        ok: mount_ok,
        certificate: None,
        message: match mount_ok {
            Some(true) => format!(
                "The mount {} is free and accepts {}.",
                target.mount, headers.content_type
            ),
            Some(false) => failure.unwrap_or_default(),
            None => "Not checked: the login did not succeed.".into(),
        },
    });
    if let Ok(conn) = result {
        drop(conn);
    }
    checks
}
