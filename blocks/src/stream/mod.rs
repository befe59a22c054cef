//! Stream plumbing blocks: `copy`, `head`, `throttle`, `multiply_const`, `add`.

pub mod add;
pub mod copy;
pub mod head;
pub mod multiply_const;
pub mod throttle;
