//! The hand-written literals of src/foundation/literal.rs proved against well-kept crates
//! (docs/decisions.md says why they are hand-written): RFC 3339 date-times and dates against
//! jiff, CIDR blocks against ipnet. On generated valid and near-valid inputs both must accept
//! the same texts and find the same values; where flagstone deliberately differs, a property
//! names the difference and checks exactly it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use flagstone::literal::{Cidr, format_date, format_timestamp, parse_date, parse_timestamp};
use ipnet::IpNet;
use jiff::Timestamp;
use jiff::civil::date;
use proptest::prelude::*;
use proptest::sample::select;

fn config(cases: u32) -> ProptestConfig {
    crate::support::proptest_config!("test_literals", cases)
}

// ---------------------------------------------------------------------------------------------
// Timestamps and dates
// ---------------------------------------------------------------------------------------------

/// The fields of a date-time, each rendered as written (so that a field can be out of range).
#[derive(Clone, Debug)]
struct Stamp {
    year: u32,
    month: u32,
    day: u32,
    separator: char,
    hour: u32,
    minute: u32,
    second: u32,
    /// The digits after the decimal point.
    fraction: Option<String>,
    offset: Offset,
}

#[derive(Clone, Debug)]
enum Offset {
    /// `Z` or `z`.
    Utc(char),
    Numeric {
        sign: char,
        hours: u32,
        minutes: u32,
    },
}

impl Stamp {
    fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    fn clock(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }

    fn fraction(&self) -> String {
        self.fraction
            .as_ref()
            .map(|f| format!(".{f}"))
            .unwrap_or_default()
    }

    fn offset(&self) -> String {
        match self.offset {
            Offset::Utc(z) => z.to_string(),
            Offset::Numeric {
                sign,
                hours,
                minutes,
            } => format!("{sign}{hours:02}:{minutes:02}"),
        }
    }

    fn render(&self) -> String {
        format!(
            "{}{}{}{}{}",
            self.date(),
            self.separator,
            self.clock(),
            self.fraction(),
            self.offset()
        )
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let year = i16::try_from(year).unwrap();
    let month = i8::try_from(month).unwrap();
    u32::try_from(date(year, month, 1).days_in_month()).unwrap()
}

/// Years 0000–9999, with the leap-year rules' edges (1900, 2000, 2100) and the range's ends often.
fn year() -> impl Strategy<Value = u32> {
    prop_oneof![
        select(
            &[
                0, 1, 4, 1600, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999
            ][..]
        ),
        0..=9999u32,
    ]
}

/// Months, February (and so February 29) often.
fn month() -> impl Strategy<Value = u32> {
    prop_oneof![Just(2), 1..=12u32]
}

fn fraction() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[0-9]{1,9}")
}

fn offset() -> impl Strategy<Value = Offset> {
    prop_oneof![
        select(&['Z', 'z'][..]).prop_map(Offset::Utc),
        (select(&['+', '-'][..]), 0..=23u32, 0..=59u32).prop_map(|(sign, hours, minutes)| {
            Offset::Numeric {
                sign,
                hours,
                minutes,
            }
        }),
    ]
}

/// A date-time in RFC 3339's grammar (`date-time`, with the separators RFC 3339 §5.6 allows:
/// `T`, `t` or a space) whose fields are all in range, the last day of the month often.
fn stamp() -> impl Strategy<Value = Stamp> {
    (
        (year(), month(), 1..=31u32, select(&['T', 't', ' '][..])),
        (0..=23u32, 0..=59u32, 0..=59u32, fraction(), offset()),
    )
        .prop_map(
            |((year, month, day, separator), (hour, minute, second, fraction, offset))| Stamp {
                year,
                month,
                day: day.min(days_in_month(year, month)),
                separator,
                hour,
                minute,
                second,
                fraction,
                offset,
            },
        )
}

/// jiff's instant in milliseconds since the epoch, rounded toward the past as flagstone rounds
/// (`as_millisecond` rounds toward zero: 1969-12-31T23:59:59.9995Z would be 0, not -1).
fn millis(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond().div_euclid(1_000_000)).unwrap()
}

fn jiff(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(millis)
}

