//! Streaming multistage decimation with gaps: each stage runs futuredsp's decimating FIR over
//! its history buffer, and missing input is handled in index space.
//!
//! # Index convention (zero delay)
//!
//! Every stage is primed so that its output `k` is the filter *centred* on its input sample
//! `k·d`: the output represents the signal at that instant, with the filter's group delay
//! already removed. Through a chain, output `m` is centred on chain input `m·D`. Samples
//! outside the data (before the start, inside a gap, after the end) count as zeros in the
//! filter, so outputs within half a filter of an edge are attenuated.
//!
//! # Gaps
//!
//! An output whose centre falls on a missing input sample is not produced: a gap of `g`
//! input samples starting at `v` becomes a gap of the outputs centred in `[v, v+g)`, i.e.
//! `⌈(v+g)/d⌉ − ⌈v/d⌉` outputs (about `g/d`), so output index keeps matching input index.
//! A long gap is skipped without filtering zeros through it. Outputs centred before the
//! first or after the last input sample are skipped silently ([`Out::Skip`]).

use futuredsp::{DecimatingFirFilter, Filter};

use super::fir_design::StageDesign;

/// What a stage (or the chain) emits, in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Out<T> {
    /// The next output sample.
    Item(T),
    /// This many outputs are missing (their centre fell in a gap).
    Gap(u64),
    /// This many output indices pass without data outside the stream (lead-in, flush).
    Skip(u64),
}

fn push_missing<T>(out: &mut Vec<Out<T>>, n: u64, silent: bool) {
    if n == 0 {
        return;
    }
    match (out.last_mut(), silent) {
        (Some(Out::Gap(g)), false) | (Some(Out::Skip(g)), true) => *g += n,
        (_, false) => out.push(Out::Gap(n)),
        (_, true) => out.push(Out::Skip(n)),
    }
}

/// A missing range of a stage's input indices.
#[derive(Clone, Copy, Debug)]
struct Missing {
    from: i64,
    to: i64,
    silent: bool,
}

/// One decimating stage.
pub struct Stage<T> {
    d: i64,
    n_taps: usize,
    history: i64,
    fir: DecimatingFirFilter<T, T, Vec<f32>>,
    buf: Vec<T>,
    buf_start: i64,
    next_k: i64,
    missing: Vec<Missing>,
    scratch: Vec<T>,
}

