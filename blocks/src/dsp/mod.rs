//! DSP blocks: filtering and rate change.
