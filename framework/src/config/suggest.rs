//! "Did you mean" suggestions for misspelt names (block types, parameters, blocks, ports,
//! keys), by edit distance.

/// The candidate closest to `word`, if one is close enough to be a likely misspelling.
pub fn closest<'a, I, S>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    if word.is_empty() {
        return None;
    }
    let w = word.to_lowercase();
    let limit = (w.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| c.as_ref())
        .filter(|c| !c.is_empty() && *c != word)
        .filter_map(|c| {
            let d = strsim::damerau_levenshtein(&w, &c.to_lowercase());
            let close = (d <= limit && d < w.chars().count())
                || strsim::jaro_winkler(&w, &c.to_lowercase()) >= 0.9;
            close.then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// `did you mean `x`?` for the closest candidate.
pub fn did_you_mean<'a, I, S>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `` `a`, `b`, `c` `` for a help line.
pub fn list<'a, I, S>(items: I) -> String
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    items
        .into_iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let c = ["frequency", "amplitude", "rate"];
        assert_eq!(closest("frequncy", &c).as_deref(), Some("frequency"));
        assert_eq!(closest("Frequency", &c).as_deref(), Some("frequency"));
        assert_eq!(closest("rtae", &c).as_deref(), Some("rate"));
        assert_eq!(closest("gain", &c), None);
        assert_eq!(closest("z", &["s", "k"]), None);
        assert_eq!(closest("", &["a"]), None);
        assert_eq!(closest("scr", &["src", "sink"]).as_deref(), Some("src"));
        assert_eq!(
            did_you_mean("outt", &["out"]).as_deref(),
            Some("did you mean `out`?")
        );
        assert_eq!(list(&["a", "b"]), "`a`, `b`");
    }
}
