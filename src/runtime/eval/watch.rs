//! Hot reload: follow an environment's pointer in a directory that `flagstone publish` writes,
//! and swap in each new bundle once it is verified, keeping the last good one while a newer
//! one cannot be loaded. The layout is specified in docs/publishing.md:
//!
//! ```text
//! DIR/bundles/<hash>.json         content-addressed bundles
//! DIR/current/<environment>.json  the pointer: which bundle the environment serves
//! DIR/publish.log                 one JSON line per publish
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Evaluator, LoadError};

/// `DIR/current/<environment>.json`: the bundle an environment serves, since when, and
/// where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    pub environment: String,
    pub hash: String,
    /// The bundle's path relative to the published directory: `bundles/<hash>.json`.
    pub file: String,
    /// When the pointer moved to this bundle: RFC 3339, UTC, milliseconds.
    pub published_at: String,
    /// The source commit recorded by `build`, when the repository was in git.
    pub commit: Option<String>,
    /// Whether the repository's files differed from that commit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
}

impl Pointer {
    /// Reads and checks the pointer of `environment` in the published directory `dir`.
    pub fn read(dir: &Path, environment: &str) -> Result<Pointer, WatchError> {
        let path = pointer_path(dir, environment);
        let refuse = |reason: String| WatchError::Pointer {
            path: path.clone(),
            reason,
        };
        if !valid_environment(environment) {
            return Err(refuse(format!(
                "`{environment}` is not an environment name"
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| refuse(e.to_string()))?;
        let pointer: Pointer =
            serde_json::from_slice(&bytes).map_err(|e| refuse(format!("not a pointer: {e}")))?;
        if pointer.environment != environment {
            return Err(refuse(format!(
                "it points for `{}`, not `{environment}`",
                pointer.environment
            )));
        }
        if !valid_hash(&pointer.hash) {
            return Err(refuse(format!("`{}` is not a content hash", pointer.hash)));
        }
        Ok(pointer)
    }
}

/// Where the pointer of `environment` lies.
pub fn pointer_path(dir: &Path, environment: &str) -> PathBuf {
    dir.join("current").join(format!("{environment}.json"))
}

/// Where the bundle with content hash `hash` lies.
pub fn bundle_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join("bundles").join(format!("{hash}.json"))
}

/// Whether an environment name can name a pointer file: ASCII letters, digits, `-`, `_` and
/// `.`, not starting with a dot. Names come from flagstone.toml, which does not restrict
/// them, so anything else (a `/`, `..`) is refused rather than followed.
pub fn valid_environment(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `hash` is a content hash: 64 lowercase hex digits.
pub fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Loads the bundle `hash` of `environment` from the published directory `dir`, verified:
/// its bytes must hash to `hash` and it must be that environment's bundle.
pub fn load_bundle(dir: &Path, environment: &str, hash: &str) -> Result<Evaluator, WatchError> {
    let path = bundle_path(dir, hash);
    let bytes = std::fs::read(&path).map_err(|e| WatchError::Missing {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let refuse = |error| WatchError::Refused {
        path: path.clone(),
        error,
    };
    let evaluator = Evaluator::load(&bytes, hash).map_err(refuse)?;
    if evaluator.environment() != environment {
        return Err(refuse(LoadError::Invalid(format!(
            "it is the bundle of `{}`, not `{environment}`",
            evaluator.environment()
        ))));
    }
    Ok(evaluator)
}

/// Why the pointer's bundle is not the one being served.
#[derive(Clone, Debug)]
pub enum WatchError {
    /// The pointer cannot be read, or is not a pointer of this environment.
    Pointer { path: PathBuf, reason: String },
    /// The bundle it names cannot be read: not there (never copied, or pruned) or unreadable.
    Missing { path: PathBuf, reason: String },
    /// The bundle's bytes were refused: altered or truncated (the hash does not match), or
    /// not a valid bundle of this environment.
    Refused { path: PathBuf, error: LoadError },
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::Pointer { path, reason } => {
                write!(f, "cannot use the pointer {}: {reason}", path.display())
            }
            WatchError::Missing { path, reason } => {
                write!(f, "cannot read the bundle {}: {reason}", path.display())
            }
            WatchError::Refused { path, error } => {
                write!(f, "refused the bundle {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for WatchError {}

/// How a [`Watcher`] polls.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Time between two reads of the pointer. A read is one small file; a bundle is read
    /// only when the pointer names a new one.
    pub interval: Duration,
}

impl Default for Options {
    /// Polls every 100 ms.
    fn default() -> Options {
        Options {
            interval: Duration::from_millis(100),
        }
    }
}

/// What a [`Watcher`] serves, and why not something newer.
#[derive(Clone, Debug)]
pub struct Status {
    /// The pointer of the bundle being served.
    pub serving: Pointer,
    /// Why the bundle the pointer names now is not the one served; `None` when it is.
    pub error: Option<WatchError>,
    /// How many times a new bundle was swapped in since [`Watcher::open`].
    pub reloads: u64,
}

/// Serves an environment's published bundle and swaps in new ones as they are published.
///
/// A background thread reads the pointer every [`Options::interval`]. When it names a new
/// bundle, the thread loads and verifies it, then swaps it in; evaluations in progress
/// finish on the bundle they started with. A bundle that is missing, altered, truncated or
/// invalid is not served: the last good one stays, and [`Watcher::status`] says why. The
/// thread stops when the watcher is dropped.
pub struct Watcher {
    shared: Arc<Shared>,
    /// Dropping it wakes the thread and ends it.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    dir: PathBuf,
    environment: String,
    current: RwLock<Arc<Evaluator>>,
    /// Held only to read or replace the state, never while a bundle is read or verified, so
    /// that `status()` answers during a reload.
    state: Mutex<State>,
    /// One poll at a time (the thread's or `refresh()`'s), held for the whole poll.
    polling: Mutex<()>,
}

#[derive(Clone)]
struct State {
    status: Status,
    /// The last bundle refused and its file's length and modification time: an unchanged
    /// file is not read again every poll, a replaced or repaired one is.
    refused: Option<(String, Option<(u64, SystemTime)>)>,
}

impl Watcher {
    /// Loads the bundle `environment`'s pointer names in the published directory `dir`, then
    /// watches the pointer. Fails when there is no good bundle to start with.
    pub fn open(
        dir: impl Into<PathBuf>,
        environment: &str,
        options: Options,
    ) -> Result<Watcher, WatchError> {
        let dir = dir.into();
        let pointer = Pointer::read(&dir, environment)?;
        let evaluator = load_bundle(&dir, environment, &pointer.hash)?;
        let shared = Arc::new(Shared {
            dir,
            environment: environment.to_owned(),
            current: RwLock::new(Arc::new(evaluator)),
            state: Mutex::new(State {
                status: Status {
                    serving: pointer,
                    error: None,
                    reloads: 0,
                },
                refused: None,
            }),
            polling: Mutex::new(()),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let polled = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("flagstone-watch-{environment}"))
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(options.interval) {
                    polled.poll();
                }
            })
            .expect("the watcher thread starts");
        Ok(Watcher {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bundle to evaluate with. Hold it for as long as one request should see one
    /// bundle; evaluating takes no lock.
    pub fn current(&self) -> Arc<Evaluator> {
        Arc::clone(
            &self
                .shared
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// What is served, and why a newer bundle is not.
    pub fn status(&self) -> Status {
        self.shared.state().status.clone()
    }

    /// Reads the pointer now rather than at the next interval (for instance on a signal),
    /// and returns the resulting status.
    pub fn refresh(&self) -> Status {
        self.shared.poll();
        self.status()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the pointer and, when it names a new bundle, loads and swaps it in. The state is
    /// locked to copy it at the start, then to swap the bundle and store the outcome at once:
    /// a poll is the only writer (`polling`), so nothing changes it in between, and no reader
    /// of the status sees a bundle the status does not name yet.
    fn poll(&self) {
        let _polling = self.polling.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = self.state().clone();
        let swapped = self.next(&mut state);
        let mut stored = self.state();
        let old = swapped.map(|evaluator| {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *current, Arc::new(evaluator))
        });
        *stored = state;
        drop(stored);
        // Freed (when no request holds it) after the locks, so readers never wait on it.
        drop(old);
    }

    /// Updates `state` from the pointer; returns the bundle to swap in, if any.
    fn next(&self, state: &mut State) -> Option<Evaluator> {
        let pointer = match Pointer::read(&self.dir, &self.environment) {
            Ok(pointer) => pointer,
            Err(error) => {
                state.status.error = Some(error);
                return None;
            }
        };
        if pointer.hash == state.status.serving.hash {
            // Republished, or rolled back to what is served.
            state.status.serving = pointer;
            state.status.error = None;
            state.refused = None;
            return None;
        }
        let stamp = std::fs::metadata(bundle_path(&self.dir, &pointer.hash))
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)));
        if state
            .refused
            .as_ref()
            .is_some_and(|(hash, seen)| *hash == pointer.hash && *seen == stamp)
        {
            return None;
        }
        match load_bundle(&self.dir, &self.environment, &pointer.hash) {
            Ok(evaluator) => {
                state.status.serving = pointer;
                state.status.error = None;
                state.status.reloads += 1;
                state.refused = None;
                Some(evaluator)
            }
            Err(error) => {
                state.status.error = Some(error);
                state.refused = Some((pointer.hash, stamp));
                None
            }
        }
    }
}
