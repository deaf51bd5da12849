//! TLS against a real Icecast (Debian's icecast2 with a `<listen-socket>` that has `<ssl>1</ssl>`),
//! with certificates made here: the server's own (self-signed), pinned and changed; a test CA that
//! the "system store" trusts (`SSL_CERT_FILE` for the CLI, which the platform verifier honours on
//! Linux); a certificate for another name; an expired one. Every sentence is checked whole.

use std::path::{Path, PathBuf};
use std::process::Output;

use icecream_engine::icecast::{self, StreamHeaders, Target};
use icecream_engine::net::trust::{CertificateOffer, Fingerprint};
use icecream_engine::{MountFormat, Session, Settings, State};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::support::*;

/// A certificate and its key in one PEM file, as Icecast wants them, and its fingerprint.
struct ServerCertificate {
    pem: String,
    sha256: Fingerprint,
}

fn params(names: &[&str]) -> CertificateParams {
    let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p
}

fn self_signed(names: &[&str]) -> ServerCertificate {
    let key = KeyPair::generate().unwrap();
    let cert = params(names).self_signed(&key).unwrap();
    ServerCertificate {
        pem: cert.pem() + &key.serialize_pem(),
        sha256: Fingerprint::of(cert.der()),
    }
}

/// A private certificate authority, as a company or a home network has.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        TestCa {
            issuer: CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn sign(&self, names: &[&str], expired: bool) -> ServerCertificate {
        let mut p = params(names);
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        ServerCertificate {
            pem: cert.pem() + &key.serialize_pem(),
            sha256: Fingerprint::of(cert.der()),
        }
    }

    /// The CA as a bundle file, for `SSL_CERT_FILE`.
    fn bundle(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca-bundle.pem");
        std::fs::write(&path, self.issuer.pem()).unwrap();
        path
    }
}

/// A real Icecast serving TLS with `cert`, and the folder its certificate file is in.
struct TlsIcecast {
    ice: Icecast,
    pem: PathBuf,
    dir: tempfile::TempDir,
}

impl TlsIcecast {
    async fn start(cert: &ServerCertificate) -> TlsIcecast {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("server.pem");
        std::fs::write(&pem, &cert.pem).unwrap();
        let ice = Icecast::start_with(IcecastOptions {
            tls_certificate: Some(pem.clone()),
            ..Default::default()
        })
        .await;
        TlsIcecast { ice, pem, dir }
    }

    fn port(&self) -> u16 {
        self.ice.server.tls_port.expect("the server has a TLS port")
    }

    /// Settings for the TLS port by the name "localhost", the right password.
    fn settings(&self, mount: &str, format: MountFormat) -> Settings {
        let mut s = self.ice.settings(mount, format);
        s.first_mut().server.host = "localhost".into();
        s.first_mut().server.port = self.port() as u32;
        s.first_mut().server.tls = true;
        s
    }

    /// Serves another certificate from now on (the server is restarted on the same ports).
    async fn replace_certificate(&mut self, cert: &ServerCertificate) {
        std::fs::write(&self.pem, &cert.pem).unwrap();
        self.ice.server.restart().await.unwrap();
    }

    fn cli_args(&self, mount: &str) -> Vec<String> {
        [
            "--host",
            "localhost",
            "--port",
            &self.port().to_string(),
            "--tls",
            "--mount",
            mount,
        ]
        .map(String::from)
        .to_vec()
    }
}

async fn first_check(s: &Settings) -> (Option<bool>, String, Option<CertificateOffer>) {
    let checks = icecast::test_connection(&Target::from_settings(s), &StreamHeaders::from_settings(s)).await;
    let c = checks[0].clone();
    assert_plain(&c.message);
    (c.ok, c.message, c.certificate)
}

fn untrusted(port: u16, sha256: Fingerprint) -> String {
    let _ = port;
    format!(
        "The certificate of localhost is not signed by an authority this computer trusts: the server \
         made it itself, or it comes from a private authority. If this is your server, compare its \
         SHA-256 fingerprint with the one the server's owner gives you, then trust it: {sha256}"
    )
}

