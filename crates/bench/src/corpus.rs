//! Deterministic synthetic text corpora for the word count benchmarks.
//!
//! A corpus is lines of 5–15 words. Words are drawn with a Zipf skew (exponent 1, like natural
//! language: the most frequent word is about 9% of all words for a vocabulary of 50,000) from a
//! vocabulary of pseudo-words: mostly lower-case letters, some capitalised, some all-caps
//! acronyms, some camel-case, some with digits or all digits. Occurrences are decorated the way
//! prose is: sentence starts are capitalised, a few words are capitalised or upper-cased in the
//! middle of a sentence, and words are separated by spaces with occasional `,` `.` `!` and `--`.
//! So the tokeniser (splitting on non-alphanumerics, lower-casing) has real work to do, and the
//! number of distinct words after tokenisation is at most the vocabulary size whatever the corpus
//! size is.
//!
//! The output depends only on the [`CorpusConfig`], so a seed names a corpus.

use rustc_hash::FxHashSet;
use std::io::{self, Write};

/// Default vocabulary size.
pub const DEFAULT_VOCABULARY: usize = 50_000;
/// Default seed.
pub const DEFAULT_SEED: u64 = 42;

/// What to generate.
#[derive(Debug, Clone)]
pub struct CorpusConfig {
    /// Stop after the line that reaches this many bytes (so the corpus is at most one line longer).
    pub size_bytes: u64,
    /// Seed of the pseudo-random generator: same config, same bytes.
    pub seed: u64,
    /// Number of distinct pseudo-words (distinct after lower-casing).
    pub vocabulary: usize,
    /// Zipf exponent of the word frequencies (1.0 is natural-language-like).
    pub zipf_exponent: f64,
}

impl CorpusConfig {
    /// A corpus of about `size_bytes` bytes with the default seed, vocabulary and skew.
    pub fn new(size_bytes: u64) -> Self {
        Self {
            size_bytes,
            seed: DEFAULT_SEED,
            vocabulary: DEFAULT_VOCABULARY,
            zipf_exponent: 1.0,
        }
    }
}

/// SplitMix64: tiny, fast, and good enough for synthetic data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is negligible for small `n`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Walker/Vose alias table: samples an index with given weights in O(1) from one `u64`.
#[derive(Debug)]
struct AliasTable {
    /// Probability (scaled to 2^32) of keeping the column's own index.
    keep: Vec<u64>,
    alias: Vec<u32>,
}

impl AliasTable {
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        assert!(
            n > 0 && n <= u32::MAX as usize,
            "alias table needs 1..2^32 weights"
        );
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut keep = vec![1u64 << 32; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            keep[s] = (scaled[s] * (1u64 << 32) as f64) as u64;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers (from rounding) keep their own index with probability 1.
        Self { keep, alias }
    }

    #[inline]
    fn sample(&self, r: u64) -> usize {
        let column = (((r >> 32) * self.keep.len() as u64) >> 32) as usize;
        if (r & 0xFFFF_FFFF) < self.keep[column] {
            column
        } else {
            self.alias[column] as usize
        }
    }
}

/// The vocabulary: `words[rank]` is the pseudo-word of frequency rank `rank` (0 = most frequent).
#[derive(Debug)]
pub struct Vocabulary {
    bytes: Vec<u8>,
    /// `(start, len)` of each word in `bytes`.
    spans: Vec<(u32, u32)>,
}

/// Words up to this long are copied as one block of this size.
const WORD_BLOCK: usize = 16;

const CONSONANTS: &[u8] = b"bcdfghjklmnprstvwxyzq";
const VOWELS: &[u8] = b"aeiou";

