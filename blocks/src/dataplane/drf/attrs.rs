//! The attributes Digital RF 2.x puts on `drf_properties.h5` and on every `rf_data`
//! dataset, with the types the `digital_rf` package writes (u64 cadences and rates, i32
//! flags, fixed-length ASCII strings).

use hdf5::Location;

use crate::dataplane::h5::raw::fixed_ascii_attr;
use crate::dataplane::h5::stream::attr;

/// The Digital RF version this writer follows.
pub const DRF_VERSION: &str = "2.6.0";

/// The standard description every Digital RF file carries.
pub const TIME_DESCRIPTION: &str = "All times in this format are in number of samples since the epoch in the epoch attribute.  The first sample time will be sample_rate * UTC time at first sample.  Attribute init_utc_timestamp records this init UTC time so that a conversion to any other time is possible given the number of leapseconds difference at init_utc_timestamp.  Leapseconds that occur during data recording are included in the data.";

/// The properties of a Digital RF channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelProps {
    /// Sample rate numerator (Hz = numerator / denominator).
    pub rate_num: u64,
    /// Sample rate denominator.
    pub rate_den: u64,
    /// Seconds per subdirectory.
    pub subdir_cadence_secs: u64,
    /// Milliseconds per file.
    pub file_cadence_ms: u64,
    /// Subchannels (columns of `rf_data`).
    pub num_subchannels: u32,
    /// An identifier of the recording.
    pub uuid: String,
}

impl ChannelProps {
    /// Samples per second.
    pub fn rate(&self) -> f64 {
        self.rate_num as f64 / self.rate_den as f64
    }
}

/// Writes the channel-wide attributes (those of `drf_properties.h5`) on `loc`: complex64
/// samples, not continuous (gaps are recorded in `rf_data_index`).
pub fn write_common(loc: &Location, p: &ChannelProps) -> hdf5::Result<()> {
    // H5T description of one component of the complex64 samples (a 32-bit LE float).
    attr(loc, "H5Tget_class", 1u64)?;
    attr(loc, "H5Tget_offset", 0u64)?;
    attr(loc, "H5Tget_order", 0u64)?;
    attr(loc, "H5Tget_precision", 32u64)?;
    attr(loc, "H5Tget_size", 4u64)?;
    fixed_ascii_attr(loc, "digital_rf_time_description", TIME_DESCRIPTION)?;
    fixed_ascii_attr(loc, "digital_rf_version", DRF_VERSION)?;
    fixed_ascii_attr(loc, "epoch", "1970-01-01T00:00:00Z")?;
    attr(loc, "file_cadence_millisecs", p.file_cadence_ms)?;
    attr(loc, "is_complex", 1i32)?;
    attr(loc, "is_continuous", 0i32)?;
    attr(loc, "num_subchannels", p.num_subchannels as i32)?;
    attr(loc, "sample_rate_denominator", p.rate_den)?;
    attr(loc, "sample_rate_numerator", p.rate_num)?;
    attr(loc, "subdir_cadence_secs", p.subdir_cadence_secs)
}

/// Writes the per-file attributes of `rf_data` besides the common ones.
pub fn write_file_attrs(
    loc: &Location,
    p: &ChannelProps,
    init_utc: u64,
    sequence: i32,
) -> hdf5::Result<()> {
    write_common(loc, p)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    attr(loc, "computer_time", now)?;
    attr(loc, "init_utc_timestamp", init_utc)?;
    attr(loc, "sequence_num", sequence)?;
    fixed_ascii_attr(loc, "uuid_str", &p.uuid)
}
