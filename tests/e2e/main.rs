//! End to end: the real app in a real WebKitGTK window under Xvfb, with WebKit's mock camera and
//! microphone, driven like a person through tauri-driver + WebKitWebDriver, broadcasting to a real
//! Icecast on 127.0.0.1 and checked by a real listener.

// Linux only: the app's webview here is WebKitGTK, driven through WebKitWebDriver under Xvfb.
#![cfg(target_os = "linux")]

mod desktop;
mod journeys;
mod packets;
mod picture_and_sound;
mod radio;
mod session_bus;
mod sound;
