use serde::{Deserialize, Serialize};
use spate::prelude::*;

/// One input record of the event-time examples: `key,timestamp_ms,value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The key.
    pub key: String,
    /// Event time in ms.
    pub timestamp: i64,
    /// The value.
    pub value: i64,
    /// The input line, as read.
    pub line: String,
}

/// Parses `key,timestamp_ms,value`; the error says what is wrong.
pub fn parse_line(line: &str) -> Result<Event, String> {
    let mut parts = line.split(',');
    let (Some(key), Some(ts), Some(value), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected 3 comma-separated fields: key,timestamp_ms,value".into());
    };
    let key = key.trim();
    if key.is_empty() {
        return Err("empty key".into());
    }
    let timestamp = ts
        .trim()
        .parse::<i64>()
        .map_err(|e| format!("bad timestamp {ts:?}: {e}"))?;
    let value = value
        .trim()
        .parse::<i64>()
        .map_err(|e| format!("bad value {value:?}: {e}"))?;
    Ok(Event {
        key: key.to_string(),
        timestamp,
        value,
        line: line.to_string(),
    })
}

/// Sum and count of the values of a window.
#[derive(Clone, Copy, Debug)]
pub struct SumCount;

impl AggregateFunction<Event, (i64, u64), (i64, u64)> for SumCount {
    fn create_accumulator(&self) -> (i64, u64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (i64, u64), e: Event) {
        acc.0 = acc.0.wrapping_add(e.value);
        acc.1 += 1;
    }
    fn get_result(&self, acc: &(i64, u64)) -> (i64, u64) {
        *acc
    }
    fn merge(&self, a: (i64, u64), b: (i64, u64)) -> (i64, u64) {
        (a.0.wrapping_add(b.0), a.1 + b.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_lines_and_explains_bad_ones() {
        let e = parse_line("a,1000,-5").unwrap();
        assert_eq!((e.key.as_str(), e.timestamp, e.value), ("a", 1000, -5));
        assert!(parse_line("a,1000").unwrap_err().contains("3 comma-separated"));
        assert!(parse_line("a,1,2,3").is_err());
        assert!(parse_line(",1,2").unwrap_err().contains("empty key"));
        assert!(parse_line("a,x,2").unwrap_err().contains("bad timestamp"));
        assert!(parse_line("a,1,2.5").unwrap_err().contains("bad value"));
        assert!(parse_line("").is_err());
    }
}
