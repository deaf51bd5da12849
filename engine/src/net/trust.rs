//! What a person trusts: a server's own certificate, by its SHA-256 fingerprint, per host and port.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A certificate's SHA-256 fingerprint, shown as 32 colon-separated hex pairs (as browsers and
/// `openssl x509 -fingerprint -sha256` show it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(certificate: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate);
        Fingerprint(digest.as_ref().try_into().expect("SHA-256 is 32 bytes"))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&hex.join(":"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a typed fingerprint was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "\"{0}\" is not a SHA-256 fingerprint. Give the 64 hex digits (0-9, A-F) the error or the server's \
     owner shows; colons and spaces between them are fine."
)]
pub struct BadFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    fn from_str(s: &str) -> Result<Fingerprint, BadFingerprint> {
        let bad = || BadFingerprint(s.trim().to_string());
        let digits: Vec<u8> = s
            .trim()
            .trim_start_matches("SHA256:")
            .trim_start_matches("sha256:")
            .bytes()
            .filter(|b| !matches!(b, b':' | b' ' | b'-'))
            .collect();
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| bad())?;
            out[i] = u8::from_str_radix(text, 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(out))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fingerprint, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A server's own certificate that the person chose to trust.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedCertificate {
    pub host: String,
    pub port: u16,
    pub sha256: Fingerprint,
}

/// A certificate the person could choose to trust: what the app offers with the error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateOffer {
    pub host: String,
    pub port: u16,
    pub sha256: Fingerprint,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_with_or_without_colons() {
        let fp = Fingerprint::of(b"certificate");
        let shown = fp.to_string();
        assert_eq!(shown.len(), 32 * 3 - 1);
        assert_eq!(shown.parse::<Fingerprint>(), Ok(fp));
        assert_eq!(
            shown.replace(':', "").to_lowercase().parse::<Fingerprint>(),
            Ok(fp)
        );
        assert_eq!(format!("SHA256:{shown}").parse::<Fingerprint>(), Ok(fp));
        let short = "AB:CD".parse::<Fingerprint>().unwrap_err().to_string();
        assert!(
            short.starts_with("\"AB:CD\" is not a SHA-256 fingerprint."),
            "{short}"
        );
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn a_pin_is_kept_as_its_text() {
        let t = TrustedCertificate {
            host: "localhost".into(),
            port: 8443,
            sha256: Fingerprint([0xAB; 32]),
        };
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"sha256\":\"AB:AB:"), "{json}");
        assert_eq!(serde_json::from_str::<TrustedCertificate>(&json).unwrap(), t);
    }
}
