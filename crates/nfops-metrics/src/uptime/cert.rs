//! The expiry (`notAfter`) of an X.509 certificate, read straight from its
//! DER bytes: the TLS probe needs that one field, not a certificate library.

use chrono::{DateTime, NaiveDate, Utc};

/// One DER element: its tag and content bytes, and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `notAfter` of the DER certificate `der`; `None` when it is not a
/// certificate this reader understands.
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (0x30, cert, _) = element(der)? else {
        return None;
    };
    let (0x30, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after; // explicit version
    }
    // serialNumber, signature, issuer
    for expected in [0x02, 0x30, 0x30] {
        let (tag, _, after) = element(rest)?;
        if tag != expected {
            return None;
        }
        rest = after;
    }
    let (0x30, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _, after_not_before) = element(validity)?;
    let (tag, time, _) = element(after_not_before)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`), as DER requires them: UTC, seconds present.
fn parse_time(tag: u8, s: &str) -> Option<DateTime<Utc>> {
    let digits = s.strip_suffix('Z')?;
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: i32 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2)?.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(year, n(0)?, n(2)?)?;
    Some(date.and_hms_opt(n(4)?, n(6)?, n(8)?)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate made once with
    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes
    /// -subj /CN=uptime.test -days 400 -outform DER`.
    const CERT: &[u8] = include_bytes!("testdata/uptime-test.der");

    #[test]
    fn reads_not_after_of_a_real_certificate() {
        let at = not_after(CERT).expect("the fixture is a certificate");
        assert_eq!(
            at.to_rfc3339(),
            include_str!("testdata/uptime-test.not-after").trim()
        );
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        assert_eq!(not_after(b""), None);
        assert_eq!(
            not_after(&CERT[..40]),
            None,
            "a truncated certificate has no validity"
        );
        assert_eq!(not_after(b"\x30\x03\x02\x01\x01"), None);
    }

    #[test]
    fn both_time_forms_parse() {
        assert_eq!(
            parse_time(0x17, "491231235959Z")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2049-12-31T23:59:59+00:00")
        );
        assert_eq!(
            parse_time(0x17, "500101000000Z")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("1950-01-01T00:00:00+00:00")
        );
        assert_eq!(
            parse_time(0x18, "20991231120000Z")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2099-12-31T12:00:00+00:00")
        );
        assert_eq!(parse_time(0x17, "2099123112Z"), None);
    }
}
