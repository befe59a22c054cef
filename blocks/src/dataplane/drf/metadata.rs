//! Digital Metadata (the `digital_rf` package's `DigitalMetadataWriter` format): a
//! `dmd_properties.h5` naming the fields, and `SUBDIR/metadata@SEC.h5` files holding one
//! group per sample index with one dataset per field. GRAPE uploads to HamSCI PSWS carry
//! `callsign`, `grid_square`, `receiver_name`, `lat`, `long` (float32),
//! `center_frequencies` (MHz, one per subchannel) and `uuid_str`.

use std::path::Path;

use hdf5::types::{CompoundField, CompoundType, TypeDescriptor, VarLenAscii};
use hdf5::{Datatype, File, Group};

use crate::dataplane::h5::raw::{fixed_ascii_attr, write_rows};
use crate::dataplane::h5::stream::attr;

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// A string (stored as a variable-length ASCII string).
    Str(String),
    /// A float32 scalar (`lat`, `long`).
    F32(f32),
    /// A float64 scalar.
    F64(f64),
    /// A float64 vector (`center_frequencies`).
    F64s(Vec<f64>),
    /// An int64 scalar.
    I64(i64),
    /// A float32 matrix: rows, columns, row-major values (a completeness map).
    F32Matrix(usize, usize, Vec<f32>),
}

/// The cadences and rate of a metadata channel.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaProps {
    /// Seconds per subdirectory.
    pub subdir_cadence_secs: i64,
    /// Seconds per file.
    pub file_cadence_secs: i64,
    /// Sample rate numerator (of the sample indices used as keys).
    pub rate_num: i64,
    /// Sample rate denominator.
    pub rate_den: i64,
}

fn write_value(g: &Group, name: &str, v: &MetaValue) -> hdf5::Result<()> {
    match v {
        MetaValue::Str(s) => {
            let a = VarLenAscii::from_ascii(s.as_bytes())
                .map_err(|e| hdf5::Error::from(e.to_string()))?;
            g.new_dataset::<VarLenAscii>()
                .create(name)?
                .write_scalar(&a)
        }
        MetaValue::F32(x) => g.new_dataset::<f32>().create(name)?.write_scalar(x),
        MetaValue::F64(x) => g.new_dataset::<f64>().create(name)?.write_scalar(x),
        MetaValue::F64s(x) => g
            .new_dataset_builder()
            .with_data(x.as_slice())
            .create(name)
            .map(|_| ()),
        MetaValue::I64(x) => g.new_dataset::<i64>().create(name)?.write_scalar(x),
        MetaValue::F32Matrix(rows, cols, x) => {
            let a = ndarray::ArrayView2::from_shape((*rows, *cols), x.as_slice())
                .map_err(|e| hdf5::Error::from(e.to_string()))?;
            g.new_dataset_builder()
                .with_data(a)
                .create(name)
                .map(|_| ())
        }
    }
}

/// Writes `dmd_properties.h5` (if missing) and one record of `fields` at `sample` into
/// `dir` (e.g. `CHANNEL/metadata`).
pub fn write(
    dir: &Path,
    p: &MetaProps,
    sample: u64,
    fields: &[(&str, MetaValue)],
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let props = dir.join("dmd_properties.h5");
    fn e(what: &Path) -> impl Fn(hdf5::Error) -> String + '_ {
        move |err| format!("{}: {err}", what.display())
    }
    if !props.exists() {
        let tmp = dir.join("dmd_properties.h5.tmp");
        let _ = std::fs::remove_file(&tmp);
        let f = File::create(&tmp).map_err(e(&tmp))?;
        fixed_ascii_attr(&f, "digital_metadata_version", "2.5").map_err(e(&tmp))?;
        attr(&f, "file_cadence_secs", p.file_cadence_secs).map_err(e(&tmp))?;
        fixed_ascii_attr(&f, "file_name", "metadata").map_err(e(&tmp))?;
        attr(&f, "sample_rate_denominator", p.rate_den).map_err(e(&tmp))?;
        attr(&f, "sample_rate_numerator", p.rate_num).map_err(e(&tmp))?;
        attr(&f, "subdir_cadence_secs", p.subdir_cadence_secs).map_err(e(&tmp))?;
        let col = TypeDescriptor::FixedAscii(128);
        let td = TypeDescriptor::Compound(CompoundType {
            fields: vec![CompoundField::new("column", col, 0, 0)],
            size: 128,
        });
        let mut names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let ds = f
            .new_dataset_builder()
            .empty_as(&td)
            .shape(names.len())
            .create("fields")
            .map_err(e(&tmp))?;
        let mut buf = vec![0u8; 128 * names.len()];
        for (k, n) in names.iter().enumerate() {
            let b = &n.as_bytes()[..n.len().min(128)];
            buf[128 * k..128 * k + b.len()].copy_from_slice(b);
        }
        let dt = Datatype::from_descriptor(&td).map_err(e(&tmp))?;
        write_rows(&ds, &dt, 0, names.len() as u64, &buf).map_err(e(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &props)
            .map_err(|err| format!("renaming {}: {err}", tmp.display()))?;
    }
    let secs = (u128::from(sample) * p.rate_den.max(1) as u128 / p.rate_num.max(1) as u128) as i64;
    let file_start = secs - secs.rem_euclid(p.file_cadence_secs.max(1));
    let sub = secs - secs.rem_euclid(p.subdir_cadence_secs.max(1));
    let (y, mo, d, h, mi, s) = flow_framework::tag::civil_from_unix(sub);
    let sub_dir = dir.join(format!("{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{s:02}"));
    std::fs::create_dir_all(&sub_dir)
        .map_err(|err| format!("creating {}: {err}", sub_dir.display()))?;
    let path = sub_dir.join(format!("metadata@{file_start}.h5"));
    let f = if path.exists() {
        File::open_rw(&path)
    } else {
        File::create(&path)
    }
    .map_err(e(&path))?;
    let key = sample.to_string();
    if f.link_exists(&key) {
        return Ok(()); // already recorded (a restart): metadata records are immutable
    }
    let g = f.create_group(&key).map_err(e(&path))?;
    for (n, v) in fields {
        write_value(&g, n, v).map_err(e(&path))?;
    }
    f.flush().map_err(e(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_append_to_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = MetaProps {
            subdir_cadence_secs: 3600,
            file_cadence_secs: 3600,
            rate_num: 10,
            rate_den: 1,
        };
        let f = [
            ("callsign", MetaValue::Str("X".into())),
            ("lat", MetaValue::F32(1.0)),
        ];
        write(dir.path(), &p, 17_000_000_000, &f).unwrap();
        write(dir.path(), &p, 17_000_000_010, &f).unwrap();
        write(dir.path(), &p, 17_000_000_010, &f).unwrap();
    }
}
