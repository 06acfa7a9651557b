//! The model mirror: the model as JSON in the state directory, readable while the
//! daemon holds the database, for the commands that find no daemon to ask (after it
//! stopped or died: `vpclab down`, `vpclab gc`, `vpclab status`).
//!
//! Writing it is the whole model serialized, tens of milliseconds with thousands of
//! instances, so it is written off the API's path: a thread of its own writes the
//! newest model it was given, at most once every [`Mirror::INTERVAL`], and everything
//! given to it before [`Mirror::flush`] or its drop returns. A running daemon answers
//! with its own model (the control socket's `model`), so the mirror can lag it by that
//! interval; the database, not the mirror, is what a restart reads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vpclab_model::Model;

/// A mirror being kept up to date by its writer thread.
#[derive(Debug)]
pub(crate) struct Mirror {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Slot>,
    /// Wakes the writer (a model, a flush, the end) and those waiting for a write.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Slot {
    /// The newest model not written yet.
    latest: Option<Model>,
    /// How many models were given, and how many of those are written (or replaced by
    /// a newer one that is).
    given: u64,
    written: u64,
    /// A flush waits: write now, whatever the interval.
    urgent: bool,
    /// The mirror is dropped: write what is left, then end.
    done: bool,
}

impl Mirror {
    /// The least time between two writes.
    pub(crate) const INTERVAL: Duration = Duration::from_millis(500);
    /// How long [`Mirror::flush`] waits for the writer at most.
    const FLUSH_WAIT: Duration = Duration::from_secs(60);

    /// Writes `model` to `path` now, then keeps it up to date from a thread.
    pub(crate) fn start(path: PathBuf, model: &Model) -> std::io::Result<Self> {
        write(&path, model)?;
        let shared = Arc::new(Shared::default());
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("vpclab-mirror".into())
                .spawn(move || run(&path, &shared))?
        };
        Ok(Self { shared, writer: Some(writer) })
    }

    /// Has `model` written soon (a copy of the model costs pointers, see the model's
    /// `Shared`).
    pub(crate) fn update(&self, model: &Model) {
        let mut slot = self.slot();
        slot.latest = Some(model.clone());
        slot.given += 1;
        self.shared.changed.notify_all();
    }

    /// Returns once every model given so far is written (or a minute passed: a writer
    /// stuck on a full disk does not hold the caller for ever).
    pub(crate) fn flush(&self) {
        let deadline = Instant::now() + Self::FLUSH_WAIT;
        let mut slot = self.slot();
        let target = slot.given;
        slot.urgent = true;
        self.shared.changed.notify_all();
        while slot.written < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            slot =
                self.shared.changed.wait_timeout(slot, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.shared.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.slot().done = true;
        self.shared.changed.notify_all();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer: waits for a model, writes it, then lets [`Mirror::INTERVAL`] pass
/// (unless a flush or the end is waiting) before the next.
fn run(path: &Path, shared: &Shared) {
    let lock = || shared.slot.lock().unwrap_or_else(|e| e.into_inner());
    let mut last_write: Option<Instant> = None;
    let mut slot = lock();
    loop {
        let due = last_write.map_or(Instant::now(), |at| at + Mirror::INTERVAL);
        let now = Instant::now();
        let ready = slot.latest.is_some() && (slot.urgent || slot.done || now >= due);
        if !ready {
            if slot.done {
                return;
            }
            let wait = if slot.latest.is_some() { due - now } else { Duration::from_secs(3600) };
            slot = shared.changed.wait_timeout(slot, wait).unwrap_or_else(|e| e.into_inner()).0;
            continue;
        }
        let (Some(model), given) = (slot.latest.take(), slot.given) else { continue };
        slot.urgent = false;
        drop(slot);
        if let Err(e) = write(path, &model) {
            eprintln!("vpclab serve: model mirror: {e}");
        }
        drop(model);
        last_write = Some(Instant::now());
        slot = lock();
        slot.written = given;
        shared.changed.notify_all();
    }
}

/// Writes `model` to `path` as compact JSON, replaced whole, by a rename.
fn write(path: &Path, model: &Model) -> std::io::Result<()> {
    let json = serde_json::to_vec(model).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use vpclab_model::Tags;

    use super::*;

    fn read(path: &Path) -> Model {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("vpclab-mirror-{}-{name}.json", std::process::id()))
    }

    #[test]
    fn written_at_once_then_the_newest_by_a_flush_and_at_the_end() {
        let file = path("newest");
        let mut model = Model::new(1);
        let mirror = Mirror::start(file.clone(), &model).unwrap();
        assert_eq!(read(&file).vpcs().count(), 0);
        // Many changes in a row: the mirror ends with the last, whatever it skipped.
        for i in 0..20 {
            let cidr = format!("10.{i}.0.0/16").parse().unwrap();
            model.create_vpc(cidr, Tags::new()).unwrap();
            mirror.update(&model);
        }
        mirror.flush();
        assert_eq!(read(&file).vpcs().count(), 20);
        model.create_vpc("10.99.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        mirror.update(&model);
        drop(mirror);
        assert_eq!(read(&file).vpcs().count(), 21);
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn an_unwritable_mirror_is_refused_at_the_start() {
        let file = std::env::temp_dir().join("vpclab-no-such-directory").join("model.json");
        assert!(Mirror::start(file, &Model::new(3)).is_err());
    }
}
