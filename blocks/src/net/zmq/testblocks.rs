//! Test blocks for the ZeroMQ tests: a counting source that tags, and a sink that records
//! items, sample indices and tags where a test can read them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use flow_framework::prelude::*;

/// Parameters of `zt_count`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountParams {
    /// Items to produce (default endless).
    #[serde(default)]
    pub count: Option<u64>,
    /// Item type: i32 or f32 (value = position).
    #[serde(default = "i32_type")]
    pub item: ItemType,
    /// Put a `seq` user tag (value = position) every this many items (0: none).
    #[serde(default)]
    pub tag_every: u64,
}
fn i32_type() -> ItemType {
    ItemType::I32
}

/// The tags `zt_count` puts on the stream besides `seq`.
pub fn fixed_tags() -> Vec<ItemTag> {
    vec![
        ItemTag {
            position: 0,
            tag: Tag::Time {
                ns: 1_700_000_000_250_000_000,
                source: TimeSource::Gpsdo,
            },
        },
        ItemTag {
            position: 0,
            tag: Tag::Rate(48_000.0),
        },
        ItemTag {
            position: 1000,
            tag: Tag::Freq(10e6),
        },
        ItemTag {
            position: 5000,
            tag: Tag::User("label".into(), Value::Str("WWV".into())),
        },
        ItemTag {
            position: 7000,
            tag: Tag::Gap(5),
        },
    ]
}

struct Count {
    p: CountParams,
    next: u64,
}

impl Block for Count {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let out = &mut io.outputs[0];
        let left = self.p.count.map_or(u64::MAX, |c| c - self.next);
        let n = (out.space() as u64).min(left).min(4096) as usize;
        let start = self.next;
        match self.p.item {
            ItemType::F32 => {
                for (k, x) in out.slice_mut::<f32>()[..n].iter_mut().enumerate() {
                    *x = (start + k as u64) as f32;
                }
            }
            _ => {
                for (k, x) in out.slice_mut::<i32>()[..n].iter_mut().enumerate() {
                    *x = (start + k as u64) as i32;
                }
            }
        }
        for t in fixed_tags() {
            if (start..start + n as u64).contains(&t.position) {
                out.add_tag((t.position - start) as usize, t.tag);
            }
        }
        if self.p.tag_every > 0 {
            for pos in start..start + n as u64 {
                if pos % self.p.tag_every == 0 {
                    out.add_tag(
                        (pos - start) as usize,
                        Tag::User("seq".into(), Value::I64(pos as i64)),
                    );
                }
            }
        }
        out.produce(n);
        self.next += n as u64;
        Ok(if Some(self.next) == self.p.count {
            Flow::Done
        } else {
            Flow::Continue
        })
    }
}

struct CountDef;
impl BlockDef for CountDef {
    type Params = CountParams;
    const NAME: &'static str = "zt_count";
    const SUMMARY: &'static str = "test: counts and tags";
    const DOC: &'static str = "test";
    const EXAMPLE: &'static str = "";
    fn signature(p: &CountParams) -> Signature {
        Signature::new().output("out", p.item).manual_tags()
    }
    fn build(p: &CountParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Count {
            p: p.clone(),
            next: 0,
        }))
    }
}
register_block!(CountDef);

/// What `zt_collect` recorded.
#[derive(Default, Clone, Debug)]
pub struct Collected {
    /// Item values (as f64).
    pub values: Vec<f64>,
    /// Sample index of each item.
    pub indices: Vec<u64>,
    /// Tags with positions.
    pub tags: Vec<ItemTag>,
}

fn store() -> &'static Mutex<HashMap<String, Collected>> {
    static S: OnceLock<Mutex<HashMap<String, Collected>>> = OnceLock::new();
    S.get_or_init(Default::default)
}

/// What the `zt_collect` block with `key` has recorded so far.
pub fn collected(key: &str) -> Collected {
    store()
        .lock()
        .unwrap()
        .get(key)
        .cloned()
        .unwrap_or_default()
}

/// Parameters of `zt_collect`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectParams {
    /// Where to record (unique per test).
    pub key: String,
}

struct Collect {
    key: String,
}

impl Block for Collect {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = &mut io.inputs[0];
        let values: Vec<f64> = match input.item_type() {
            ItemType::F32 => input.slice::<f32>().iter().map(|x| f64::from(*x)).collect(),
            _ => input.slice::<i32>().iter().map(|x| f64::from(*x)).collect(),
        };
        let end = input.position() + values.len() as u64;
        let mut s = store().lock().unwrap();
        let c = s.entry(self.key.clone()).or_default();
        for k in 0..values.len() {
            c.indices.push(input.sample_index(k));
        }
        c.values.extend(values.iter());
        c.tags
            .extend(input.tags().iter().filter(|t| t.position < end).cloned());
        input.consume(values.len());
        Ok(Flow::Continue)
    }
}

struct CollectDef;
impl BlockDef for CollectDef {
    type Params = CollectParams;
    const NAME: &'static str = "zt_collect";
    const SUMMARY: &'static str = "test: records";
    const DOC: &'static str = "test";
    const EXAMPLE: &'static str = "";
    fn signature(_: &CollectParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .generic_types(&[ItemType::I32, ItemType::F32])
            .manual_tags()
    }
    fn build(p: &CollectParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Collect { key: p.key.clone() }))
    }
}
register_block!(CollectDef);

/// A free TCP port on loopback (bound and released; good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[cfg(test)]
mod tests {
    use flow_framework::harness::Harness;
    use flow_framework::tag::Tag;

    #[test]
    fn the_counting_source_counts_and_tags() {
        let mut h = Harness::new("zt_count", "count = 8000\ntag_every = 4000", &[]).unwrap();
        assert!(h.run());
        let out = h.output::<i32>(0);
        assert_eq!(out, (0..8000).collect::<Vec<i32>>());
        let tags: Vec<_> = h
            .output_tags(0)
            .iter()
            .filter(|t| t.tag != Tag::Eos)
            .collect();
        assert_eq!(tags.len(), super::fixed_tags().len() + 2, "{tags:?}");
    }
}
