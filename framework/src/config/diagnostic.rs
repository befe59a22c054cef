//! Load-time problems with a flowgraph file: [`Diagnostic`] (one problem, with its
//! `file:line:column`, the source line, a caret and an optional help line) and
//! [`Diagnostics`] (all problems of one load, reported together). Their `Display` renders
//! like rustc and cargo do.

use std::fmt;

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The file could not be read.
    Io,
    /// The file is not valid TOML.
    Syntax,
    /// A `--set KEY=VALUE` argument is malformed or cannot be applied.
    Override,
    /// `${VAR}` interpolation failed (unset variable, malformed reference).
    Interpolation,
    /// A key that flow does not know (top level, `[flowgraph]`, block options).
    UnknownKey,
    /// A value of the wrong type or out of range for a flowgraph or block option.
    InvalidOption,
    /// The flowgraph has no blocks.
    NoBlocks,
    /// A block name that cannot be used (contains `.`).
    BadBlockName,
    /// A block without `type`.
    MissingType,
    /// A `type` that no registered block has.
    UnknownBlockType,
    /// A parameter the block type does not take.
    UnknownParam,
    /// A required parameter that is not given.
    MissingParam,
    /// A parameter value the block's params struct rejects.
    BadValue,
    /// A problem found by the block's own validation.
    Invalid,
    /// `inputs` names a block that does not exist.
    UnknownBlock,
    /// `inputs` or `policy` names a port that does not exist.
    UnknownPort,
    /// A stream connected to a message port, or the other way round.
    KindMismatch,
    /// An output whose item type differs from the input it feeds.
    TypeMismatch,
    /// A generic block whose item type cannot be inferred.
    UnresolvedType,
    /// A required input without a connection.
    Unconnected,
    /// An input with more than one connection.
    ConnectedTwice,
    /// The connections form a loop.
    Cycle,
    /// An explicit `buffer` too small for the ports it serves.
    BufferTooSmall,
    /// A bug in flow itself (please report it).
    Internal,
}

/// The source line a diagnostic points into, with the caret position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    /// The text of the line (without its line break).
    pub text: String,
    /// Number of carets to draw under the line, starting at the diagnostic's column.
    pub width: usize,
}

/// One problem found while loading a flowgraph.
///
/// `line` and `column` are 1-based (columns count characters); both are 0 when the problem
/// has no place in the file (a `--set` argument, an unreadable file), in which case `file`
/// names what it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (as given on the command line), or `--set KEY=VALUE` for an override.
    pub file: String,
    /// 1-based line, 0 if none.
    pub line: usize,
    /// 1-based column in characters, 0 if none.
    pub column: usize,
    /// What kind of problem this is.
    pub kind: DiagnosticKind,
    /// What is wrong, naming the block, parameter or port.
    pub message: String,
    /// How to fix it (`did you mean ...?`), if flow knows.
    pub help: Option<String>,
    /// The source line and caret.
    pub snippet: Option<Snippet>,
}

impl Diagnostic {
    /// A diagnostic without a place in a file (`file` says what it is about).
    pub fn unplaced(
        file: impl Into<String>,
        kind: DiagnosticKind,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line: 0,
            column: 0,
            kind,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    /// Sets the help line.
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line if there is one.
    pub fn maybe_help(&mut self, help: Option<String>) -> &mut Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.file, self.line, self.column, self.message
            )?;
        } else {
            write!(f, "{}: error: {}", self.file, self.message)?;
        }
        let gutter = if self.line > 0 {
            self.line.to_string().len()
        } else {
            1
        };
        let pad = " ".repeat(gutter);
        if let Some(s) = &self.snippet {
            // Keep tabs in the caret line so the caret lands under the right character.
            let lead: String = s
                .text
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{} | {}", self.line, s.text)?;
            write!(f, "\n{pad} | {lead}{}", "^".repeat(s.width.max(1)))?;
        }
        if let Some(h) = &self.help {
            write!(f, "\n{pad} = help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Every problem found in one load, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// The problems of one kind.
    pub fn of_kind(&self, kind: DiagnosticKind) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(move |d| d.kind == kind)
    }

    /// A closing line: `3 errors in FILE` (or `1 error`).
    pub fn summary(&self, file: &str) -> String {
        let n = self.len();
        format!("{n} error{} in {file}", if n == 1 { "" } else { "s" })
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc_with_snippet_caret_and_help() {
        let d = Diagnostic {
            file: "fg.toml".into(),
            line: 12,
            column: 1,
            kind: DiagnosticKind::UnknownParam,
            message: "unknown parameter `frequncy`".into(),
            help: Some("did you mean `frequency`?".into()),
            snippet: Some(Snippet {
                text: "frequncy = 1000.0".into(),
                width: 8,
            }),
        };
        assert_eq!(
            d.to_string(),
            "fg.toml:12:1: error: unknown parameter `frequncy`\n   |\n12 | frequncy = 1000.0\n   | ^^^^^^^^\n   = help: did you mean `frequency`?"
        );
    }

    #[test]
    fn unplaced_diagnostic_names_its_subject_and_tabs_keep_caret_aligned() {
        let mut d = Diagnostic::unplaced("--set x", DiagnosticKind::Override, "expected KEY=VALUE");
        d.help("write `--set blocks.NAME.PARAM=VALUE`");
        assert_eq!(
            d.to_string(),
            "--set x: error: expected KEY=VALUE\n  = help: write `--set blocks.NAME.PARAM=VALUE`"
        );
        let t = Diagnostic {
            file: "f".into(),
            line: 3,
            column: 3,
            kind: DiagnosticKind::BadValue,
            message: "m".into(),
            help: None,
            snippet: Some(Snippet {
                text: "\tx=1".into(),
                width: 1,
            }),
        };
        assert_eq!(t.to_string(), "f:3:3: error: m\n  |\n3 | \tx=1\n  | \t ^");
        let all = Diagnostics(vec![d.clone(), d]);
        assert_eq!(all.summary("a.toml"), "2 errors in a.toml");
        assert_eq!(all.to_string().matches("error:").count(), 2);
    }
}
