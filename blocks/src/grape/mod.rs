//! GRAPE blocks: time-station simulation (`wwv_sim`) and tone detection (`tone_detect`)
//! for measuring a receiver's clock offset from WWV, WWVH and CHU (see docs/grape.md).

pub mod schedule;
pub mod synth;
pub mod wwv_sim;
