//! Writes the samples of one Digital RF channel: `drf_properties.h5`, and the
//! `YYYY-MM-DDTHH-MM-SS/rf@SEC.MSC.h5` files with `rf_data` (complex64 rows × subchannels,
//! chunked, growing to one file cadence) and `rf_data_index` (`[global sample, row]` at
//! every discontinuity), as the `digital_rf` package reads them. A restarted writer
//! continues the file it finds for its time (never overwriting it); a file it cannot open
//! is moved aside as `.damaged`.

use std::path::{Path, PathBuf};

use flow_framework::prelude::*;
use hdf5::{Dataset, File};
use ndarray::{s, ArrayView2};

use super::attrs::{write_common, write_file_attrs, ChannelProps};

/// Sample bounds and name of the file holding a sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpan {
    /// First global sample index of the file's time span.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// Path relative to the channel directory.
    pub rel: PathBuf,
}

/// The file that holds global sample `idx` (samples since the epoch at the channel rate).
pub fn span_of(p: &ChannelProps, idx: u64) -> FileSpan {
    let (num, den, cad) = (
        u128::from(p.rate_num),
        u128::from(p.rate_den),
        u128::from(p.file_cadence_ms),
    );
    let t_ms = u128::from(idx) * 1000 * den / num;
    let fs = t_ms / cad * cad;
    let sample_at = |ms: u128| ((ms * num).div_ceil(1000 * den)) as u64;
    let sec = (fs / 1000) as i64;
    let sub = sec - sec.rem_euclid(p.subdir_cadence_secs.max(1) as i64);
    let (y, mo, d, h, mi, se) = flow_framework::tag::civil_from_unix(sub);
    FileSpan {
        start: sample_at(fs),
        end: sample_at(fs + cad),
        rel: PathBuf::from(format!("{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{se:02}")).join(format!(
            "rf@{}.{:03}.h5",
            fs / 1000,
            fs % 1000
        )),
    }
}

struct DrfFile {
    file: File,
    data: Dataset,
    index: Dataset,
    span: FileSpan,
    rows: u64,
    index_rows: u64,
    next: Option<u64>,
}

/// Writes one channel.
pub struct DrfWriter {
    dir: PathBuf,
    p: ChannelProps,
    init_utc: u64,
    seq: i32,
    cur: Option<DrfFile>,
    /// Samples not written because a file already held their time.
    pub overlapped: u64,
    /// Files created or continued.
    pub files: u64,
}

impl DrfWriter {
    /// Prepares channel directory `dir`, writing `drf_properties.h5` (or checking that an
    /// existing one matches `p`).
    pub fn create(dir: &Path, p: &ChannelProps) -> Result<DrfWriter, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let props = dir.join("drf_properties.h5");
        if props.exists() {
            let f = File::open(&props).map_err(|e| format!("opening {}: {e}", props.display()))?;
            let get = |n: &str| f.attr(n).and_then(|a| a.read_scalar::<u64>()).unwrap_or(0);
            let nsub = f
                .attr("num_subchannels")
                .and_then(|a| a.read_scalar::<i32>())
                .unwrap_or(0);
            if (
                get("sample_rate_numerator"),
                get("sample_rate_denominator"),
                get("file_cadence_millisecs"),
                get("subdir_cadence_secs"),
                nsub,
            ) != (
                p.rate_num,
                p.rate_den,
                p.file_cadence_ms,
                p.subdir_cadence_secs,
                p.num_subchannels as i32,
            ) {
                return Err(format!("{} describes another channel layout (rate, cadences or subchannels differ); use another directory", props.display()));
            }
        } else {
            let tmp = dir.join("drf_properties.h5.tmp");
            let _ = std::fs::remove_file(&tmp);
            let f = File::create(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
            write_common(&f, p).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
            drop(f);
            std::fs::rename(&tmp, &props)
                .map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
        }
        Ok(DrfWriter {
            dir: dir.to_path_buf(),
            p: p.clone(),
            init_utc: 0,
            seq: 0,
            cur: None,
            overlapped: 0,
            files: 0,
        })
    }