proptest! {
    #![proptest_config(config(2048))]

    /// Every RFC 3339 date-time is accepted, at jiff's instant. jiff rejects only what lies
    /// outside the instants it represents (-009999-01-02T01:59:59Z to 9999-12-30T22:00:00Z:
    /// any civil date-time of years -9999–9999 at any offset), which flagstone accepts — it
    /// knows no such bound: 9999-12-31T23:59:59Z is a date-time like any other.
    #[test]
    fn rfc3339_date_times_agree_with_jiff(stamp in stamp()) {
        let text = stamp.render();
        let ours = parse_timestamp(&text);
        prop_assert!(ours.is_some(), "{text:?} rejected");
        let ours = ours.unwrap();
        let in_range = (millis(Timestamp::MIN)..=millis(Timestamp::MAX)).contains(&ours);
        match jiff(&text) {
            Some(theirs) => prop_assert_eq!(ours, theirs, "{:?}", text),
            None => prop_assert!(!in_range, "jiff rejects {text:?} ({ours} ms)"),
        }
    }

    /// A leap second (second 60, RFC 3339 §5.7) is accepted by both; flagstone counts it as the
    /// following second (23:59:60Z is the next day's 00:00:00Z, so that time never runs
    /// backwards), while jiff reads it as second 59: flagstone's instant is jiff's plus 1000 ms.
    #[test]
    fn leap_seconds_are_the_next_second_where_jiff_repeats_59(stamp in stamp()) {
        let leap = Stamp { second: 60, ..stamp };
        let text = leap.render();
        let ours = parse_timestamp(&text).unwrap();
        let next = Stamp { second: 59, ..leap };
        prop_assume!(jiff(&next.render()).is_some());
        prop_assert_eq!(Some(ours - 1000), jiff(&text), "{:?}", text);
        prop_assert_eq!(Some(ours - 1000), parse_timestamp(&next.render()));
    }

    /// More than nine fractional digits: jiff keeps nanoseconds and rejects a tenth digit;
    /// RFC 3339's `time-secfrac` sets no limit, and flagstone, which keeps milliseconds,
    /// reads any number of digits as the instant jiff reads of the first nine.
    #[test]
    fn long_fractions_are_read_where_jiff_rejects(
        stamp in stamp(),
        long in prop_oneof!["[0-9]{10,40}", "[0-4][0-9]{9}", "0{1,11}[0-9]{1,9}"]
            .prop_filter("more than nine digits", |f| f.len() > 9),
    ) {
        let nine = Stamp { fraction: Some(long[..9].to_owned()), ..stamp.clone() };
        let long = Stamp { fraction: Some(long), ..stamp };
        prop_assume!(jiff(&nine.render()).is_some());
        prop_assert_eq!(jiff(&long.render()), None);
        prop_assert_eq!(parse_timestamp(&long.render()), jiff(&nine.render()), "{:?}", long.render());
    }
}

