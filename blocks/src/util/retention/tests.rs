//! The retention engine on real files: size, free-space and age limits delete the oldest
//! finished units first, never the file being written, never unconfirmed data when
//! confirmation is required (the sink stops instead, or drops the oldest unconfirmed when
//! told to), and the free-space guard of a sink without limits deletes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flow_framework::metrics::{BlockMetrics, Health};
use flow_framework::prelude::*;

use super::layout::stamp;
use super::space::Space;
use super::*;

const T0: i64 = 1_700_000_000;
const UNIT: usize = 8192;

struct Fixture {
    _d: tempfile::TempDir,
    dir: PathBuf,
    metrics: Arc<BlockMetrics>,
}

impl Fixture {
    fn new() -> Fixture {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("sink");
        std::fs::create_dir_all(&dir).unwrap();
        Fixture {
            _d: d,
            dir,
            metrics: Arc::new(BlockMetrics::new(1, 0)),
        }
    }

    fn base(&self) -> PathBuf {
        self.dir.join("x.dat")
    }

    /// A finished file of `UNIT` bytes started `k` hours after T0 (written out of order).
    fn file(&self, k: i64) -> PathBuf {
        let p = self.dir.join(format!("x-{}.dat", stamp(T0 + 3600 * k)));
        std::fs::write(&p, vec![7u8; UNIT]).unwrap();
        p
    }

    fn engine(&self, limits: Option<&str>) -> Retention {
        let limits = limits.map(|t| toml::from_str::<Limits>(t).unwrap());
        let mut r = Retention::new(limits, Box::new(Rotated::new(&self.base())))
            .with_retry_every(Duration::ZERO);
        r.start(&BlockContext::new("sink", self.metrics.clone()))
            .unwrap();
        r
    }

    fn present(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".dat"))
            .collect();
        v.sort();
        v
    }

    fn counter(&self, n: &str) -> u64 {
        self.metrics.counter(n).get()
    }
}

fn name(k: i64) -> String {
    format!("x-{}.dat", stamp(T0 + 3600 * k))
}

#[test]
fn max_bytes_deletes_the_oldest_finished_files_and_never_the_active_one() {
    let f = Fixture::new();
    for k in [3, 0, 2, 1] {
        f.file(k);
    }
    let mut r = f.engine(Some("max_bytes = 60000"));
    assert_eq!(r.units().count(), 4);
    let active = f.base();
    r.begin(&active);
    // 4 files (32 KiB) + the active file's allowance (12 KiB) + 5 kB fit; 20 kB more do not.
    assert!(r.admit(&active, 5000));
    std::fs::write(&active, vec![1u8; 5000]).unwrap();
    assert_eq!(f.present().len(), 5);
    assert!(r.admit(&active, 20_000));
    assert_eq!(
        f.present(),
        [name(2), name(3), "x.dat".to_string()],
        "the two oldest went, by their time, not their order on disk"
    );
    assert_eq!(f.counter("evicted"), 2);
    assert!(r.usage() <= 60_000, "{}", r.usage());
    // More than the limit can ever hold with only the active file left: stop, loudly.
    assert!(!r.admit(&active, 60_000));
    assert!(r.is_stopped());
    assert_eq!(f.present(), ["x.dat".to_string()]);
    assert_eq!(f.metrics.health().0, Health::Failed);
    assert!(
        f.metrics.health().1.contains("max_bytes 58.6 KiB reached"),
        "{}",
        f.metrics.health().1
    );
    assert_eq!(f.counter("storage_stops"), 1);
    // A small write fits again: resumed.
    assert!(r.admit(&active, 100));
    assert!(!r.is_stopped());
    assert_eq!(f.metrics.health().0, Health::Ok);
}

#[test]
fn unconfirmed_files_are_never_deleted_when_confirmation_is_required() {
    let f = Fixture::new();
    for k in 0..4 {
        f.file(k);
    }
    let mut r = f.engine(Some("max_bytes = 50000\nrequire_confirmation = true"));
    let active = f.base();
    r.begin(&active);
    assert!(!r.admit(&active, 20_000), "nothing is confirmed: stop");
    assert_eq!(f.present().len(), 4);
    assert!(
        f.metrics.health().1.contains("not yet confirmed"),
        "{}",
        f.metrics.health().1
    );
    // The consumer confirms the newest two: they go, the older unconfirmed ones stay.
    confirm::add(&f.dir, &[name(2), name(3)]).unwrap();
    assert!(r.admit(&active, 20_000));
    assert_eq!(f.present(), [name(0), name(1)]);
    assert_eq!(f.counter("evicted_unconfirmed"), 0);
    assert!(!r.admit(&active, 20_000), "what is left is unconfirmed");
    assert_eq!(f.present(), [name(0), name(1)]);
}

