//! DSP blocks: filtering and rate change.

pub mod decimate;
pub mod fir_chain;
pub mod fir_design;