/// A change that makes an RFC 3339 date-time invalid.
#[derive(Clone, Debug)]
enum Break {
    Month(u32),
    /// Day 0, or over 31.
    Day(u32),
    /// The day after the month's last: February 29 of a common year, April 31…
    DayAfterLast,
    Hour(u32),
    Minute(u32),
    /// 61 and over: 60 is a leap second.
    Second(u32),
    OffsetHours(u32),
    OffsetMinutes(u32),
    /// A decimal point without digits.
    EmptyFraction,
    /// A local time, without `Z` or an offset.
    NoOffset,
    /// A separator other than `T`, `t` or a space.
    Separator(char),
    /// A field (0, the year, to 5, the second) written one digit short (`2026-1-05`,
    /// `026-01-05`) or with an extra leading zero (`2026-001-05`, `02026-01-05`).
    Width {
        field: usize,
        longer: bool,
    },
    /// Text after the offset.
    Trailing(&'static str),
}

fn broken() -> impl Strategy<Value = (Stamp, Break)> {
    let r#break = prop_oneof![
        prop_oneof![Just(0), 13..=99u32].prop_map(Break::Month),
        prop_oneof![Just(0), Just(32), 32..=99u32].prop_map(Break::Day),
        Just(Break::DayAfterLast),
        (24..=99u32).prop_map(Break::Hour),
        (60..=99u32).prop_map(Break::Minute),
        (61..=99u32).prop_map(Break::Second),
        (26..=99u32).prop_map(Break::OffsetHours),
        (60..=99u32).prop_map(Break::OffsetMinutes),
        Just(Break::EmptyFraction),
        Just(Break::NoOffset),
        select(&['_', 'x', 'Z', '\t', '-'][..]).prop_map(Break::Separator),
        (0..6usize, any::<bool>()).prop_map(|(field, longer)| Break::Width { field, longer }),
        select(&[" ", "x", "0", "[UTC", "\n"][..]).prop_map(Break::Trailing),
    ];
    (stamp(), r#break)
}

/// The text of `stamp` with `change` made.
fn render_broken(mut stamp: Stamp, change: &Break) -> String {
    match *change {
        Break::Month(month) => stamp.month = month,
        Break::DayAfterLast => stamp.day = days_in_month(stamp.year, stamp.month) + 1,
        Break::Day(day) => stamp.day = day,
        Break::Hour(hour) => stamp.hour = hour,
        Break::Minute(minute) => stamp.minute = minute,
        Break::Second(second) => stamp.second = second,
        Break::OffsetHours(h) | Break::OffsetMinutes(h) => {
            let sign = match stamp.offset {
                Offset::Numeric { sign, .. } => sign,
                Offset::Utc(_) => '+',
            };
            stamp.offset = match change {
                Break::OffsetHours(_) => Offset::Numeric {
                    sign,
                    hours: h,
                    minutes: 0,
                },
                _ => Offset::Numeric {
                    sign,
                    hours: 1,
                    minutes: h,
                },
            };
        }
        Break::EmptyFraction => stamp.fraction = Some(String::new()),
        Break::NoOffset => {
            return format!(
                "{}{}{}{}",
                stamp.date(),
                stamp.separator,
                stamp.clock(),
                stamp.fraction()
            );
        }
        Break::Separator(separator) => stamp.separator = separator,
        Break::Width { field, longer } => {
            let values = [
                stamp.year,
                stamp.month,
                stamp.day,
                stamp.hour,
                stamp.minute,
                stamp.second,
            ];
            let widths = [4, 2, 2, 2, 2, 2];
            let mut fields =
                [0, 1, 2, 3, 4, 5].map(|i| format!("{:0w$}", values[i], w = widths[i]));
            let width = widths[field];
            fields[field] = if longer {
                format!("0{}", fields[field])
            } else {
                let short = width - 1;
                format!("{:0short$}", values[field] % 10u32.pow(short as u32))
            };
            let [year, month, day, hour, minute, second] = fields;
            return format!(
                "{year}-{month}-{day}{}{hour}:{minute}:{second}{}{}",
                stamp.separator,
                stamp.fraction(),
                stamp.offset()
            );
        }
        Break::Trailing(tail) => return format!("{}{tail}", stamp.render()),
    }
    stamp.render()
}

proptest! {
    #![proptest_config(config(2048))]

    /// Out-of-range fields (month 13, February 29 of a common year, hour 24, minute 60,
    /// second 61, offset minutes 60…), a missing offset, a wrong separator, a field a digit
    /// short or with an extra leading zero, text after the offset: both reject.
    #[test]
    fn near_valid_date_times_are_rejected_like_jiff((stamp, change) in broken()) {
        let text = render_broken(stamp, &change);
        prop_assert_eq!(parse_timestamp(&text), None, "{:?}", text);
        prop_assert_eq!(jiff(&text), None, "{:?}", text);
    }
}

/// A spelling jiff accepts beyond RFC 3339 (it reads RFC 9557 and ISO 8601 too).
#[derive(Clone, Copy, Debug)]
enum Beyond {
    /// Offset hours 24 and 25, which jiff allows: RFC 3339's `time-numoffset` ends at 23:59.
    OffsetHours(u32),
    /// `09:00Z`: RFC 3339 requires the seconds.
    NoSeconds,
    /// `09Z`: the hour alone.
    HourOnly,
    /// `+0200`
    OffsetWithoutColon,
    /// `+02`
    OffsetHoursOnly,
    /// `+02:00:00`
    OffsetSeconds,
    /// `00,5Z`: ISO 8601's decimal comma.
    DecimalComma,
    /// `20261201T090000Z`: ISO 8601's basic format.
    Basic,
    /// `+002026-12-01T…`: a six-digit signed year.
    SignedYear,
    /// `…Z[UTC]`: an RFC 9557 time-zone annotation.
    Annotation,
}

/// The date-time written with `beyond`, and its RFC 3339 spelling (`None` when it has none).
fn render_beyond(stamp: &Stamp, beyond: Beyond) -> (String, Option<String>) {
    let Stamp {
        year,
        month,
        day,
        separator,
        hour,
        minute,
        second,
        ..
    } = *stamp;
    let fraction = stamp.fraction();
    let offset = stamp.offset();
    let date = stamp.date();
    let rfc3339 = stamp.render();
    match beyond {
        Beyond::OffsetHours(hours) => {
            let shifted = Stamp {
                offset: Offset::Numeric {
                    sign: '+',
                    hours,
                    minutes: 0,
                },
                ..stamp.clone()
            };
            (shifted.render(), None)
        }
        Beyond::NoSeconds => {
            let exact = Stamp {
                second: 0,
                fraction: None,
                ..stamp.clone()
            };
            (
                format!("{date}{separator}{hour:02}:{minute:02}{offset}"),
                Some(exact.render()),
            )
        }
        Beyond::HourOnly => {
            let exact = Stamp {
                minute: 0,
                second: 0,
                fraction: None,
                ..stamp.clone()
            };
            (
                format!("{date}{separator}{hour:02}{offset}"),
                Some(exact.render()),
            )
        }
        Beyond::OffsetWithoutColon | Beyond::OffsetHoursOnly | Beyond::OffsetSeconds => {
            let (sign, hours, minutes) = match stamp.offset {
                Offset::Numeric {
                    sign,
                    hours,
                    minutes,
                } => (sign, hours, minutes),
                Offset::Utc(_) => ('+', 0, 0),
            };
            let minutes = if matches!(beyond, Beyond::OffsetHoursOnly) {
                0
            } else {
                minutes
            };
            let exact = Stamp {
                offset: Offset::Numeric {
                    sign,
                    hours,
                    minutes,
                },
                ..stamp.clone()
            };
            let written = match beyond {
                Beyond::OffsetWithoutColon => format!("{sign}{hours:02}{minutes:02}"),
                Beyond::OffsetHoursOnly => format!("{sign}{hours:02}"),
                _ => format!("{sign}{hours:02}:{minutes:02}:00"),
            };
            (
                format!("{date}{separator}{}{fraction}{written}", stamp.clock()),
                Some(exact.render()),
            )
        }
        Beyond::DecimalComma => (
            format!(
                "{date}{separator}{},{}{offset}",
                stamp.clock(),
                stamp.fraction.as_deref().unwrap_or("0")
            ),
            Some(
                Stamp {
                    fraction: Some(stamp.fraction.clone().unwrap_or_else(|| "0".into())),
                    ..stamp.clone()
                }
                .render(),
            ),
        ),
        Beyond::Basic => (
            format!(
                "{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}{fraction}{offset}"
            ),
            Some(rfc3339),
        ),
        Beyond::SignedYear => (format!("+00{rfc3339}"), Some(rfc3339)),
        Beyond::Annotation => (format!("{rfc3339}[UTC]"), Some(rfc3339)),
    }
}

fn beyond() -> impl Strategy<Value = Beyond> {
    prop_oneof![
        (24..=25u32).prop_map(Beyond::OffsetHours),
        Just(Beyond::NoSeconds),
        Just(Beyond::HourOnly),
        Just(Beyond::OffsetWithoutColon),
        Just(Beyond::OffsetHoursOnly),
        Just(Beyond::OffsetSeconds),
        Just(Beyond::DecimalComma),
        Just(Beyond::Basic),
        Just(Beyond::SignedYear),
        Just(Beyond::Annotation),
    ]
}

proptest! {
    #![proptest_config(config(2048))]

    /// flagstone accepts RFC 3339 only, a strict subset of what jiff reads: every spelling
    /// jiff accepts beyond it (ISO 8601's basic format and decimal comma, offsets without a
    /// colon or with seconds, leaving out the seconds, RFC 9557 annotations, offset hours 24
    /// and 25) flagstone rejects, and where RFC 3339 can write the same instant, jiff reads the
    /// other spelling as flagstone reads RFC 3339's.
    #[test]
    fn spellings_beyond_rfc3339_are_rejected_where_jiff_accepts(
        stamp in stamp(),
        beyond in beyond(),
    ) {
        // Away from the ends of jiff's range, which an offset of 25 hours may cross.
        prop_assume!((1..=9998).contains(&stamp.year));
        let (text, rfc3339) = render_beyond(&stamp, beyond);
        let theirs = jiff(&text);
        prop_assert!(theirs.is_some(), "jiff rejects {text:?}");
        prop_assert_eq!(parse_timestamp(&text), None, "{:?}", text);
        if let Some(rfc3339) = rfc3339 {
            prop_assert_eq!(parse_timestamp(&rfc3339), theirs, "{:?} and {:?}", text, rfc3339);
        }
    }

    /// Dates (`YYYY-MM-DD`, years 0000–9999) are accepted when jiff accepts them, as the
    /// same day counted from 1970-01-01, and written back as jiff writes them.
    #[test]
    fn dates_agree_with_jiff(year in year(), month in 0..=13u32, day in prop_oneof![0..=32u32, 28..=31u32]) {
        let text = format!("{year:04}-{month:02}-{day:02}");
        let theirs = text.parse::<jiff::civil::Date>().ok();
        let days = theirs.map(|d| i64::from(d.since(date(1970, 1, 1)).unwrap().get_days()));
        prop_assert_eq!(parse_date(&text), days, "{:?}", text);
        if let Some(days) = days {
            prop_assert_eq!(format_date(days), theirs.unwrap().to_string());
        }
    }

    /// `format_timestamp` writes jiff's RFC 3339 rendering with milliseconds, and reads back.
    #[test]
    fn formatted_timestamps_agree_with_jiff(
        millis in prop_oneof![
            -62_167_219_200_000i64..=253_402_300_799_999,
            -86_400_000i64..=86_400_000,
        ],
    ) {
        let text = format_timestamp(millis);
        prop_assert_eq!(parse_timestamp(&text), Some(millis));
        if let Ok(t) = Timestamp::from_millisecond(millis) {
            prop_assert_eq!(&text, &format!("{t:.3}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CIDR blocks
// ---------------------------------------------------------------------------------------------

/// A network as written: its address, how the address is spelt, and its prefix length.
#[derive(Clone, Debug)]
struct Block {
    address: IpAddr,
    spelling: Spelling,
    /// `None`: a bare address.
    prefix: Option<u8>,
    /// Zeros written before the prefix length.
    padding: usize,
}

#[derive(Clone, Copy, Debug)]
enum Spelling {
    /// As Rust writes it: IPv6 with its longest run of zero groups as `::`.
    Canonical,
    /// All eight IPv6 groups, each with four digits, upper case.
    Full,
    /// IPv6 with its last 32 bits as a dotted IPv4 address (`::ffff:1.2.3.4`).
    Dotted,
}

impl Block {
    fn address(&self) -> String {
        match (self.address, self.spelling) {
            (IpAddr::V6(v6), Spelling::Full) => v6.segments().map(|g| format!("{g:04X}")).join(":"),
            (IpAddr::V6(v6), Spelling::Dotted) => {
                let head: Vec<String> = v6.segments()[..6]
                    .iter()
                    .map(|g| format!("{g:x}"))
                    .collect();
                let low = Ipv4Addr::from(u128::from(v6) as u32);
                format!("{}:{low}", head.join(":"))
            }
            (address, _) => address.to_string(),
        }
    }

    fn render(&self) -> String {
        match self.prefix {
            Some(prefix) => format!("{}/{}{prefix}", self.address(), "0".repeat(self.padding)),
            None => self.address(),
        }
    }

    fn bits(&self) -> u8 {
        if self.address.is_ipv4() { 32 } else { 128 }
    }
}

/// IPv4 addresses, the ends of the space often.
fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        select(&[0, u32::MAX, 0x0a00_0000, 0x7f00_0001, 0xc0a8_0101][..]),
        any::<u32>(),
    ]
    .prop_map(Ipv4Addr::from)
}

/// IPv6 addresses with runs of zero groups, so that Rust writes them with `::` in every place.
fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        select(&[0, 1, u128::MAX, 0xffff_0000_0000, 0x2001_0db8 << 96][..])
            .prop_map(Ipv6Addr::from),
        proptest::array::uniform8(prop_oneof![Just(0u16), Just(0u16), any::<u16>()])
            .prop_map(Ipv6Addr::from),
    ]
}

/// A valid block: any address, any prefix length in range (or none), host bits mostly set,
/// the prefix length written with up to three leading zeros.
fn block() -> impl Strategy<Value = Block> {
    let v4 = (ipv4(), proptest::option::weighted(0.9, 0..=32u8))
        .prop_map(|(a, p)| (IpAddr::V4(a), Spelling::Canonical, p));
    let v6 = (
        ipv6(),
        select(&[Spelling::Canonical, Spelling::Full, Spelling::Dotted][..]),
        proptest::option::weighted(
            0.9,
            prop_oneof![0..=128u8, select(&[0, 1, 63, 64, 127, 128][..])],
        ),
    )
        .prop_map(|(a, s, p)| (IpAddr::V6(a), s, p));
    (
        prop_oneof![v4, v6],
        prop_oneof![4 => Just(0usize), 1 => 1..=3usize],
    )
        .prop_map(|((address, spelling, prefix), padding)| Block {
            address,
            spelling,
            prefix,
            padding,
        })
}

/// Addresses near the network's ends, and some anywhere, of either family.
fn probes(net: &IpNet) -> Vec<IpAddr> {
    let mut out = Vec::new();
    match net {
        IpNet::V4(n) => {
            let (lo, hi) = (u32::from(n.network()), u32::from(n.broadcast()));
            for x in [
                lo.wrapping_sub(1),
                lo,
                lo.wrapping_add(1),
                hi.wrapping_sub(1),
                hi,
                hi.wrapping_add(1),
            ] {
                out.push(IpAddr::V4(x.into()));
                out.push(IpAddr::V6(Ipv4Addr::from(x).to_ipv6_mapped()));
            }
        }
        IpNet::V6(n) => {
            let (lo, hi) = (u128::from(n.network()), u128::from(n.broadcast()));
            for x in [
                lo.wrapping_sub(1),
                lo,
                lo.wrapping_add(1),
                hi.wrapping_sub(1),
                hi,
                hi.wrapping_add(1),
            ] {
                out.push(IpAddr::V6(x.into()));
                if let Ok(low) = u32::try_from(x) {
                    out.push(IpAddr::V4(low.into()));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(config(4096))]

    /// Every valid block is accepted, as ipnet's network: the same addresses (its first and
    /// last, which pin its address and prefix length, their neighbours outside, addresses
    /// anywhere, of both families) are in it. A bare address, which ipnet does not parse,
    /// is the single-host network ipnet makes of it (`IpNet::from`); zeros before the
    /// prefix length, which ipnet allows only within two digits for IPv4 and three for IPv6,
    /// are accepted in any number.
    #[test]
    fn cidr_blocks_agree_with_ipnet(block in block(), anywhere in proptest::collection::vec(any::<u128>(), 4)) {
        let text = block.render();
        let ours = Cidr::parse(&text);
        prop_assert!(ours.is_some(), "{text:?} rejected");
        let ours = ours.unwrap();
        let net = match block.prefix {
            None => {
                prop_assert!(text.parse::<IpNet>().is_err());
                IpNet::from(block.address)
            }
            Some(prefix) => {
                let width = (block.bits().to_string().len()).max(2);
                let written = text.rsplit('/').next().unwrap().len();
                let theirs = text.parse::<IpNet>();
                prop_assert_eq!(theirs.is_ok(), written <= width, "{:?}", text);
                let unpadded = format!("{}/{prefix}", block.address());
                unpadded.parse::<IpNet>().unwrap()
            }
        };
        prop_assert_eq!(net.addr(), block.address);
        prop_assert_eq!(Some(net.prefix_len()), block.prefix.or(Some(block.bits())));
        let anywhere = anywhere.iter().flat_map(|&x| {
            [IpAddr::V6(x.into()), IpAddr::V4((x as u32).into())]
        });
        for ip in probes(&net).into_iter().chain(anywhere) {
            prop_assert_eq!(ours.contains(ip), net.contains(&ip), "{:?} contains {}", text, ip);
        }
    }
}

/// A change that makes a CIDR block invalid for both, or that ipnet and flagstone disagree on.
#[derive(Clone, Copy, Debug)]
enum Mangle {
    /// Past the family's last: /33, /129.
    PrefixTooLong(u16),
    /// `10.0.0.0/`
    EmptyPrefix,
    /// `/+8`, `/ 8`, `/8 `, `/0x8`, `/8/8`
    PrefixText(&'static str),
    /// An IPv4 field over 255.
    OctetTooLarge(u16),
    /// Three or five IPv4 fields.
    OctetCount(bool),
    /// An IPv6 group of five digits.
    LongGroup,
    /// `::` twice.
    TwoGaps,
    /// A zone: `fe80::1%eth0`.
    Zone,
    /// An IPv4 field with a leading zero (`010.0.0.0/8`): ipnet reads it as decimal;
    /// flagstone, as Rust's `Ipv4Addr`, rejects it, since `inet_aton` reads it as octal.
    OctetLeadingZero,
    /// `::` standing for no group at all (`1:2:3:4::5:6:7:8`): ipnet accepts it; flagstone,
    /// as Rust's `Ipv6Addr` and RFC 4291 §2.2 ("one or more groups"), rejects it.
    EmptyGap,
}

fn mangle() -> impl Strategy<Value = Mangle> {
    prop_oneof![
        prop_oneof![33..=200u16, Just(129), 129..=999u16].prop_map(Mangle::PrefixTooLong),
        Just(Mangle::EmptyPrefix),
        select(&["+8", " 8", "8 ", "0x8", "8/8", "-0", "", "８"][..]).prop_map(Mangle::PrefixText),
        (256..=999u16).prop_map(Mangle::OctetTooLarge),
        any::<bool>().prop_map(Mangle::OctetCount),
        Just(Mangle::LongGroup),
        Just(Mangle::TwoGaps),
        Just(Mangle::Zone),
        Just(Mangle::OctetLeadingZero),
        Just(Mangle::EmptyGap),
    ]
}

/// The text of the block of `v4`/`v6` with `mangle`.
fn render_mangled(v4: Ipv4Addr, v6: Ipv6Addr, prefix: u8, mangle: Mangle) -> String {
    let [a, b, c, d] = v4.octets();
    let g = v6.segments().map(|g| format!("{g:x}"));
    match mangle {
        Mangle::PrefixTooLong(p) if p <= 128 => format!("{v4}/{p}"),
        Mangle::PrefixTooLong(p) => format!("{v6}/{p}"),
        Mangle::EmptyPrefix => format!("{v4}/"),
        Mangle::PrefixText(text) => format!("{v6}/{text}"),
        Mangle::OctetTooLarge(n) => format!("{a}.{b}.{n}.{d}/{}", prefix % 33),
        Mangle::OctetCount(true) => format!("{a}.{b}.{c}/{}", prefix % 33),
        Mangle::OctetCount(false) => format!("{v4}.{d}/{}", prefix % 33),
        Mangle::LongGroup => format!(
            "{}:1{:04x}:{}/{prefix}",
            g[0],
            v6.segments()[1],
            g[2..].join(":")
        ),
        Mangle::TwoGaps => format!("{}::{}::{}/{prefix}", g[0], g[1], g[2]),
        Mangle::Zone => format!("{v6}%eth0/{prefix}"),
        Mangle::OctetLeadingZero => format!("{a}.0{}.{c}.{d}/{}", b % 100, prefix % 33),
        Mangle::EmptyGap => format!("{}::{}/{prefix}", g[..4].join(":"), g[4..].join(":")),
    }
}

proptest! {
    #![proptest_config(config(2048))]

    /// Prefix lengths past the family's last or not written as decimal digits, IPv4 fields
    /// over 255 or not four, IPv6 groups of five digits, `::` twice, zones: both reject.
    /// Where they differ, flagstone is the stricter: an IPv4 field with a leading zero and a
    /// `::` that stands for no group are rejected by flagstone and accepted by ipnet.
    #[test]
    fn near_valid_cidr_blocks_are_rejected_like_ipnet(
        v4 in ipv4(),
        v6 in ipv6(),
        prefix in 0..=128u8,
        mangle in mangle(),
    ) {
        let text = render_mangled(v4, v6, prefix, mangle);
        prop_assert_eq!(Cidr::parse(&text), None, "{:?}", text);
        let theirs = text.parse::<IpNet>();
        match mangle {
            Mangle::OctetLeadingZero | Mangle::EmptyGap => {
                prop_assert!(theirs.is_ok(), "ipnet rejects {text:?}");
            }
            _ => prop_assert!(theirs.is_err(), "ipnet accepts {text:?}"),
        }
    }
}
