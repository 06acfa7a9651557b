//! Civil dates (proleptic Gregorian, UTC) and seconds since the Unix epoch, after Howard
//! Hinnant's algorithms: the one conversion the API's timestamps and SigV4 share.

/// A moment as a calendar shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
}

/// `secs` since the Unix epoch as a civil date and time.
pub(crate) fn civil(secs: u64) -> Civil {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil { year, month, day, hour: rem / 3600, minute: rem / 60 % 60, second: rem % 60 }
}

/// Days since the Unix epoch of civil date `year`-`month`-`day`.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_are_inverse() {
        assert_eq!(
            civil(1_440_938_160),
            Civil { year: 2015, month: 8, day: 30, hour: 12, minute: 36, second: 0 }
        );
        for day in (-1_000_000i64..1_000_000).step_by(997) {
            let Ok(secs) = u64::try_from(day * 86_400) else { continue };
            let c = civil(secs);
            assert_eq!(days_from_civil(c.year, c.month, c.day), day);
        }
    }
}
