//! A stream as HDF5: the extendable, chunked `samples` dataset (`c32` as the compound
//! `{r, i}` that h5py reads as complex64) with its attributes, and the `segments` table
//! that maps rows to sample indices and UTC time (one row at the start and after every
//! gap or time change).

use flow_framework::prelude::*;
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, File, H5Type, Location};

/// One row of `segments`: row `position` of `samples` has sample index `sample_index`
/// and was sampled at `time_ns` (ns since the Unix epoch); following rows are 1/rate apart.
#[derive(H5Type, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Segment {
    /// Row in `samples`.
    pub position: u64,
    /// Sample index of that row.
    pub sample_index: u64,
    /// Its time, ns since the Unix epoch.
    pub time_ns: i64,
}

/// What the attributes of a stream file say.
#[derive(Clone, Debug, Default)]
pub struct StreamInfo {
    /// Item type (`c32`, `f32`, ...).
    pub item: Option<ItemType>,
    /// Sample rate in Hz (NaN if unknown).
    pub rate: f64,
    /// Time of the file's first sample, ns since the Unix epoch.
    pub start_time_ns: i64,
    /// Sample index of the file's first sample.
    pub start_index: u64,
    /// Centre frequency in Hz (NaN if unknown).
    pub frequency_hz: f64,
    /// Units of the sample values.
    pub units: String,
    /// Where the time came from.
    pub time_source: String,
    /// Block name.
    pub block: String,
}

/// Writes a string attribute.
pub fn str_attr(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    let v: VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("{e}")))?;
    loc.new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&v)
}

/// Writes a scalar attribute.
pub fn attr<T: H5Type>(loc: &Location, name: &str, value: T) -> hdf5::Result<()> {
    loc.new_attr::<T>().create(name)?.write_scalar(&value)
}

/// The `samples` and `segments` datasets of one file.
pub struct StreamDs {
    samples: Dataset,
    segments: Dataset,
    item: ItemType,
    rows: u64,
    segs: u64,
}

impl StreamDs {
    /// Creates the datasets and their attributes in `file` (before SWMR starts).
    pub fn create(file: &File, info: &StreamInfo, chunk: usize) -> hdf5::Result<StreamDs> {
        let item = info.item.unwrap_or(ItemType::C32);
        let b = file.new_dataset_builder().chunk(chunk.max(1));
        let samples = match item {
            ItemType::C32 => b.empty::<C32>().shape(0..).create("samples")?,
            ItemType::F32 => b.empty::<f32>().shape(0..).create("samples")?,
            other => {
                return Err(format!("the hdf5 sink stores c32 or f32 streams, not {other}").into())
            }
        };
        attr(&samples, "sample_rate", info.rate)?;
        attr(&samples, "start_time_ns", info.start_time_ns)?;
        str_attr(
            &samples,
            "start_time",
            &flow_framework::tag::format_unix_ns(info.start_time_ns),
        )?;
        attr(&samples, "start_index", info.start_index)?;
        attr(&samples, "frequency_hz", info.frequency_hz)?;
        str_attr(&samples, "units", &info.units)?;
        str_attr(&samples, "item_type", &item.to_string())?;
        str_attr(&samples, "time_source", &info.time_source)?;
        str_attr(&samples, "flow_version", env!("CARGO_PKG_VERSION"))?;
        str_attr(&samples, "block", &info.block)?;
        let segments = file
            .new_dataset::<Segment>()
            .chunk(1024)
            .shape(0..)
            .create("segments")?;
        Ok(StreamDs {
            samples,
            segments,
            item,
            rows: 0,
            segs: 0,
        })
    }

    /// Appends raw little-endian items of the stream's type.
    pub fn append(&mut self, bytes: &[u8]) -> hdf5::Result<()> {
        let n = (bytes.len() / self.item.size()) as u64;
        if n == 0 {
            return Ok(());
        }
        let (a, b) = (self.rows as usize, (self.rows + n) as usize);
        self.samples.resize(b)?;
        let w = self.samples.as_writer();
        match self.item {
            ItemType::C32 => {
                w.write_slice(&bytemuck::pod_collect_to_vec::<u8, C32>(bytes), a..b)?
            }
            _ => w.write_slice(&bytemuck::pod_collect_to_vec::<u8, f32>(bytes), a..b)?,
        }
        self.rows += n;
        Ok(())
    }

    /// Starts a segment at the next row.
    pub fn segment(&mut self, sample_index: u64, time_ns: i64) -> hdf5::Result<()> {
        let s = Segment {
            position: self.rows,
            sample_index,
            time_ns,
        };
        self.segments.resize(self.segs as usize + 1)?;
        self.segments
            .write_slice(&[s], self.segs as usize..self.segs as usize + 1)?;
        self.segs += 1;
        Ok(())
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes of sample data written.
    pub fn bytes(&self) -> u64 {
        self.rows * self.item.size() as u64
    }
}
