//! Digital RF 2.x output (feature `hdf5`): channel attributes, the sample writer and the
//! Digital Metadata writer GRAPE uploads to HamSCI PSWS need.

pub mod attrs;
pub mod metadata;
pub mod retention;
pub mod writer;