    fn open(&mut self, idx: u64) -> Result<(), String> {
        self.close()?;
        if self.init_utc == 0 {
            self.init_utc = (idx as f64 / self.p.rate()) as u64;
        }
        let span = span_of(&self.p, idx);
        let path = self.dir.join(&span.rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let err = |e: hdf5::Error| format!("{}: {e}", path.display());
        let resumed = if path.exists() {
            match Self::resume(&path, span.clone()) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "cannot continue an existing Digital RF file ({e}); moving it aside");
                    std::fs::rename(&path, path.with_extension("h5.damaged"))
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    None
                }
            }
        } else {
            None
        };
        let f = match resumed {
            Some(f) => f,
            None => {
                let file = File::create_excl(&path).map_err(err)?;
                let per_file = span.end - span.start;
                let nsub = self.p.num_subchannels as usize;
                let chunk = per_file.clamp(1, 4096) as usize;
                let data = file
                    .new_dataset::<C32>()
                    .chunk((chunk, nsub))
                    .shape((0..=per_file as usize, nsub))
                    .create("rf_data")
                    .map_err(err)?;
                write_file_attrs(&data, &self.p, self.init_utc, self.seq).map_err(err)?;
                let index = file
                    .new_dataset::<u64>()
                    .chunk((100, 2))
                    .shape((0.., 2))
                    .create("rf_data_index")
                    .map_err(err)?;
                DrfFile {
                    file,
                    data,
                    index,
                    span,
                    rows: 0,
                    index_rows: 0,
                    next: None,
                }
            }
        };
        self.seq += 1;
        self.files += 1;
        self.cur = Some(f);
        Ok(())
    }

    fn resume(path: &Path, span: FileSpan) -> hdf5::Result<DrfFile> {
        let file = File::open_rw(path)?;
        let data = file.dataset("rf_data")?;
        let index = file.dataset("rf_data_index")?;
        let rows = data.shape().first().copied().unwrap_or(0) as u64;
        let idx: ndarray::Array2<u64> = index.read_2d()?;
        let index_rows = idx.nrows() as u64;
        let next = (index_rows > 0)
            .then(|| idx[[idx.nrows() - 1, 0]] + (rows - idx[[idx.nrows() - 1, 1]]));
        Ok(DrfFile {
            file,
            data,
            index,
            span,
            rows,
            index_rows,
            next,
        })
    }

    /// Writes rows of samples (`samples.len()` = rows × subchannels, row-major) starting at
    /// global sample index `idx`.
    pub fn write(&mut self, mut idx: u64, samples: &[C32]) -> Result<(), String> {
        let nsub = self.p.num_subchannels as usize;
        let mut rest = samples;
        while rest.len() >= nsub && nsub > 0 {
            if self
                .cur
                .as_ref()
                .is_none_or(|f| idx < f.span.start || idx >= f.span.end)
            {
                self.open(idx)?;
            }
            let Some(f) = self.cur.as_mut() else {
                return Err("no file".into());
            };
            let mut n = ((rest.len() / nsub) as u64).min(f.span.end - idx);
            if let Some(next) = f.next.filter(|next| idx < *next) {
                // Already in the file (a restart replaying data): skip, never overwrite.
                let skip = (next - idx).min(n);
                self.overlapped += skip;
                idx += skip;
                rest = &rest[skip as usize * nsub..];
                continue;
            }
            let err = |e: hdf5::Error| e.to_string();
            if f.next != Some(idx) {
                f.index
                    .resize((f.index_rows as usize + 1, 2))
                    .map_err(err)?;
                let row = [idx, f.rows];
                f.index
                    .write_slice(
                        ArrayView2::from_shape((1, 2), &row).map_err(|e| e.to_string())?,
                        s![f.index_rows as usize.., ..],
                    )
                    .map_err(err)?;
                f.index_rows += 1;
            }
            n = n.max(1);
            let (a, b) = (f.rows as usize, (f.rows + n) as usize);
            f.data.resize((b, nsub)).map_err(err)?;
            let view = ArrayView2::from_shape((n as usize, nsub), &rest[..n as usize * nsub])
                .map_err(|e| e.to_string())?;
            f.data.write_slice(view, s![a..b, ..]).map_err(err)?;
            f.rows += n;
            f.next = Some(idx + n);
            idx += n;
            rest = &rest[n as usize * nsub..];
        }
        Ok(())
    }

    /// The file being written, if any.
    pub fn current_path(&self) -> Option<PathBuf> {
        self.cur.as_ref().map(|f| self.dir.join(&f.span.rel))
    }

    /// Flushes the open file to the kernel.
    pub fn flush(&self) -> Result<(), String> {
        self.cur
            .as_ref()
            .map_or(Ok(()), |f| f.file.flush().map_err(|e| e.to_string()))
    }

    /// Flushes and closes the open file.
    pub fn close(&mut self) -> Result<(), String> {
        let r = self.flush();
        self.cur = None;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_cadences() {
        let p = ChannelProps {
            rate_num: 10,
            rate_den: 1,
            subdir_cadence_secs: 86400,
            file_cadence_ms: 3_600_000,
            num_subchannels: 1,
            uuid: "u".into(),
        };
        let s = span_of(&p, 17_000_000_000);
        assert_eq!(
            s.rel,
            PathBuf::from("2023-11-14T00-00-00/rf@1699999200.000.h5")
        );
        assert_eq!((s.start, s.end), (16_999_992_000, 17_000_028_000));
        let p = ChannelProps {
            rate_num: 20_000,
            rate_den: 3,
            file_cadence_ms: 1000,
            subdir_cadence_secs: 3600,
            ..p
        };
        let s = span_of(&p, 20_000 * 1_700_000_000 / 3 + 5);
        assert_eq!(
            s.rel,
            PathBuf::from("2023-11-14T22-00-00/rf@1700000000.000.h5")
        );
        assert!(s.start <= 20_000 * 1_700_000_000 / 3 + 5 && s.end - s.start >= 6666);
    }
}