impl<T> Stage<T>
where
    T: Copy + Default,
    DecimatingFirFilter<T, T, Vec<f32>>: Filter<T, T, f32>,
{
    /// A stage from its design.
    pub fn new(s: &StageDesign) -> Self {
        let d = s.factor.max(1) as i64;
        let half = (s.taps.len() as i64 - 1) / 2;
        // futuredsp's output j is centred on buf[d-1 + half + j·d]: prime with that many zeros
        let history = d - 1 + half;
        Stage {
            d,
            n_taps: s.taps.len(),
            history,
            fir: DecimatingFirFilter::new(s.factor.max(1), s.taps.clone()),
            buf: vec![T::default(); history as usize],
            buf_start: -history,
            next_k: 0,
            missing: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn input_end(&self) -> i64 {
        self.buf_start + self.buf.len() as i64
    }

    /// Appends input samples.
    pub fn push(&mut self, x: &[T], out: &mut Vec<Out<T>>) {
        self.buf.extend_from_slice(x);
        self.run(out);
    }

    /// `g` input samples are missing here; `silent` ones are not reported as a gap.
    pub fn gap(&mut self, g: u64, silent: bool, out: &mut Vec<Out<T>>) {
        if g == 0 {
            return;
        }
        let v = self.input_end();
        let resume = v.saturating_add(i64::try_from(g).unwrap_or(i64::MAX / 4));
        self.missing.push(Missing {
            from: v,
            to: resume,
            silent,
        });
        let short = (self.n_taps as i64 + 2 * self.d) as u64;
        if g <= short {
            self.buf.resize(self.buf.len() + g as usize, T::default());
            self.run(out);
            return;
        }
        // Filter zeros only until every output centred before the gap is out, then jump.
        self.buf
            .resize(self.buf.len() + self.n_taps + self.d as usize, T::default());
        self.run(out);
        let k_first = resume.div_euclid(self.d) + i64::from(resume.rem_euclid(self.d) != 0);
        push_missing(out, (k_first - self.next_k).max(0) as u64, silent);
        self.next_k = self.next_k.max(k_first);
        self.buf_start = self.next_k * self.d - self.history;
        self.buf.clear();
        self.buf
            .resize((resume - self.buf_start).max(0) as usize, T::default());
        self.missing.retain(|m| m.to > self.next_k * self.d);
    }

    /// End of input: emits every output centred on a real sample.
    pub fn finish(&mut self, out: &mut Vec<Out<T>>) {
        let end = self.input_end();
        self.missing.push(Missing {
            from: end,
            to: i64::MAX,
            silent: true,
        });
        self.buf
            .resize(self.buf.len() + self.n_taps + self.d as usize, T::default());
        self.run(out);
    }

    fn run(&mut self, out: &mut Vec<Out<T>>) {
        let max_out = self.buf.len() / self.d as usize + 1;
        if self.scratch.len() < max_out {
            self.scratch.resize(max_out, T::default());
        }
        let (consumed, produced, _) = self.fir.filter(&self.buf, &mut self.scratch);
        for j in 0..produced {
            let centre = (self.next_k + j as i64) * self.d;
            while self.missing.first().is_some_and(|m| m.to <= centre) {
                self.missing.remove(0);
            }
            match self.missing.first() {
                Some(m) if m.from <= centre => push_missing(out, 1, m.silent),
                _ => out.push(Out::Item(self.scratch[j])),
            }
        }
        self.buf.drain(..consumed);
        self.buf_start += consumed as i64;
        self.next_k += produced as i64;
    }
}

/// Stages in series.
pub struct Chain<T> {
    stages: Vec<Stage<T>>,
    tmp: Vec<Vec<Out<T>>>,
    run: Vec<T>,
}

impl<T> Chain<T>
where
    T: Copy + Default,
    DecimatingFirFilter<T, T, Vec<f32>>: Filter<T, T, f32>,
{
    /// A chain of the designed stages (none: identity).
    pub fn new(designs: &[StageDesign]) -> Self {
        Chain {
            stages: designs.iter().map(Stage::new).collect(),
            tmp: designs.iter().map(|_| Vec::new()).collect(),
            run: Vec::new(),
        }
    }

    /// Feeds input samples; outputs are appended to `out`.
    pub fn push(&mut self, x: &[T], out: &mut Vec<Out<T>>) {
        self.feed(
            |s, o| s.push(x, o),
            |o| o.extend(x.iter().map(|v| Out::Item(*v))),
            out,
        );
    }

    /// `g` input samples are missing (`silent`: outside the stream, not reported as a gap).
    pub fn gap(&mut self, g: u64, silent: bool, out: &mut Vec<Out<T>>) {
        self.feed(
            |s, o| s.gap(g, silent, o),
            |o| push_missing(o, g, silent),
            out,
        );
    }

    /// End of input: flushes every stage.
    pub fn finish(&mut self, out: &mut Vec<Out<T>>) {
        for k in 0..self.stages.len() {
            let mut o = std::mem::take(&mut self.tmp[k]);
            o.clear();
            self.stages[k].finish(&mut o);
            self.forward(k + 1, &o, out);
            self.tmp[k] = o;
        }
    }

    fn feed(
        &mut self,
        first: impl FnOnce(&mut Stage<T>, &mut Vec<Out<T>>),
        identity: impl FnOnce(&mut Vec<Out<T>>),
        out: &mut Vec<Out<T>>,
    ) {
        if self.stages.is_empty() {
            identity(out);
            return;
        }
        let mut o = std::mem::take(&mut self.tmp[0]);
        o.clear();
        first(&mut self.stages[0], &mut o);
        self.forward(1, &o, out);
        self.tmp[0] = o;
    }

    /// Passes stage `k-1`'s events through stages `k..`.
    fn forward(&mut self, k: usize, events: &[Out<T>], out: &mut Vec<Out<T>>) {
        if k >= self.stages.len() {
            for e in events {
                match *e {
                    Out::Item(v) => out.push(Out::Item(v)),
                    Out::Gap(n) => push_missing(out, n, false),
                    Out::Skip(n) => push_missing(out, n, true),
                }
            }
            return;
        }
        let mut o = std::mem::take(&mut self.tmp[k]);
        o.clear();
        let mut run = std::mem::take(&mut self.run);
        run.clear();
        for e in events {
            match *e {
                Out::Item(v) => run.push(v),
                Out::Gap(n) | Out::Skip(n) => {
                    if !run.is_empty() {
                        self.stages[k].push(&run, &mut o);
                        run.clear();
                    }
                    self.stages[k].gap(n, matches!(e, Out::Skip(_)), &mut o);
                }
            }
        }
        if !run.is_empty() {
            self.stages[k].push(&run, &mut o);
        }
        self.run = run;
        self.forward(k + 1, &o, out);
        self.tmp[k] = o;
    }
}
