//! The binary archive: seed 000's minute files of raw complex64 with JSON sidecars and
//! SigMF metadata, written by sample position, recoverable after any crash.
//!
//! | module | purpose |
//! |---|---|
//! | [`binary_archive`] | the block |
//! | [`binary_archive_params`] | its parameters and their validation |
//! | [`placement`] | stream time → (minute, offset) on the archive's sample grid |
//! | [`minute_file`] | one minute file: positional writes, resume, finalize |
//! | [`journal`] | written-ranges journal of an open minute |
//! | [`ranges`] | sets of sample ranges |
//! | [`sidecar`] | the JSON sidecar |
//! | [`sigmf`] | the SigMF metadata |
//! | [`recovery`] | finalizing minutes an earlier run left open |
//! | [`retention`] | the minutes as units for storage limits |
//! | [`compress`] | optional background zstd compression of finished minutes |

pub mod binary_archive;
pub mod binary_archive_params;
pub mod compress;
pub mod journal;
pub mod minute_file;
pub mod placement;
pub mod ranges;
pub mod recovery;
pub mod retention;
pub mod sidecar;
pub mod sigmf;
