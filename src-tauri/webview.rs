//! Camera and microphone in the system webview. On Linux, WebKitGTK needs its media-stream setting
//! on and answers nothing by itself to a permission request (unanswered means denied), so the app
//! answers: yes for camera/microphone asked by its own page, no for everything else.

use tauri::WebviewWindow;

/// Set in tests: WebKitGTK's fake camera and microphone, for machines without hardware (Linux only:
/// WebView2 and WKWebView have no such setting).
#[cfg(target_os = "linux")]
pub const MOCK_CAPTURE_ENV: &str = "ICECREAM_MOCK_CAPTURE";

#[cfg(target_os = "linux")]
pub fn allow_media_capture(window: &WebviewWindow) -> tauri::Result<()> {
    window.with_webview(|wv| {
        use webkit2gtk::glib::prelude::*;
        use webkit2gtk::{PermissionRequestExt, SettingsExt, WebViewExt};
        let view = wv.inner();
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_enable_media_stream(true);
            settings.set_enable_mediasource(true);
            settings.set_media_playback_requires_user_gesture(false);
            if std::env::var_os(MOCK_CAPTURE_ENV).is_some() {
                settings.set_enable_mock_capture_devices(true);
                // A test's log then holds what the page said.
                settings.set_enable_write_console_messages_to_stdout(true);
            }
        }
        view.connect_permission_request(|view, request| {
            let own_page = view.uri().is_some_and(|u| is_own_page(&u));
            if own_page && request.is::<webkit2gtk::UserMediaPermissionRequest>() {
                request.allow();
            } else {
                log::warn!("refused a permission request from {:?}", view.uri());
                request.deny();
            }
            true
        });
    })
}

#[cfg(not(target_os = "linux"))]
pub fn allow_media_capture(_window: &WebviewWindow) -> tauri::Result<()> {
    // WebView2 and WKWebView ask the person themselves (macOS via the Info.plist usage texts).
    Ok(())
}

/// The app's bundled page, served by Tauri's custom protocol; never a remote page.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn is_own_page(uri: &str) -> bool {
    uri.starts_with("tauri://localhost/") || uri == "tauri://localhost"
}
