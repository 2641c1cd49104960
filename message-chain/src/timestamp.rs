//! Timestamps as the seed's programs print them.
//!
//! The article's PHP tiers and shell loop write dates in two formats; ours
//! write the same, so that our tiers and theirs can be mixed in one chain
//! and their log files read alike.

use chrono::format::{Fixed, Item, Numeric, Pad};
use chrono::{DateTime, Utc};

/// `%Y-%m-%d %I:%M:%S%P`, spelled out: the relay and the sink stamp every
/// message with it, and `format` would parse the pattern again each time.
const PHP: &[Item<'static>] = &[
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Month, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Day, Pad::Zero),
    Item::Literal(" "),
    Item::Numeric(Numeric::Hour12, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Minute, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Second, Pad::Zero),
    Item::Fixed(Fixed::LowerAmPm),
];

/// PHP's `date("Y-m-d h:i:sa")`, as the seed's relay and sink write it:
/// `2026-11-21 09:40:50pm`.
pub fn php(at: DateTime<Utc>) -> String {
    at.format_with_items(PHP.iter()).to_string()
}

/// The `date` command's default output in a container (UTC, C locale),
/// as the seed's sender puts it in its messages:
/// `Sat Nov 21 21:40:50 UTC 2026`.
pub fn unix_date(at: DateTime<Utc>) -> String {
    at.format("%a %b %e %H:%M:%S UTC %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_match_the_seed() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 21, 40, 50).unwrap();
        assert_eq!(php(at), "2026-11-21 09:40:50pm");
        assert_eq!(unix_date(at), "Sat Nov 21 21:40:50 UTC 2026");
        let morning = Utc.with_ymd_and_hms(2026, 1, 5, 0, 3, 4).unwrap();
        assert_eq!(php(morning), "2026-01-05 12:03:04am");
        let noon = Utc.with_ymd_and_hms(2026, 7, 15, 12, 0, 9).unwrap();
        assert_eq!(php(noon), "2026-07-15 12:00:09pm");
        assert_eq!(php(noon), noon.format("%Y-%m-%d %I:%M:%S%P").to_string());
        assert_eq!(unix_date(morning), "Mon Jan  5 00:03:04 UTC 2026");
    }
}
