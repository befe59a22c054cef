//! `message_strobe`: emits numbered messages at a steady rate or as fast as downstream
//! takes them, for trying and testing message sinks.

use std::time::{Duration, Instant};

use flow_framework::metrics::unix_now_ns;
use flow_framework::prelude::*;

/// Parameters of `message_strobe`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageStrobeParams {
    /// The `kind` of the messages.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Messages per second (absent: as fast as downstream takes them).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Stop after this many messages (absent: until stopped).
    #[serde(default)]
    pub count: Option<u64>,
}

fn default_kind() -> String {
    "measurement".into()
}

/// Most messages per work call.
const CHUNK: u64 = 1024;

/// Posts `{time, seq, value}` messages.
pub struct MessageStrobe {
    p: MessageStrobeParams,
    next: u64,
    started: Option<Instant>,
}

impl Block for MessageStrobe {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let left = self
            .p
            .count
            .map_or(u64::MAX, |c| c.saturating_sub(self.next));
        if left == 0 {
            return Ok(Flow::Done);
        }
        let mut n = CHUNK.min(left);
        if let Some(rate) = self.p.rate {
            let t0 = *self.started.get_or_insert_with(Instant::now);
            let due = (t0.elapsed().as_secs_f64() * rate) as u64 + 1;
            n = n.min(due.saturating_sub(self.next));
            if n == 0 {
                let next_at = Duration::from_secs_f64((self.next as f64) / rate);
                let wait = next_at.saturating_sub(t0.elapsed());
                std::thread::sleep(wait.min(Duration::from_millis(10)));
                return Ok(Flow::Continue);
            }
        }
        let now = unix_now_ns();
        for _ in 0..n {
            let m = Message::new(self.p.kind.as_str())
                .with("time", Value::Time(now))
                .with("seq", self.next)
                .with("value", self.next as f64 * 0.001);
            io.msg_out[0].post(m);
            self.next += 1;
        }
        Ok(if Some(self.next) == self.p.count {
            Flow::Done
        } else {
            Flow::Continue
        })
    }
}

/// Registration of `message_strobe`.
pub struct MessageStrobeDef;

impl BlockDef for MessageStrobeDef {
    type Params = MessageStrobeParams;
    const NAME: &'static str = "message_strobe";
    const SUMMARY: &'static str =
        "Emits numbered messages (time, seq, value) at a rate or as fast as possible.";
    const DOC: &'static str = "No inputs. Message output `out`: messages of `kind` with `time` \
        (system clock), `seq` (0, 1, 2, ...) and `value` (seq / 1000). At `rate` per second when \
        given, otherwise as fast as downstream takes them; ends after `count` messages when given.";
    const EXAMPLE: &'static str = "kind = \"measurement\"\nrate = 10.0\ncount = 100";

    fn signature(p: &MessageStrobeParams) -> Signature {
        let s = Signature::new().message_output("out");
        if p.rate.is_some() {
            s.blocking()
        } else {
            s
        }
    }

    fn validate(p: &MessageStrobeParams) -> Vec<ParamError> {
        match p.rate {
            Some(r) if !(r > 0.0 && r.is_finite()) => {
                vec![ParamError::new("rate", "must be a positive number")]
            }
            _ => Vec::new(),
        }
    }

    fn build(p: &MessageStrobeParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(MessageStrobe {
            p: p.clone(),
            next: 0,
            started: None,
        }))
    }
}

register_block!(MessageStrobeDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn emits_count_numbered_messages() {
        let p = MessageStrobeParams {
            kind: "m".into(),
            rate: None,
            count: Some(3000),
        };
        let mut h = Harness::of::<MessageStrobeDef>(p, &[]).unwrap();
        h.run_to_end().unwrap();
        let m = h.messages(0);
        assert_eq!(m.len(), 3000);
        assert!(m
            .iter()
            .enumerate()
            .all(|(i, m)| m.get("seq") == Some(&Value::U64(i as u64))));
        assert_eq!(m[2000].get("value"), Some(&Value::F64(2.0)));
    }
}
