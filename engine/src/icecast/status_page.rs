//! The server's public status document (status-json.xsl): listeners and names per mount.

use std::time::Duration;

use super::error::IcecastError;
use crate::net::{self, Endpoint};

/// What the public status document says about one mount.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct MountStatus {
    pub listeners: u32,
    pub name: Option<String>,
    pub description: Option<String>,
    pub genre: Option<String>,
    pub title: Option<String>,
    pub content_type: Option<String>,
    /// The codec Icecast found in an Ogg stream, once it has read all of its header pages.
    pub subtype: Option<String>,
}

/// Reads `/status-json.xsl`. Icecast 2.4.4 has been seen to answer invalid JSON right after a source
/// logs in, so a bad answer is retried a few times before giving up.
pub async fn fetch_status(ep: &Endpoint) -> Result<serde_json::Value, IcecastError> {
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let (head, body) = net::get(ep, "/status-json.xsl", None).await?;
        if head.status != 200 {
            return Err(IcecastError::NotIcecast {
                server: ep.authority(),
                answer: format!("{} {}", head.status, head.reason),
            });
        }
        match serde_json::from_slice(&body) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(IcecastError::NotIcecast {
        server: ep.authority(),
        answer: format!(
            "a status page that is not valid JSON ({})",
            last.unwrap_or_default()
        ),
    })
}

/// Finds `mount` in a status document; `source` is an object for one mount and an array for more.
pub fn mount_status(status: &serde_json::Value, mount: &str) -> Option<MountStatus> {
    let source = status.get("icestats")?.get("source")?;
    let sources: Vec<&serde_json::Value> = match source {
        serde_json::Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let s = sources.into_iter().find(|s| {
        s.get("listenurl")
            .and_then(|u| u.as_str())
            .is_some_and(|u| u.ends_with(mount) && u[..u.len() - mount.len()].matches('/').count() == 2)
    })?;
    let text = |k: &str| {
        s.get(k).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    Some(MountStatus {
        listeners: s.get("listeners").and_then(|v| v.as_u64()).unwrap_or(0) as u32,
        name: text("server_name"),
        description: text("server_description"),
        genre: text("genre"),
        title: text("title"),
        content_type: text("server_type"),
        subtype: text("subtype"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mount_in_one_or_many_sources() {
        let one =
            serde_json::json!({"icestats": {"source": {"listenurl": "http://h:1/live", "listeners": 2}}});
        assert_eq!(mount_status(&one, "/live").unwrap().listeners, 2);
        let many = serde_json::json!({"icestats": {"source": [
            {"listenurl": "http://h:1/other/live", "listeners": 1},
            {"listenurl": "http://h:1/live", "listeners": 3, "server_name": "X"}]}});
        let m = mount_status(&many, "/live").unwrap();
        assert_eq!((m.listeners, m.name.as_deref()), (3, Some("X")));
        assert!(mount_status(&one, "/nope").is_none());
    }
}