impl Vocabulary {
    /// Generates `size` pseudo-words that are distinct after ASCII lower-casing.
    pub fn generate(size: usize, rng: &mut SplitMix64) -> Self {
        let mut bytes = Vec::with_capacity(size * 8);
        let mut spans = Vec::with_capacity(size);
        let mut seen: FxHashSet<Vec<u8>> = FxHashSet::default();
        seen.reserve(size);
        let mut word = Vec::new();
        for rank in 0..size {
            // Frequent words are short, as in natural language.
            let mut len = match rank {
                0..100 => 2 + rng.below(3),
                100..5000 => 3 + rng.below(6),
                _ => 4 + rng.below(8),
            } as usize;
            let mut attempts = 0;
            loop {
                make_word(rng, len, &mut word);
                if seen.insert(word.to_ascii_lowercase()) {
                    break;
                }
                attempts += 1;
                if attempts % 8 == 0 {
                    len += 1; // short words exhausted: go longer
                }
            }
            spans.push((bytes.len() as u32, word.len() as u32));
            bytes.extend_from_slice(&word);
        }
        // Padding, so that every word can be copied as a whole block.
        bytes.extend_from_slice(&[0; WORD_BLOCK]);
        Self { bytes, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Length of the longest word.
    pub fn max_len(&self) -> usize {
        self.spans.iter().map(|&(_, len)| len as usize).max().unwrap_or(0)
    }

    /// Copies the word of rank `rank` to the start of `out` and returns its length. Bytes of `out`
    /// after the word may be overwritten: `out` needs `max(len, WORD_BLOCK)` bytes.
    #[inline]
    pub fn copy_word(&self, rank: usize, out: &mut [u8]) -> usize {
        let (start, len) = self.spans[rank];
        let (start, len) = (start as usize, len as usize);
        if len <= WORD_BLOCK {
            out[..WORD_BLOCK].copy_from_slice(&self.bytes[start..start + WORD_BLOCK]);
        } else {
            out[..len].copy_from_slice(&self.bytes[start..start + len]);
        }
        len
    }

    /// The word of rank `rank`.
    #[inline]
    pub fn word(&self, rank: usize) -> &[u8] {
        let (start, len) = self.spans[rank];
        &self.bytes[start as usize..(start + len) as usize]
    }
}

/// One pseudo-word of about `len` characters into `out`.
fn make_word(rng: &mut SplitMix64, len: usize, out: &mut Vec<u8>) {
    out.clear();
    let kind = rng.below(100);
    let push_letters = |rng: &mut SplitMix64, out: &mut Vec<u8>, n: usize| {
        // Alternate consonants and vowels so the words look like words.
        let mut vowel = rng.below(3) == 0;
        for _ in 0..n {
            let set = if vowel { VOWELS } else { CONSONANTS };
            out.push(set[rng.below(set.len() as u64) as usize]);
            vowel = !vowel;
        }
    };
    let push_digits = |rng: &mut SplitMix64, out: &mut Vec<u8>, n: usize| {
        for _ in 0..n {
            out.push(b'0' + rng.below(10) as u8);
        }
    };
    match kind {
        // Numbers: "1984".
        0..4 => push_digits(rng, out, len.clamp(1, 6)),
        // Letters then digits: "kabo42".
        4..10 => {
            let digits = 1 + rng.below(3) as usize;
            push_letters(rng, out, len.saturating_sub(digits).max(1));
            push_digits(rng, out, digits);
        }
        // Proper nouns: "Kabito".
        10..16 => {
            push_letters(rng, out, len);
            out[0] = out[0].to_ascii_uppercase();
        }
        // Acronyms: "NASA".
        16..18 => {
            push_letters(rng, out, len);
            out.make_ascii_uppercase();
        }
        // Camel case: "mcDonal".
        18..20 => {
            push_letters(rng, out, len);
            let i = rng.below(len as u64) as usize;
            out[i] = out[i].to_ascii_uppercase();
        }
        _ => push_letters(rng, out, len),
    }
}

/// Writes the corpus described by `config` to `out` and returns the number of bytes written.
///
/// `out` gets large writes (about 256 KiB), so it needs no buffering of its own.
pub fn write_corpus(out: &mut impl Write, config: &CorpusConfig) -> io::Result<u64> {
    if config.vocabulary == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "vocabulary must not be empty",
        ));
    }
    let mut rng = SplitMix64::new(config.seed);
    let vocabulary = Vocabulary::generate(config.vocabulary, &mut rng);
    let weights: Vec<f64> = (0..vocabulary.len())
        .map(|rank| 1.0 / ((rank + 1) as f64).powf(config.zipf_exponent))
        .collect();
    let table = AliasTable::new(&weights);

    // Lines are assembled at `pos` in a buffer that always has room for one more line, and words
    // are copied as fixed-size blocks (the vocabulary is padded), which is much faster than
    // `extend_from_slice` of a few bytes at a time.
    const FLUSH: usize = 256 * 1024;
    let max_line = 15 * (vocabulary.max_len().max(WORD_BLOCK) + 4) + 1;
    let mut buf = vec![0u8; FLUSH + max_line];
    let mut pos = 0;
    let mut written: u64 = 0;
    while written + (pos as u64) < config.size_bytes {
        let words = 5 + rng.below(11);
        let mut sentence_start = true;
        for i in 0..words {
            let start = pos;
            pos += vocabulary.copy_word(table.sample(rng.next_u64()), &mut buf[start..]);
            let d = rng.next_u64();
            let case = d & 0xFF;
            if sentence_start || case < 8 {
                buf[start] = buf[start].to_ascii_uppercase(); // ~3% mid-sentence
            } else if case == 8 {
                buf[start..pos].make_ascii_uppercase(); // ~0.4%: shouting
            }
            let punct = (d >> 8) & 0xFF;
            sentence_start = false;
            let sep: &[u8] = if i + 1 < words {
                match punct {
                    0..15 => b", ",
                    15..18 => b" -- ",
                    18..22 => {
                        sentence_start = true;
                        b". "
                    }
                    22 => {
                        sentence_start = true;
                        b"! "
                    }
                    _ => b" ",
                }
            } else {
                match punct {
                    0..200 => b".\n",
                    200..230 => b"!\n",
                    _ => b"\n",
                }
            };
            buf[pos..pos + sep.len()].copy_from_slice(sep);
            pos += sep.len();
        }
        if pos >= FLUSH {
            out.write_all(&buf[..pos])?;
            written += pos as u64;
            pos = 0;
        }
    }
    out.write_all(&buf[..pos])?;
    written += pos as u64;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_examples::tokenize::for_each_word;

    fn corpus(size: u64, seed: u64, vocabulary: usize) -> Vec<u8> {
        let config = CorpusConfig {
            size_bytes: size,
            seed,
            vocabulary,
            zipf_exponent: 1.0,
        };
        let mut out = Vec::new();
        let n = write_corpus(&mut out, &config).unwrap();
        assert_eq!(n, out.len() as u64);
        out
    }

    #[test]
    fn deterministic_for_a_seed_and_about_the_requested_size() {
        let size = 300 * 1024;
        let a = corpus(size, 7, 2_000);
        let b = corpus(size, 7, 2_000);
        let c = corpus(size, 8, 2_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        for out in [&a, &c] {
            // At most one line (< 15 words of < 20 bytes) over the target.
            assert!(
                out.len() as u64 >= size && (out.len() as u64) < size + 300,
                "{}",
                out.len()
            );
            assert_eq!(out.last(), Some(&b'\n'));
        }
    }

    #[test]
    fn lines_have_5_to_15_words_from_the_vocabulary() {
        let vocabulary_size = 1_000;
        let out = corpus(64 * 1024, 3, vocabulary_size);
        let mut rng = SplitMix64::new(3);
        let vocabulary = Vocabulary::generate(vocabulary_size, &mut rng);
        let known: FxHashSet<String> = (0..vocabulary.len())
            .map(|r| String::from_utf8(vocabulary.word(r).to_ascii_lowercase()).unwrap())
            .collect();
        assert_eq!(known.len(), vocabulary_size, "vocabulary words are distinct");

        let text = std::str::from_utf8(&out).unwrap();
        let mut buf = String::new();
        let mut distinct = FxHashSet::default();
        let mut the_count = 0usize;
        let mut total = 0usize;
        for line in text.lines() {
            let mut n = 0;
            for_each_word(line, &mut buf, |w| {
                assert!(known.contains(w), "{w:?} is not a vocabulary word");
                distinct.insert(w.to_string());
                if w == String::from_utf8_lossy(vocabulary.word(0)).to_ascii_lowercase() {
                    the_count += 1;
                }
                n += 1;
            });
            assert!((5..=15).contains(&n), "{n} words in {line:?}");
            total += n;
        }
        // Zipf: rank 0 is about 1 / H(1000) = 13% of all words; most words occur.
        let share = the_count as f64 / total as f64;
        assert!((0.10..0.17).contains(&share), "share of rank 0: {share}");
        assert!(distinct.len() > vocabulary_size / 2);
        // The decoration is there for the tokeniser to deal with.
        assert!(text.contains(", ") && text.contains(" -- ") && text.contains('!'));
        assert!(text.bytes().any(|b| b.is_ascii_uppercase()));
    }
}