#[tokio::test]
async fn own_certificate_is_offered_then_trusted_then_refused_when_it_changes() {
    let first = self_signed(&["localhost"]);
    let mut server = TlsIcecast::start(&first).await;
    let port = server.port();
    let mut s = server.settings("/pinned", MountFormat::WebmAudio);

    // Unknown authority: its sentence, with the fingerprint, and the offer to trust it.
    let (ok, message, offer) = first_check(&s).await;
    assert_eq!(ok, Some(false));
    assert_eq!(message, untrusted(port, first.sha256));
    assert_eq!(
        offer,
        Some(CertificateOffer {
            host: "localhost".into(),
            port,
            sha256: first.sha256
        })
    );

    // Go live without trusting it: refused the same way, and the status carries the offer.
    let session = Session::start(s.clone(), options()).unwrap();
    let mut rx = session.status();
    let _ = session
        .push(corpus_chunks("webm-opus-audio-250ms")[0].clone())
        .await;
    let state = rx.wait_for(|st| st.state.is_final()).await.unwrap().clone();
    assert_eq!(
        state.state,
        State::Failed {
            reason: untrusted(port, first.sha256)
        }
    );
    assert_eq!(state.certificate.map(|c| c.sha256), Some(first.sha256));
    let _ = session.wait().await;

    // Trusted: live, and a listener over the same TLS port decodes the stream; Stop ends it (a
    // TLS source that ends with a close_notify stays on an Icecast 2.4.4 mount for good).
    s.trust_certificate("localhost", port, first.sha256);
    let (ok, message, _) = first_check(&s).await;
    assert_eq!(ok, Some(true), "{message}");
    let session = Session::start(s.clone(), options()).unwrap();
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let pushed = push_until_live(&session, &chunks).await;
    let listener = Listener::connect(&Target::from_settings(&s).endpoint, "/pinned").await;
    push_all(&session, &chunks[pushed..]).await;
    session.stop().await.expect("the broadcast ends cleanly");
    let heard = listener.finish().await;
    let file = save(server.dir.path(), "heard.webm", &heard);
    assert_eq!(codecs(&file), ["opus"]);
    assert_eq!(decode_errors(&file), "");

    // Another certificate under the old pin: refused, both fingerprints in the sentence.
    let second = self_signed(&["localhost"]);
    server.replace_certificate(&second).await;
    let (ok, message, offer) = first_check(&s).await;
    assert_eq!(ok, Some(false));
    assert_eq!(
        message,
        format!(
            "The certificate of localhost is not the one you trusted. Trusted: {}. Presented now: {}. \
             If the server's owner replaced it, trust the new one; if not, someone may be intercepting \
             the connection, so do not go on.",
            first.sha256, second.sha256
        )
    );
    assert_eq!(offer, None, "a changed certificate is not offered with one click");
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `icecream test-connection` against `server`, trusting only `ca` as the system's store.
fn cli_test(server: &TlsIcecast, ca_bundle: &Path, extra: &[&str]) -> Output {
    let out = cli()
        .arg("test-connection")
        .args(server.cli_args("/ca"))
        .args(extra)
        .env("ICECREAM_PASSWORD", &server.ice.source_password)
        .env("SSL_CERT_FILE", ca_bundle)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert_plain(&text(&out));
    out
}

#[tokio::test]
async fn a_ca_the_system_trusts_goes_live_without_a_pin() {
    let ca = TestCa::new("Icecream test CA");
    let server = TlsIcecast::start(&ca.sign(&["localhost"], false)).await;
    let bundle = ca.bundle(server.dir.path());
    let out = cli_test(&server, &bundle, &[]);
    assert!(out.status.success(), "test-connection: {}", text(&out));
    assert!(
        text(&out).contains("✓ The username and password are right."),
        "{}",
        text(&out)
    );

    // And a whole broadcast through it, heard over TLS by a listener that trusts the same CA.
    let input = corpus("webm-opus-audio-250ms");
    let out = cli()
        .arg("stream")
        .args(server.cli_args("/ca"))
        .args(["--format", "webm-audio", "--fast", "--input"])
        .arg(&input)
        .env("ICECREAM_PASSWORD", &server.ice.source_password)
        .env("SSL_CERT_FILE", &bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "stream: {}", text(&out));
    assert!(text(&out).contains("Stopped."), "{}", text(&out));

    // Without the CA in the store, the same server is an unknown authority.
    let empty = server.dir.path().join("empty.pem");
    std::fs::write(&empty, TestCa::new("Another test CA").issuer.pem()).unwrap();
    let out = cli_test(&server, &empty, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not signed by an authority this computer trusts"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("add --trust-certificate"),
        "the CLI says how to trust it: {}",
        text(&out)
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_even_when_pinned() {
    let ca = TestCa::new("Icecream test CA");
    let cert = ca.sign(&["other.example"], false);
    let server = TlsIcecast::start(&cert).await;
    let bundle = ca.bundle(server.dir.path());
    let wrong_host = "✗ The certificate of localhost is made out for other.example, not for localhost. \
                      Enter the server's name as its certificate gives it in Settings, or ask the server's \
                      owner for a certificate that names localhost.";
    let out = cli_test(&server, &bundle, &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains(wrong_host), "{}", text(&out));
    assert_plain(&text(&out));
    // A pin never stands in for the name check of a CA-signed certificate.
    let out = cli_test(
        &server,
        &bundle,
        &["--trust-certificate", &cert.sha256.to_string()],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains(wrong_host), "{}", text(&out));
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let ca = TestCa::new("Icecream test CA");
    let server = TlsIcecast::start(&ca.sign(&["localhost"], true)).await;
    let bundle = ca.bundle(server.dir.path());
    let out = cli_test(&server, &bundle, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains(
            "✗ The certificate of localhost has expired. Ask the server's owner to renew it; if it was \
             renewed, check that this computer's date and time are right."
        ),
        "{}",
        text(&out)
    );
    assert_plain(&text(&out));
}

#[tokio::test]
async fn the_cli_trusts_a_pinned_certificate_and_keeps_it_in_the_settings_file() {
    let cert = self_signed(&["localhost"]);
    let server = TlsIcecast::start(&cert).await;
    let colons = cert.sha256.to_string();
    let bare = colons.replace(':', "").to_lowercase();
    let out = cli()
        .arg("test-connection")
        .args(server.cli_args("/pin"))
        .args(["--trust-certificate", &bare])
        .env("ICECREAM_PASSWORD", &server.ice.source_password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let file = server.dir.path().join("settings.json");
    let out = cli()
        .arg("settings")
        .args(server.cli_args("/pin"))
        .args(["--trust-certificate", &colons, "--save"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let saved = Settings::load(&file).unwrap();
    assert_eq!(saved.pin_for("localhost", server.port()), Some(cert.sha256));
    let out = cli()
        .arg("test-connection")
        .args(["--settings"])
        .arg(&file)
        .env("ICECREAM_PASSWORD", &server.ice.source_password)
        .output()
        .unwrap();
    assert!(out.status.success(), "the saved pin is used: {}", text(&out));

    let out = cli()
        .arg("test-connection")
        .args(server.cli_args("/pin"))
        .args(["--trust-certificate", "AB:CD"])
        .env("ICECREAM_PASSWORD", &server.ice.source_password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("\"AB:CD\" is not a SHA-256 fingerprint."),
        "{}",
        text(&out)
    );
}
