//! The state of one load: the source text (to turn byte offsets into line:column and
//! snippets), the `--set` arguments (to name them in errors) and the diagnostics collected
//! so far.

use super::diagnostic::{Diagnostic, DiagnosticKind, Snippet};
use super::tree::Origin;

/// Collects diagnostics for one flowgraph text.
pub(crate) struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    line_starts: Vec<usize>,
    sets: &'a [String],
    diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    /// A context for `text`, known as `file` in messages, with these `--set` arguments.
    pub fn new(file: &'a str, text: &'a str, sets: &'a [String]) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Ctx {
            file,
            text,
            line_starts,
            sets,
            diags: Vec::new(),
        }
    }

    /// Records a problem at `origin`; returns it to add a help line.
    pub fn error(
        &mut self,
        kind: DiagnosticKind,
        origin: &Origin,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let d = match origin {
            Origin::File(span) => self.at_span(kind, span.clone(), message.into()),
            Origin::Set(i) => {
                let arg = self.sets.get(*i).map_or("", String::as_str);
                Diagnostic::unplaced(format!("--set {arg}"), kind, message)
            }
        };
        self.diags.push(d);
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn at_span(
        &self,
        kind: DiagnosticKind,
        span: std::ops::Range<usize>,
        message: String,
    ) -> Diagnostic {
        let start = floor_char_boundary(self.text, span.start.min(self.text.len()));
        let line_idx = self
            .line_starts
            .partition_point(|&s| s <= start)
            .saturating_sub(1);
        let line_start = self.line_starts.get(line_idx).copied().unwrap_or(0);
        let line_end = self
            .line_starts
            .get(line_idx + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let line_text = self
            .text
            .get(line_start..line_end)
            .unwrap_or("")
            .trim_end_matches('\r');
        let column = self
            .text
            .get(line_start..start)
            .map_or(0, |s| s.chars().count())
            + 1;
        let end = floor_char_boundary(self.text, span.end.clamp(start, line_end.max(start)));
        let width = self
            .text
            .get(start..end)
            .map_or(1, |s| s.trim_end_matches('\r').chars().count().max(1));
        Diagnostic {
            file: self.file.to_string(),
            line: line_idx + 1,
            column,
            kind,
            message,
            help: None,
            snippet: Some(Snippet {
                text: line_text.to_string(),
                width,
            }),
        }
    }

    /// True when any problem was recorded.
    pub fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// Number of problems recorded so far.
    pub fn count(&self) -> usize {
        self.diags.len()
    }

    /// The file name used in messages.
    pub fn file(&self) -> &str {
        self.file
    }

    /// The diagnostics, `--set` problems first, then in file order.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| (d.line > 0, d.line, d.column));
        self.diags
    }
}

/// The largest char boundary at or below `i`.
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_become_line_column_and_snippet() {
        let text = "a = 1\nbé = \"xyz\"\r\nc = 3";
        let sets = vec!["blocks.x.y=1".to_string()];
        let mut c = Ctx::new("f.toml", text, &sets);
        let start = text.find("\"xyz\"").unwrap();
        c.error(
            DiagnosticKind::BadValue,
            &Origin::File(start..start + 5),
            "bad",
        );
        c.error(DiagnosticKind::Override, &Origin::Set(0), "worse");
        c.error(
            DiagnosticKind::BadValue,
            &Origin::File(1000..1001),
            "past the end",
        );
        let d = c.finish();
        assert_eq!(d[0].file, "--set blocks.x.y=1");
        assert_eq!((d[1].line, d[1].column), (2, 6));
        assert_eq!(d[1].snippet.as_ref().unwrap().text, "bé = \"xyz\"");
        assert_eq!(d[1].snippet.as_ref().unwrap().width, 5);
        assert_eq!((d[2].line, d[2].column), (3, 6));
    }
}