#[test]
fn drop_oldest_unconfirmed_deletes_unconfirmed_data_oldest_first_and_counts_it() {
    let f = Fixture::new();
    for k in 0..4 {
        f.file(k);
    }
    confirm::add(&f.dir, &[name(3)]).unwrap();
    let mut r = f.engine(Some(
        "max_bytes = 50000\nrequire_confirmation = true\non_full = \"drop_oldest_unconfirmed\"",
    ));
    let active = f.base();
    r.begin(&active);
    assert!(r.admit(&active, 20_000));
    // The confirmed file goes first, then the oldest unconfirmed one.
    assert_eq!(f.present(), [name(1), name(2)]);
    assert_eq!(
        (f.counter("evicted"), f.counter("evicted_unconfirmed")),
        (2, 1)
    );
    assert_eq!(f.metrics.health().0, Health::Degraded);
}

#[test]
fn min_free_counts_the_filesystem_and_the_guard_deletes_nothing() {
    // A filesystem of 100 kB whose free space is what the sink's files leave.
    let space = |dir: PathBuf| -> engine::SpaceFn {
        Box::new(move |_: &Path| {
            let used: u64 = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            Ok(Space {
                free: 100_000u64.saturating_sub(used),
                total: 100_000,
            })
        })
    };
    let f = Fixture::new();
    for k in 0..8 {
        f.file(k);
    }
    let limits: Limits = toml::from_str("min_free = \"50%\"").unwrap();
    let mut r = Retention::new(Some(limits), Box::new(Rotated::new(&f.base())))
        .with_space_fn(space(f.dir.clone()))
        .with_retry_every(Duration::ZERO);
    r.start(&BlockContext::new("sink", f.metrics.clone()))
        .unwrap();
    let active = f.base();
    r.begin(&active);
    // 65,536 used, 34,464 free; 800 more leave 33,664 of the 50,000 to keep: the two
    // oldest files (16,384) must go.
    assert!(r.admit(&active, 800));
    assert_eq!(f.present().len(), 6);
    assert!(!f.present().contains(&name(1)) && f.present().contains(&name(2)));

    // Without limits: the 1% guard only stops.
    let g = Fixture::new();
    for k in 0..3 {
        g.file(k);
    }
    let full: engine::SpaceFn = Box::new(|_: &Path| {
        Ok(Space {
            free: 1500,
            total: 100_000,
        })
    });
    let mut r = Retention::new(None, Box::new(Rotated::new(&g.base())))
        .with_space_fn(full)
        .with_retry_every(Duration::ZERO);
    r.start(&BlockContext::new("sink", g.metrics.clone()))
        .unwrap();
    r.begin(&g.base());
    assert!(r.admit(&g.base(), 400));
    assert!(!r.admit(&g.base(), 600));
    assert_eq!(g.present().len(), 3, "the guard deletes nothing");
    assert!(
        g.metrics.health().1.contains("free-space guard"),
        "{}",
        g.metrics.health().1
    );
}

#[test]
fn max_age_deletes_old_confirmed_files_and_keeps_unconfirmed_ones_loudly() {
    let f = Fixture::new();
    for k in 0..3 {
        f.file(k); // from 2023: far older than a day
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let fresh = f.dir.join(format!("x-{}.dat", stamp(now)));
    std::fs::write(&fresh, b"new").unwrap();
    confirm::add(&f.dir, &[name(0)]).unwrap();
    let _r = f.engine(Some("max_age = \"1d\"\nrequire_confirmation = true"));
    let mut left = f.present();
    left.pop(); // the fresh one
    assert_eq!(left, [name(1), name(2)]);
    assert!(fresh.exists());
    assert_eq!(f.metrics.health().0, Health::Degraded);
    assert!(f
        .metrics
        .health()
        .1
        .contains("2 file(s) past max_age are kept"));
}
