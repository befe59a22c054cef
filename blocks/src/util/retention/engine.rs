//! The retention engine a storing sink owns: it knows the sink's finished files (units,
//! oldest first), estimates what the files being written take, and before each write
//! decides whether the write fits the limits, deleting the oldest finished (and, when
//! required, confirmed) units to make room. When room can only be made by deleting
//! unconfirmed data it applies the sink's `on_full` policy, loudly: health, a rate-limited
//! log line and counters. Without a `limits` table it only guards the filesystem: writing
//! stops (nothing is deleted) when less than [`GUARD`] of it is free.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::confirm::{self, Confirmed};
use super::layout::{Layout, Unit};
use super::limits::{bytes_text, FreeSpace, Limits, OnFull};
use super::space::{allocated_at, statvfs, Space};

/// The free space every sink keeps on its filesystem when it has no `limits`: below it the
/// sink stops writing (and deletes nothing).
pub const GUARD: FreeSpace = FreeSpace::Percent(1.0);
/// What a file being written is assumed to take beyond its data (sidecars, journals).
const OVERHEAD: u64 = 3 * 4096;
/// How long a statvfs reading is trusted (own writes are subtracted meanwhile).
const SPACE_EVERY: Duration = Duration::from_secs(1);
/// While stopped, how often writing is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How often confirmation markers are read again when they are needed.
const MARKERS_EVERY: Duration = Duration::from_secs(2);
/// How often the age limit is applied.
const AGE_EVERY: Duration = Duration::from_secs(10);
/// How often the sink's directory is scanned again (files deleted or added by others).
const RESCAN_EVERY: Duration = Duration::from_secs(600);
/// How long health stays degraded after unconfirmed data was deleted or kept past its age.
const PRESSURE_FOR: Duration = Duration::from_secs(600);

/// Reads the space of a filesystem (replaceable in tests).
pub type SpaceFn = Box<dyn FnMut(&Path) -> io::Result<Space> + Send>;

#[derive(Default)]
struct Counters {
    stored: Counter,
    evicted: Counter,
    evicted_bytes: Counter,
    evicted_unconfirmed: Counter,
    stops: Counter,
}

struct Marker {
    modified: Option<SystemTime>,
    confirmed: Confirmed,
}

/// A sink's retention.
pub struct Retention {
    limits: Option<Limits>,
    layout: Box<dyn Layout>,
    units: BTreeMap<(i64, PathBuf), Unit>,
    stored: u64,
    active: BTreeMap<PathBuf, u64>,
    markers: HashMap<PathBuf, Marker>,
    space_fn: SpaceFn,
    space: Option<(Space, Instant)>,
    written_since: u64,
    stopped: Option<Instant>,
    pressed_until: Option<Instant>,
    last_retry: Instant,
    retry_every: Duration,
    last_markers: Option<Instant>,
    last_age: Option<Instant>,
    last_rescan: Instant,
    c: Counters,
    health: Option<HealthHandle>,
    name: String,
    stop_log: RateLimited,
    drop_log: RateLimited,
    error_log: RateLimited,
}

impl Retention {
    /// Retention of the files of `layout` under `limits` (`None`: only the free-space guard).
    pub fn new(limits: Option<Limits>, layout: Box<dyn Layout>) -> Self {
        let now = Instant::now();
        let limited = |what: &str| RateLimited::new(what.to_string(), Duration::from_secs(60));
        Retention {
            limits,
            layout,
            units: BTreeMap::new(),
            stored: 0,
            active: BTreeMap::new(),
            markers: HashMap::new(),
            space_fn: Box::new(|p: &Path| statvfs(p)),
            space: None,
            written_since: 0,
            stopped: None,
            pressed_until: None,
            last_retry: now,
            retry_every: RETRY_EVERY,
            last_markers: None,
            last_age: None,
            last_rescan: now,
            c: Counters::default(),
            health: None,
            name: String::new(),
            stop_log: limited("storage limit: writing stopped"),
            drop_log: limited("storage limit: deleted unconfirmed data"),
            error_log: limited("storage limit: cannot delete"),
        }
    }

    /// Replaces how filesystem space is read (tests).
    pub fn with_space_fn(mut self, f: SpaceFn) -> Self {
        self.space_fn = f;
        self
    }

    /// Sets how often a stopped sink tries writing again (default 1 s; tests use 0).
    pub fn with_retry_every(mut self, d: Duration) -> Self {
        self.retry_every = d;
        self
    }

