//! Ports as a block sees them during `work`: typed input and output slices over the stream
//! buffers, their tags, and message queues ([`WorkIo`] holds them all). The runtime refreshes
//! every port before a work call and commits what the block consumed, produced and tagged
//! after it.

mod input;
mod message;
mod output;

use std::sync::atomic::Ordering;

use crate::metrics::BlockMetrics;

pub(crate) use input::InputSource;
pub use input::StreamInput;
pub(crate) use message::MessageTarget;
pub use message::{MessageInput, MessageOutput};
pub use output::StreamOutput;

/// Everything a block reads and writes in one work call.
///
/// The fields are public so a block can borrow an input slice and an output slice at once:
/// `let i = io.inputs[0].slice::<f32>(); let o = io.outputs[0].slice_mut::<f32>();`.
pub struct WorkIo<'a> {
    /// Stream inputs, in signature order.
    pub inputs: &'a mut [StreamInput],
    /// Stream outputs, in signature order.
    pub outputs: &'a mut [StreamOutput],
    /// Message inputs, in signature order.
    pub msg_in: &'a mut [MessageInput],
    /// Message outputs, in signature order.
    pub msg_out: &'a mut [MessageOutput],
}

impl WorkIo<'_> {
    /// True when every stream input is finished and drained, and every message input is
    /// finished: nothing more will arrive. (False for a block without inputs.)
    pub fn inputs_done(&self) -> bool {
        (!self.inputs.is_empty() || !self.msg_in.is_empty())
            && self.inputs.iter().all(|i| i.is_finished() && i.is_empty())
            && self.msg_in.iter().all(MessageInput::is_finished)
    }
}

/// Folds per-call drop counts of outputs into the block metrics.
pub(crate) fn record_output_drops(outputs: &mut [StreamOutput], metrics: &BlockMetrics) -> u64 {
    let mut total = 0;
    for o in outputs {
        total += o.take_dropped();
    }
    if total > 0 {
        metrics.dropped.fetch_add(total, Ordering::Relaxed);
    }
    total
}

#[cfg(test)]
mod tests {
    use crate::harness::Harness;
    use crate::prelude::*;

    /// Parameters of `port_drop_test` (none).
    #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct P {}

    /// In one call: writes 0..3, drops 2, writes 5..8; then in a second call drops 1 and
    /// in a third writes 9.
    struct DropInCall {
        calls: u32,
    }

    impl Block for DropInCall {
        fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
            let out = &mut io.outputs[0];
            self.calls += 1;
            match self.calls {
                1 => {
                    out.write_live(&[0i32, 1, 2]);
                    out.drop_items(2);
                    out.write_live(&[5i32, 6, 7]);
                }
                2 => out.drop_items(1),
                _ => {
                    assert!(out.live_accepts());
                    out.write_live(&[9i32]);
                    return Ok(Flow::Done);
                }
            }
            Ok(Flow::Continue)
        }
    }

    struct DropInCallDef;
    impl BlockDef for DropInCallDef {
        type Params = P;
        const NAME: &'static str = "port_drop_test";
        const SUMMARY: &'static str = "test";
        const DOC: &'static str = "test";
        const EXAMPLE: &'static str = "";
        fn signature(_: &P) -> Signature {
            Signature::new().output("out", ItemType::I32).live()
        }
        fn build(_: &P, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
            Ok(Box::new(DropInCall { calls: 0 }))
        }
    }

    #[test]
    fn a_drop_inside_a_call_tags_the_item_after_it() {
        let mut h = Harness::of::<DropInCallDef>(P {}, &[]).unwrap();
        h.run_for(std::time::Duration::from_secs(5));
        assert!(h.is_done());
        assert_eq!(h.output::<i32>(0), vec![0, 1, 2, 5, 6, 7, 9]);
        let gaps: Vec<(u64, u64)> = h
            .output_tags(0)
            .iter()
            .filter_map(|t| match t.tag {
                Tag::Gap(n) => Some((t.position, n)),
                _ => None,
            })
            .collect();
        // Item 3 (value 5) follows the 2 dropped; item 6 (value 9) follows 1 more.
        assert_eq!(gaps, vec![(3, 2), (6, 1)]);
        assert_eq!(
            h.metrics()
                .dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            3
        );
    }
}
