//! `tag_debug`: a probe that prints every stream tag and the item rate.

use std::io::Write;
use std::time::{Duration, Instant};

use flow_framework::prelude::*;

/// Parameters of `tag_debug`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagDebugParams {
    /// Print every tag as it passes.
    #[serde(default = "yes")]
    pub tags: bool,
    /// Print the item rate this often (`"0s"` turns it off).
    #[serde(default = "default_interval", with = "humantime_serde_str")]
    #[schemars(with = "String")]
    pub interval: Duration,
}

fn yes() -> bool {
    true
}
fn default_interval() -> Duration {
    Duration::from_secs(1)
}

/// Serde helpers for durations written as `"1s"`, `"250ms"`.
mod humantime_serde_str {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Prints tags and rates, consumes everything.
pub struct TagDebug {
    p: TagDebugParams,
    name: String,
    last_report: Option<Instant>,
    items_since: u64,
    items: Counter,
    tags: Counter,
}

impl Block for TagDebug {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.name = ctx.name().to_string();
        self.items = ctx.counter("items");
        self.tags = ctx.counter("tags");
        Ok(())
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        // Tags on the end-of-stream position (eos, a final gap) arrive here.
        self.print_tags(&io.inputs[0])
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        self.print_tags(&io.inputs[0])?;
        let input = &mut io.inputs[0];
        let n = input.len();
        let mut out = std::io::stdout().lock();
        input.consume(n);
        self.items.add(n as u64);
        self.items_since += n as u64;
        let now = Instant::now();
        let last = *self.last_report.get_or_insert(now);
        if !self.p.interval.is_zero() && now.duration_since(last) >= self.p.interval {
            let rate = self.items_since as f64 / now.duration_since(last).as_secs_f64();
            writeln!(
                out,
                "tag_debug[{}] {:.0} items/s, {} items in all",
                self.name,
                rate,
                self.items.get()
            )
            .map_err(|e| BlockError::io("writing standard output", e))?;
            self.items_since = 0;
            self.last_report = Some(now);
        }
        Ok(Flow::Continue)
    }
}

impl TagDebug {
    fn print_tags(&self, input: &StreamInput) -> Result<(), BlockError> {
        let mut out = std::io::stdout().lock();
        for t in input.tags() {
            self.tags.inc();
            if self.p.tags {
                let index = input.sample_index((t.position - input.position()) as usize);
                writeln!(
                    out,
                    "tag_debug[{}] position={} index={} {}",
                    self.name, t.position, index, t.tag
                )
                .map_err(|e| BlockError::io("writing standard output", e))?;
            }
        }
        Ok(())
    }
}

/// Registration of `tag_debug`.
pub struct TagDebugDef;

impl BlockDef for TagDebugDef {
    type Params = TagDebugParams;
    const NAME: &'static str = "tag_debug";
    const SUMMARY: &'static str =
        "Probe: prints every stream tag and the item rate (any item type).";
    const DOC: &'static str =
        "Input `in` (T). Prints `tag_debug[NAME] position=P index=I TAG` for \
        every tag (position in the stream, sample index counting gaps) and the item rate every \
        `interval`, to standard output. Consumes everything; counters `items` and `tags`.";
    const EXAMPLE: &'static str = "tags = true\ninterval = \"1s\"";

    fn signature(_: &TagDebugParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .manual_tags()
    }

    fn build(p: &TagDebugParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(TagDebug {
            p: p.clone(),
            name: String::new(),
            last_report: None,
            items_since: 0,
            items: Counter::default(),
            tags: Counter::default(),
        }))
    }
}

register_block!(TagDebugDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn counts_items_and_tags() {
        let p: TagDebugParams = toml::from_str("interval = \"0s\"").unwrap();
        let mut h = Harness::of::<TagDebugDef>(p, &[ItemType::F32]).unwrap();
        h.push_tag(0, 0, Tag::Rate(1.0));
        h.push_tag(0, 5, Tag::Gap(3));
        h.push_input(0, &[0.0f32; 10]);
        h.run_to_end().unwrap();
        assert_eq!(h.counter("items"), 10);
        assert_eq!(h.counter("tags"), 3, "rate, gap and the end-of-stream tag");
    }
}
