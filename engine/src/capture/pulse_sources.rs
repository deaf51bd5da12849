//! The sound server's inputs on Linux, asked through libpulse (PipeWire answers it too), which
//! the recording already uses. cpal's PulseAudio host lists through a pure-Rust client that reads
//! the auth cookie from `$HOME/.config/pulse/cookie` only: with `XDG_CONFIG_HOME` elsewhere, or no
//! cookie yet, the server refused it ("protocol error") and the app fell back to the webview; it
//! also zeroed 1 MiB at each answer, five times a second while a chosen input was watched.
//! libpulse finds the cookie where the server's own clients do and makes one when there is none.

use std::cell::RefCell;
use std::rc::Rc;

use libpulse_binding::callbacks::ListResult;
use libpulse_binding::context::{Context, FlagSet, State};
use libpulse_binding::mainloop::standard::{IterateResult, Mainloop};
use libpulse_binding::operation;

use super::input_device::InputDevice;
use super::CaptureError;

/// A connection to the sound server, kept by the thread that asks (libpulse's objects stay on
/// the thread that made them).
pub(super) struct Sources {
    // Declared first, so dropped first: libpulse aborts when a context outlives its mainloop.
    context: Context,
    mainloop: Mainloop,
}

impl Drop for Sources {
    fn drop(&mut self) {
        self.context.disconnect();
    }
}

impl Sources {
    /// Connects; `NoSoundServer` when none answers (no autospawn: a desktop runs its own).
    pub fn connect() -> Result<Sources, CaptureError> {
        let mut mainloop = Mainloop::new().ok_or(CaptureError::NoSoundServer)?;
        let mut context = Context::new(&mainloop, "Icecream").ok_or(CaptureError::NoSoundServer)?;
        context
            .connect(None, FlagSet::NOAUTOSPAWN, None)
            .map_err(|_| CaptureError::NoSoundServer)?;
        loop {
            if !matches!(mainloop.iterate(true), IterateResult::Success(_)) {
                return Err(CaptureError::NoSoundServer);
            }
            match context.get_state() {
                State::Ready => return Ok(Sources { context, mainloop }),
                State::Failed | State::Terminated => return Err(CaptureError::NoSoundServer),
                _ => {}
            }
        }
    }

    /// Runs the mainloop until `op` is done; false when the connection broke meanwhile.
    fn wait<T: ?Sized>(&mut self, op: &operation::Operation<T>) -> bool {
        while op.get_state() == operation::State::Running {
            if !matches!(self.mainloop.iterate(true), IterateResult::Success(_)) {
                return false;
            }
        }
        op.get_state() == operation::State::Done
    }

    /// Every source, the server's default first.
    pub fn list(&mut self) -> Result<Vec<InputDevice>, CaptureError> {
        let lost = || CaptureError::System {
            reason: "the sound server stopped answering".into(),
        };
        let default = Rc::new(RefCell::new(None::<String>));
        let op = self.context.introspect().get_server_info({
            let default = default.clone();
            move |info| {
                *default.borrow_mut() = info.default_source_name.as_ref().map(|n| n.to_string());
            }
        });
        if !self.wait(&op) {
            return Err(lost());
        }
        let found = Rc::new(RefCell::new(Vec::new()));
        let op = self.context.introspect().get_source_info_list({
            let found = found.clone();
            let default = default.borrow().clone();
            move |item| {
                let ListResult::Item(info) = item else {
                    return;
                };
                let Some(id) = info.name.as_ref().map(|n| n.to_string()) else {
                    return;
                };
                found.borrow_mut().push(InputDevice {
                    is_default: default.as_deref() == Some(id.as_str()),
                    name: (info.description.as_ref())
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| id.clone()),
                    channels: u16::from(info.sample_spec.channels).clamp(1, 2),
                    id,
                });
            }
        });
        if !self.wait(&op) {
            return Err(lost());
        }
        let mut list = found.take();
        list.sort_by_key(|d| !d.is_default);
        Ok(list)
    }
}
