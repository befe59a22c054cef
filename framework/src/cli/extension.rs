//! Subcommands contributed by other crates (`flow bench ring`, `flow convert`): each is
//! registered with [`register_command!`](crate::register_command) under a name of one or
//! more words and receives the arguments after its name. `flow help` lists them.

use std::ffi::OsString;
use std::process::ExitCode;

/// A subcommand registered by a block crate.
pub struct Extension {
    /// Its words, e.g. `"bench ring"` or `"convert"`.
    pub name: &'static str,
    /// One line for `flow help`.
    pub about: &'static str,
    /// Runs it with the arguments after its name (parse them with clap, print `--help`).
    pub run: fn(&[OsString]) -> ExitCode,
}

inventory::collect!(Extension);

/// Registers an [`Extension`] subcommand.
#[macro_export]
macro_rules! register_command {
    ($name:expr, $about:expr, $run:expr) => {
        $crate::inventory::submit! { $crate::cli::extension::Extension { name: $name, about: $about, run: $run } }
    };
}

/// Every registered extension, sorted by name.
pub fn all() -> Vec<&'static Extension> {
    let mut v: Vec<_> = inventory::iter::<Extension>.into_iter().collect();
    v.sort_by_key(|e| e.name);
    v
}

/// The `flow help` section listing the extensions (empty without any).
pub fn help_section() -> String {
    let all = all();
    if all.is_empty() {
        return String::new();
    }
    let mut s = String::from("More commands:\n");
    for e in all {
        s.push_str(&format!("  {:<18} {}\n", e.name, e.about));
    }
    s
}

/// Runs the extension whose words start `args` (the longest match).
pub fn dispatch(args: &[OsString], err: &mut dyn std::io::Write) -> ExitCode {
    let words: Vec<&str> = args.iter().map(|a| a.to_str().unwrap_or("")).collect();
    let best = all()
        .into_iter()
        .filter(|e| {
            let n: Vec<&str> = e.name.split(' ').collect();
            words.len() >= n.len() && words[..n.len()] == n[..]
        })
        .max_by_key(|e| e.name.split(' ').count());
    match best {
        Some(e) => (e.run)(&args[e.name.split(' ').count()..]),
        None => {
            let first = words.first().copied().unwrap_or("");
            let under: Vec<&str> = all()
                .into_iter()
                .map(|e| e.name)
                .filter(|n| n.split(' ').next() == Some(first))
                .collect();
            if under.is_empty() {
                let _ = writeln!(
                    err,
                    "error: unknown command `{first}`; `flow help` lists the commands"
                );
            } else {
                let _ = writeln!(
                    err,
                    "error: `flow {first}` needs one of: {}",
                    under.join(", ")
                );
            }
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seven(args: &[OsString]) -> ExitCode {
        ExitCode::from(if args == ["--x"] { 7 } else { 8 })
    }
    crate::register_command!("t-ext sub", "A test command.", seven);

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn dispatches_by_words_and_explains_misses() {
        let mut err = Vec::new();
        assert_eq!(
            dispatch(&os(&["t-ext", "sub", "--x"]), &mut err),
            ExitCode::from(7)
        );
        assert_eq!(
            dispatch(&os(&["t-ext", "nope"]), &mut err),
            ExitCode::from(2)
        );
        assert_eq!(dispatch(&os(&["zzz"]), &mut err), ExitCode::from(2));
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "error: `flow t-ext` needs one of: t-ext sub\nerror: unknown command `zzz`; `flow help` lists the commands\n"
        );
        assert!(help_section().contains("t-ext sub          A test command."));
    }
}