    /// Creates the sink's directory, scans its files and applies the age limit. Call from
    /// the sink's `start`.
    pub fn start(&mut self, ctx: &BlockContext) -> io::Result<()> {
        let c = |n| ctx.counter(n);
        self.c = Counters {
            stored: c("stored_bytes"),
            evicted: c("evicted"),
            evicted_bytes: c("evicted_bytes"),
            evicted_unconfirmed: c("evicted_unconfirmed"),
            stops: c("storage_stops"),
        };
        self.health = Some(ctx.health());
        self.name = ctx.name().to_string();
        std::fs::create_dir_all(self.layout.root())?;
        self.rescan()?;
        self.apply_age();
        Ok(())
    }

    /// True while writing is stopped by a limit.
    pub fn is_stopped(&self) -> bool {
        self.stopped.is_some()
    }

    /// Bytes the sink's files take (finished units plus the estimate of open ones).
    pub fn usage(&self) -> u64 {
        self.stored + self.active.values().sum::<u64>()
    }

    /// The finished units known, oldest first.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values()
    }

    /// Notes that the unit of primary file `primary` is being written: it is never
    /// deleted until [`finished`](Self::finished).
    pub fn begin(&mut self, primary: &Path) {
        if self.active.contains_key(primary) {
            return;
        }
        let existing = match self.units.iter().find(|(k, _)| k.1 == primary) {
            Some((k, _)) => {
                let k = k.clone();
                let u = self.units.remove(&k);
                let b = u.map_or(0, |u| u.bytes);
                self.stored = self.stored.saturating_sub(b);
                b
            }
            None => allocated_at(primary),
        };
        self.active
            .insert(primary.to_path_buf(), existing + OVERHEAD);
        self.publish();
    }

    /// The unit of `primary` is complete: it joins the deletable units, measured on disk.
    pub fn finished(&mut self, primary: &Path) {
        self.active.remove(primary);
        if let Some(u) = self.layout.unit(primary) {
            self.insert(u);
        }
        // Measured now, the unit may take more than estimated: keep the limits (what cannot
        // be freed here stops the next write).
        if self.limits.is_some() && self.stopped.is_none() {
            let _ = self.make_room(0);
        }
        self.publish();
    }

    /// Sets what the open unit of `primary` takes, measured by the sink (the allocated size
    /// of `files`), replacing the running estimate.
    pub fn measure(&mut self, primary: &Path, files: &[PathBuf]) {
        if let Some(b) = self.active.get_mut(primary) {
            *b = files.iter().map(|f| allocated_at(f)).sum::<u64>() + OVERHEAD;
        }
        self.publish();
    }

    /// The unit of `primary` is no longer written and not kept either (it failed).
    pub fn abandon(&mut self, primary: &Path) {
        self.active.remove(primary);
        self.publish();
    }

    /// Asks to write `bytes` more to the unit of `primary` (begun before). Returns false
    /// when the write must not happen: the sink is stopped by a limit (the sink drops the
    /// data and counts it).
    pub fn admit(&mut self, primary: &Path, bytes: u64) -> bool {
        if !self.room(bytes) {
            return false;
        }
        *self.active.entry(primary.to_path_buf()).or_insert(OVERHEAD) += bytes;
        self.written_since += bytes;
        self.publish();
        true
    }

    /// True when `bytes` more may be written (deleting what the limits allow to make room),
    /// without counting them: ask before creating a new file. False: stopped by a limit.
    pub fn room(&mut self, bytes: u64) -> bool {
        if let Some(since) = self.stopped {
            if self.last_retry.elapsed() < self.retry_every {
                return false;
            }
            self.last_retry = Instant::now();
            match self.make_room(bytes) {
                Ok(()) => self.resume(since),
                Err(why) => {
                    self.stop(&why);
                    return false;
                }
            }
        } else if let Err(why) = self.make_room(bytes) {
            self.last_retry = Instant::now();
            self.stop(&why);
            return false;
        }
        true
    }

    /// Periodic upkeep (call from `work` even when idle): the age limit, rescans, and the
    /// end of a degraded spell.
    pub fn poll(&mut self) {
        if self.last_rescan.elapsed() >= RESCAN_EVERY {
            if let Err(e) = self.rescan() {
                self.error_log
                    .warn(&format!("scanning {}: {e}", self.layout.root().display()));
            }
        }
        if self.last_age.is_none_or(|t| t.elapsed() >= AGE_EVERY) {
            self.apply_age();
        }
        if self.pressed_until.is_some_and(|t| Instant::now() >= t) {
            self.pressed_until = None;
            if self.stopped.is_none() {
                if let Some(h) = &self.health {
                    h.ok();
                }
            }
        }
    }

    fn publish(&self) {
        self.c.stored.set(self.usage());
    }

    fn insert(&mut self, u: Unit) {
        self.stored += u.bytes;
        if let Some(old) = self.units.insert((u.time, u.primary_path()), u) {
            self.stored = self.stored.saturating_sub(old.bytes);
        }
    }

    fn rescan(&mut self) -> io::Result<()> {
        self.last_rescan = Instant::now();
        let found = self.layout.scan()?;
        self.units.clear();
        self.stored = 0;
        for u in found {
            if !self.active.contains_key(&u.primary_path()) {
                self.insert(u);
            }
        }
        self.publish();
        Ok(())
    }

    fn space(&mut self) -> Option<Space> {
        let fresh = self.space.is_some_and(|(_, t)| t.elapsed() < SPACE_EVERY);
        if !fresh {
            match (self.space_fn)(self.layout.root()) {
                Ok(s) => {
                    self.space = Some((s, Instant::now()));
                    self.written_since = 0;
                }
                Err(e) => {
                    self.error_log.warn(&format!(
                        "reading the free space of {}: {e}",
                        self.layout.root().display()
                    ));
                    return None;
                }
            }
        }
        self.space.map(|(s, _)| Space {
            free: s.free.saturating_sub(self.written_since),
            total: s.total,
        })
    }

    /// Bytes to free before `incoming` more may be written, and the limit that needs it.
    fn need(&mut self, incoming: u64) -> (u64, String) {
        let mut need = (0, String::new());
        if let Some(max) = self.limits.as_ref().and_then(|l| l.max_bytes) {
            let after = self.usage() + incoming;
            if after > max.0 {
                need = (after - max.0, format!("max_bytes {max}"));
            }
        }
        let watermark = match &self.limits {
            Some(l) => l.min_free,
            None => Some(GUARD),
        };
        if let (Some(w), Some(s)) = (watermark, self.space()) {
            let wm = w.bytes(s.total);
            let free_after = s.free.saturating_sub(incoming);
            if free_after < wm && wm - free_after > need.0 {
                let what = if self.limits.is_some() {
                    format!("min_free {w}")
                } else {
                    format!("the {w} free-space guard (no `limits` set, so nothing is deleted)")
                };
                need = (
                    wm - free_after,
                    format!(
                        "{what} ({} free of {})",
                        bytes_text(s.free),
                        bytes_text(s.total)
                    ),
                );
            }
        }
        need
    }

    /// Deletes what the limits allow until `incoming` fits; `Err` says why it does not.
    fn make_room(&mut self, incoming: u64) -> Result<(), String> {
        let (need, what) = self.need(incoming);
        if need == 0 {
            return Ok(());
        }
        let Some(limits) = self.limits.clone() else {
            return Err(format!("{what} reached"));
        };
        let mut freed = self.evict(need, false);
        if freed < need && limits.require_confirmation {
            self.reload_markers();
            freed += self.evict(need - freed, false);
        }
        if freed < need
            && limits.require_confirmation
            && limits.on_full == OnFull::DropOldestUnconfirmed
        {
            let n = self.evict(need - freed, true);
            if n > 0 {
                self.pressure(&format!(
                    "deleted unconfirmed data to keep {what} (on_full = drop_oldest_unconfirmed)"
                ));
            }
            freed += n;
        }
        if freed > 0 {
            self.space = None;
        }
        if freed >= need {
            return Ok(());
        }
        let left = if limits.require_confirmation {
            "the rest is being written or not yet confirmed by its consumer"
        } else {
            "the rest is being written"
        };
        Err(format!(
            "{what} reached: {} more must be freed and {left}",
            bytes_text(need - freed)
        ))
    }

    fn confirmed(&mut self, u: &Unit) -> bool {
        if !self.markers.contains_key(&u.dir) {
            self.load_marker(&u.dir);
        }
        self.markers
            .get(&u.dir)
            .is_some_and(|m| m.confirmed.contains(&u.primary))
    }

    fn load_marker(&mut self, dir: &Path) {
        let path = dir.join(confirm::MARKER);
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if self
            .markers
            .get(dir)
            .is_some_and(|m| m.modified == modified && modified.is_some())
        {
            return;
        }
        let confirmed = match confirm::read(dir) {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                self.error_log
                    .warn(&format!("reading {}: {e}", path.display()));
                Confirmed::default()
            }
        };
        self.markers.insert(
            dir.to_path_buf(),
            Marker {
                modified,
                confirmed,
            },
        );
    }

    /// Reads again the markers of directories holding units (at most every
    /// [`MARKERS_EVERY`]; a marker whose modification time did not change is not reread).
    fn reload_markers(&mut self) {
        let every = MARKERS_EVERY.min(self.retry_every * 2);
        if self.last_markers.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last_markers = Some(Instant::now());
        let dirs: std::collections::BTreeSet<PathBuf> =
            self.units.values().map(|u| u.dir.clone()).collect();
        for d in dirs {
            self.load_marker(&d);
        }
    }

    /// Deletes the oldest deletable units until `need` bytes are freed; `unconfirmed`:
    /// only units not confirmed (the policy's last resort). Returns the bytes freed.
    fn evict(&mut self, need: u64, unconfirmed: bool) -> u64 {
        let require = self.limits.as_ref().is_some_and(|l| l.require_confirmation);
        let mut freed = 0;
        let keys: Vec<(i64, PathBuf)> = self.units.keys().cloned().collect();
        for k in keys {
            if freed >= need {
                break;
            }
            let Some(u) = self.units.get(&k).cloned() else {
                continue;
            };
            if !self.layout.finished(&u) || self.active.contains_key(&k.1) {
                continue;
            }
            let ok = !require || self.confirmed(&u);
            if ok == unconfirmed {
                continue;
            }
            freed += self.delete(&k, !ok);
        }
        freed
    }

    /// Deletes a unit's files; returns the bytes freed.
    fn delete(&mut self, key: &(i64, PathBuf), unconfirmed: bool) -> u64 {
        let Some(u) = self.units.remove(key) else {
            return 0;
        };
        self.stored = self.stored.saturating_sub(u.bytes);
        let mut failed = false;
        for f in &u.files {
            if let Err(e) = std::fs::remove_file(f) {
                if e.kind() != io::ErrorKind::NotFound {
                    failed = true;
                    self.error_log
                        .warn(&format!("deleting {}: {e}", f.display()));
                }
            }
        }
        if failed {
            return 0;
        }
        self.c.evicted.inc();
        self.c.evicted_bytes.add(u.bytes);
        if unconfirmed {
            self.c.evicted_unconfirmed.inc();
            self.drop_log.warn(&format!(
                "`{}` deleted {} (not confirmed by its consumer)",
                self.name,
                u.primary_path().display()
            ));
        }
        self.remove_if_empty(&u.dir);
        self.publish();
        u.bytes
    }

    /// Removes a subdirectory of the root that holds nothing but its marker.
    fn remove_if_empty(&mut self, dir: &Path) {
        if dir == self.layout.root() || !dir.starts_with(self.layout.root()) {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let only_marker = rd.flatten().all(|e| e.file_name() == confirm::MARKER);
        if only_marker {
            let _ = std::fs::remove_file(dir.join(confirm::MARKER));
            if std::fs::remove_dir(dir).is_ok() {
                self.markers.remove(dir);
            }
        }
    }

    fn apply_age(&mut self) {
        self.last_age = Some(Instant::now());
        let Some(max_age) = self.limits.as_ref().and_then(|l| l.max_age) else {
            return;
        };
        let (require, policy) = self.limits.as_ref().map_or((false, OnFull::Stop), |l| {
            (l.require_confirmation, l.on_full)
        });
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let cutoff = now - max_age.as_secs() as i64;
        let old: Vec<(i64, PathBuf)> = self
            .units
            .keys()
            .take_while(|k| k.0 < cutoff)
            .cloned()
            .collect();
        if old.is_empty() {
            return;
        }
        if require {
            self.reload_markers();
        }
        let mut kept = 0;
        for k in old {
            let Some(u) = self.units.get(&k).cloned() else {
                continue;
            };
            if !self.layout.finished(&u) || self.active.contains_key(&k.1) {
                continue;
            }
            let ok = !require || self.confirmed(&u);
            if ok || policy == OnFull::DropOldestUnconfirmed {
                self.delete(&k, !ok);
            } else {
                kept += 1;
            }
        }
        if kept > 0 {
            self.pressure(&format!(
                "{kept} file(s) past max_age are kept: not yet confirmed by their consumer"
            ));
        }
    }

    fn pressure(&mut self, why: &str) {
        self.pressed_until = Some(Instant::now() + PRESSURE_FOR);
        if self.stopped.is_none() {
            if let Some(h) = &self.health {
                h.degraded(&format!("storage: {why}"));
            }
        }
        self.drop_log.warn(&format!("`{}`: {why}", self.name));
    }

    fn stop(&mut self, why: &str) {
        if self.stopped.is_none() {
            self.stopped = Some(Instant::now());
            self.c.stops.inc();
        }
        if let Some(h) = &self.health {
            h.failed(&format!("storage: {why}; writing stopped"));
        }
        self.stop_log.error(&format!(
            "`{}` ({}): {why}; new data is dropped until there is room",
            self.name,
            self.layout.root().display()
        ));
    }

    fn resume(&mut self, since: Instant) {
        self.stopped = None;
        tracing::info!(block = %self.name, after_s = since.elapsed().as_secs(),
            "storage limit: room again, writing resumed");
        if let Some(h) = &self.health {
            if self.pressed_until.is_some() {
                h.degraded("storage: recently deleted or kept unconfirmed data");
            } else {
                h.ok();
            }
        }
    }
}
