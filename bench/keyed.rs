//! A recorder's WebM recording re-encoded with the app's WebCodecs keyframe rhythm (a keyframe
//! every 0.6 s; Chromium's recorder puts one every 5 s), as a live WebM. Shared by the join
//! benchmark and the integration tests.

pub fn with_app_keyframes(webm: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.webm"), dir.path().join("keyed.webm"));
    std::fs::write(&input, webm).unwrap();
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y", "-i"])
        .arg(&input)
        .args(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"])
        .args(["-b:v", "1M", "-force_key_frames", "expr:gte(t,n_forced*0.6)"])
        .args([
            "-c:a",
            "copy",
            "-f",
            "webm",
            "-live",
            "1",
            "-cluster_time_limit",
            "1000",
        ])
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg re-encoded the recording");
    std::fs::read(&output).unwrap()
}
