//! End to end: the real app in a real WebKitGTK window under Xvfb, with WebKit's mock camera and
//! microphone, driven like a person through tauri-driver + WebKitWebDriver, broadcasting to a real
//! Icecast on 127.0.0.1 and checked by a real listener.

mod desktop;
mod journeys;
mod session_bus;
