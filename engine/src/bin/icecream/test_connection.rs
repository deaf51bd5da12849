//! `icecream test-connection`: each check in order, and how to trust a certificate once checked.

use icecream_engine::icecast::{self, StreamHeaders, Target};

use crate::args::{checked, ServerArgs};

pub(crate) async fn test_connection(server: ServerArgs) -> Result<(), String> {
    let s = checked(&server)?;
    let mut passed = true;
    for (_, d) in s.enabled() {
        let target = Target::new(&s, d);
        match s.destinations.len() {
            1 => println!("Testing {} …", target.listen_url()),
            _ => println!("Testing {} ({}) …", d.label(), target.listen_url()),
        }
        let checks = icecast::test_connection(&target, &StreamHeaders::new(&s.stream, d)).await;
        for c in &checks {
            let mark = match c.ok {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "–",
            };
            println!("{mark} {}", c.message);
            if let Some(offer) = &c.certificate {
                println!("  {}", trust_hint(offer));
            }
        }
        passed &= checks.iter().all(|c| c.ok == Some(true));
    }
    if passed {
        Ok(())
    } else {
        Err("the connection test did not pass.".into())
    }
}

/// How to go on past a certificate the person has checked.
pub(crate) fn trust_hint(offer: &icecream_engine::net::trust::CertificateOffer) -> String {
    format!(
        "If it is the right one, trust it: add --trust-certificate {} (kept in the settings file with --save).",
        offer.sha256
    )
}
