//! GRAPE blocks: time-station simulation (`wwv_sim`), tone detection (`tone_detect`) and the
//! end-of-run report (`grape_summary`)
//! for measuring a receiver's clock offset from WWV, WWVH and CHU (see docs/grape.md).

pub mod discriminate;
pub mod envelope;
pub mod grape_summary;
pub mod minute;
pub mod onset_fit;
pub mod pattern;
pub mod schedule;
pub mod synth;
pub mod tone_detect;
pub mod wwv_sim;
