//! Glob patterns in paths: `*` (any run of characters) and `?` (one character), within path
//! components (`/data/2024-*/part-?????`). Names starting with `.` or `_` match only a pattern
//! component that starts with the same character, as Hadoop's inputs skip hidden files.

use crate::error::{Error, Result};
use crate::file_system::{is_hidden, FileStatus, FileSystem};
use crate::uri::FsUri;

/// Whether `path` holds glob characters.
pub fn is_glob(path: &str) -> bool {
    path.contains(['*', '?'])
}

/// Whether `name` matches the component pattern `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and the name position it currently covers up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The paths that `pattern` names: its status when it holds no glob characters, else every
/// existing match, sorted by path. No match is [`Error::NotFound`] naming the pattern.
pub fn expand(fs: &dyn FileSystem, pattern: &FsUri) -> Result<Vec<FileStatus>> {
    if !is_glob(&pattern.path) {
        return Ok(vec![fs.status(pattern)?]);
    }
    let parts: Vec<&str> = pattern.path.split('/').collect();
    let first = parts.iter().position(|p| is_glob(p)).unwrap_or(0);
    let base = match parts[..first].join("/") {
        b if b.is_empty() && pattern.path.starts_with('/') => "/".to_string(),
        b if b.is_empty() => ".".to_string(),
        b => b,
    };
    let not_found = || Error::NotFound {
        path: pattern.to_string(),
    };
    let mut current = match fs.status(&pattern.with_path(&base)) {
        Ok(s) => vec![s],
        Err(e) if e.is_not_found() => return Err(not_found()),
        Err(e) => return Err(e),
    };
    for (i, part) in parts.iter().enumerate().skip(first) {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for dir in current.iter().filter(|s| s.is_dir) {
            if part.is_empty() {
                next.push(dir.clone());
            } else if is_glob(part) {
                let entries = match fs.list_dir(&dir.uri) {
                    Ok(entries) => entries,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e),
                };
                let show_hidden = is_hidden(part);
                next.extend(entries.into_iter().filter(|s| {
                    let name = s.uri.file_name();
                    (show_hidden || !is_hidden(name)) && matches(part, name) && (last || s.is_dir)
                }));
            } else {
                match fs.status(&dir.uri.join(part)) {
                    Ok(s) => next.push(s),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        current = next;
    }
    if current.is_empty() {
        return Err(not_found());
    }
    current.sort_by(|a, b| a.uri.path.cmp(&b.uri.path));
    current.dedup_by(|a, b| a.uri == b.uri);
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalFileSystem;

    #[test]
    fn wildcards_match_like_hadoop() {
        assert!(matches("*", "abc") && matches("a*", "a") && matches("*.txt", "x.txt"));
        assert!(matches("a?c", "abc") && !matches("a?c", "ac") && matches("*a*b*", "xxaybz"));
        assert!(!matches("*.txt", "x.txt.gz") && matches("part-*", "part-00001") && !matches("b", "a"));
        assert!(matches("é?", "éü") && matches("**x", "x") && !matches("a", ""));
    }

    #[test]
    fn expands_in_several_components_skipping_hidden_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "d1/a.txt",
            "d1/b.log",
            "d2/c.txt",
            "d2/_x.txt",
            "d2/.y.txt",
            "e/f.txt",
        ] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), "x").unwrap();
        }
        let fs = LocalFileSystem;
        let names = |pattern: &str| -> Vec<String> {
            let uri = FsUri::parse(&format!("file://{}/{pattern}", root.display())).unwrap();
            let found = expand(&fs, &uri).unwrap();
            found
                .iter()
                .map(|s| s.uri.path[root.display().to_string().len() + 1..].to_string())
                .collect()
        };
        assert_eq!(names("d?/*.txt"), ["d1/a.txt", "d2/c.txt"]);
        assert_eq!(names("d*"), ["d1", "d2"]);
        assert_eq!(names("*/f.txt"), ["e/f.txt"]);
        assert_eq!(names("d2/_*"), ["d2/_x.txt"]);
        assert_eq!(names("d1/a.txt"), ["d1/a.txt"]);
        let missing = FsUri::parse(&format!("{}/z*/q", root.display())).unwrap();
        let e = expand(&fs, &missing).unwrap_err();
        assert!(e.is_not_found() && e.to_string().contains("z*/q"), "{e}");
        assert!(expand(&fs, &FsUri::parse(&format!("{}/nope/*", root.display())).unwrap()).is_err());
    }
}
