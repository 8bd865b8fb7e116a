/// Calls `f` with every word of `line`: maximal runs of ASCII letters and digits, lower-cased.
///
/// Bytes outside `[A-Za-z0-9]` (including all non-ASCII bytes) separate words. `buf` is scratch
/// space reused across calls so that no allocation happens per word.
///
/// ```
/// let mut words = Vec::new();
/// let mut buf = String::new();
/// spate_examples::tokenize::for_each_word("Hello, World-42 héllo", &mut buf, |w| words.push(w.to_string()));
/// assert_eq!(words, ["hello", "world", "42", "h", "llo"]);
/// ```
pub fn for_each_word(line: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i > start {
            buf.clear();
            // The run is ASCII, so it is valid UTF-8 on its own.
            buf.push_str(&line[start..i]);
            buf.make_ascii_lowercase();
            f(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        for_each_word(s, &mut String::new(), |w| v.push(w.to_string()));
        v
    }

    #[test]
    fn splits_on_non_alphanumeric() {
        assert_eq!(words("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(words("The END. the_end"), ["the", "end", "the", "end"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("--!!--"), Vec::<String>::new());
        assert_eq!(words("naïve"), ["na", "ve"]);
    }
}
