//! Time formats the emulator has to reproduce: Java's `Date.toString()` (the first line of a file
//! written by FileCatalogStore), airlift's `Duration.toString()` (`uptime` in `/v1/info`), and
//! RFC 3339 for the record file. Always UTC: the emulator carries no time-zone database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millis: u32,
    weekday: usize,
}

fn civil(time: SystemTime) -> Civil {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        millis: since.subsec_millis(),
        // 1970-01-01 was a Thursday.
        weekday: ((days % 7 + 7 + 4) % 7) as usize,
    }
}

/// `java.util.Date.toString()`: `EEE MMM dd HH:mm:ss zzz yyyy`.
pub fn java_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(time);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[c.weekday],
        MONTHS[c.month as usize - 1],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.year
    )
}

/// RFC 3339 with milliseconds, e.g. `2026-11-24T09:07:21.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let c = civil(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// RFC 3339 with microseconds, e.g. `2026-11-24T09:07:21.123456Z`: the record file's times, fine
/// enough for benchmarks to measure latencies of a few milliseconds from them.
pub fn rfc3339_micros(time: SystemTime) -> String {
    let seconds = rfc3339(time);
    let micros = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_micros();
    format!("{}.{micros:06}Z", &seconds[..seconds.len() - 5])
}

/// airlift `Duration.toString()`: the value in its most succinct unit with two decimals
/// (airlift/units Duration.java: units ns, us, ms, s, m, h, d).
pub fn airlift_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos() as f64;
    const UNITS: [(&str, f64); 7] = [
        ("d", 86_400e9),
        ("h", 3_600e9),
        ("m", 60e9),
        ("s", 1e9),
        ("ms", 1e6),
        ("us", 1e3),
        ("ns", 1.0),
    ];
    let (unit, size) = UNITS
        .iter()
        .find(|(_, size)| nanos >= *size)
        .copied()
        .unwrap_or(("ns", 1.0));
    format!("{:.2}{unit}", nanos / size)
}

/// Parses the durations of the command line: `500ms`, `2s`, `1m`, `1h`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration '{text}' needs a unit (ms, s, m, h)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration '{text}'"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit '{unit}' in duration '{text}' (use ms, s, m, h)"
            ));
        }
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_date_matches_date_to_string_in_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_511_241);
        assert_eq!(java_date(t), "Tue Nov 24 09:07:21 UTC 2026");
        assert_eq!(
            rfc3339(t + Duration::from_millis(5)),
            "2026-11-24T09:07:21.005Z"
        );
        assert_eq!(
            rfc3339_micros(t + Duration::from_micros(5_042)),
            "2026-11-24T09:07:21.005042Z"
        );
    }

    #[test]
    fn airlift_duration_picks_the_succinct_unit() {
        assert_eq!(airlift_duration(Duration::from_secs(740)), "12.33m");
        assert_eq!(airlift_duration(Duration::from_millis(1500)), "1.50s");
        assert_eq!(airlift_duration(Duration::from_micros(20)), "20.00us");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5").is_err());
    }
}
