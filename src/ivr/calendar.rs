//! The business calendar: opening hours per weekday, public holidays and make-up working
//! days, in the hotline's own time zone.
//!
//! Chinese public holidays move weekends: a holiday week is paid for with a Saturday or
//! Sunday worked ("make-up day", 调休上班). So "working day" cannot be read off the weekday
//! alone; it is the weekday rule, minus the holidays, plus the make-up days.
//!
//! Two questions, deliberately separate:
//! - *Is the hotline open?* ([`Calendar::is_open`]): the opening hours of that day
//!   (`holiday_hours` on a holiday, `makeup_hours` on a make-up day, else the weekday's).
//! - *Working time* ([`Calendar::add_working_hours`]): the opening hours of working days
//!   only, which is what promises such as "we will call back within 4 working hours"
//!   count in. A hotline open on Saturdays still makes no promise for Saturday.
//!
//! Pure: every answer is computed from the dates and times passed in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone};
use chrono_tz::Tz;

/// Minutes in a day; `24:00` is allowed as the end of a range.
const DAY_MINUTES: u16 = 24 * 60;

/// How far [`Calendar::add_working_hours`] looks ahead before giving up (a calendar with
/// no working hours at all, or holidays listed for years on end).
const SEARCH_DAYS: u32 = 800;

/// A time-of-day range, `HH:MM-HH:MM`, start inclusive and end exclusive, in minutes
/// since midnight. A range whose end is not after its start wraps past midnight
/// (`18:00-06:00`); only branch conditions accept that, opening hours do not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClockRange {
    start: u16,
    end: u16,
}

impl ClockRange {
    /// Parses `HH:MM-HH:MM`. `24:00` is accepted as an end only.
    pub fn parse(text: &str) -> Result<ClockRange, String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("time range {text:?} is not HH:MM-HH:MM"))?;
        let start = parse_clock(a.trim(), false)?;
        let end = parse_clock(b.trim(), true)?;
        if start == end {
            return Err(format!("time range {text:?} is empty"));
        }
        Ok(ClockRange { start, end })
    }

    /// Whether the range runs past midnight.
    pub fn wraps(self) -> bool {
        self.end <= self.start
    }

    /// Whether `time` falls inside the range.
    pub fn contains(self, time: NaiveTime) -> bool {
        let m = minutes_of(time);
        if self.wraps() {
            m >= self.start || m < self.end
        } else {
            m >= self.start && m < self.end
        }
    }
}

impl fmt::Debug for ClockRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for ClockRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

/// `HH:MM` (one or two hour digits) to minutes since midnight.
fn parse_clock(text: &str, end: bool) -> Result<u16, String> {
    let bad = || format!("bad time {text:?}: need HH:MM, 00:00 to 23:59");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, max_len| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || m.len() != 2 || !digits(m, 2) {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    match (h, m) {
        (24, 0) if end => Ok(DAY_MINUTES),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

fn minutes_of(time: NaiveTime) -> u16 {
    use chrono::Timelike;
    (time.hour() * 60 + time.minute()) as u16
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| format!("bad date {text:?}: need YYYY-MM-DD, a real day"))
}

/// Parses `YYYY-MM-DD` or an inclusive range `YYYY-MM-DD..YYYY-MM-DD` (a holiday week).
pub fn parse_dates(text: &str) -> Result<Vec<NaiveDate>, String> {
    let Some((a, b)) = text.split_once("..") else {
        return Ok(vec![parse_date(text.trim())?]);
    };
    let (first, last) = (parse_date(a.trim())?, parse_date(b.trim())?);
    if last < first {
        return Err(format!("date range {text:?} ends before it starts"));
    }
    if (last - first).num_days() > 366 {
        return Err(format!("date range {text:?} is longer than a year"));
    }
    Ok(first.iter_days().take_while(|d| *d <= last).collect())
}

/// Weekday keys in the order of `chrono::Weekday::num_days_from_monday`.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A hotline's calendar. Built by the dial plan loader, which has checked every range.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: Tz,
    /// Opening hours Monday..Sunday; empty means closed.
    weekly: [Vec<ClockRange>; 7],
    /// Which weekdays are working days when they are neither holiday nor make-up day.
    working_weekdays: [bool; 7],
    holiday_hours: Vec<ClockRange>,
    makeup_hours: Vec<ClockRange>,
    holidays: BTreeSet<NaiveDate>,
    /// Holidays with a name (`spring_festival`), for the greeting of the day.
    holiday_names: BTreeMap<NaiveDate, String>,
    makeup_days: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// A calendar that is never open, in `tz`; fill it with the `with_*` methods.
    pub fn new(tz: Tz) -> Calendar {
        Calendar {
            tz,
            weekly: Default::default(),
            working_weekdays: [true, true, true, true, true, false, false],
            holiday_hours: Vec::new(),
            makeup_hours: Vec::new(),
            holidays: BTreeSet::new(),
            holiday_names: BTreeMap::new(),
            makeup_days: BTreeSet::new(),
        }
    }

    /// Opening hours for one weekday (0 = Monday). Ranges must not wrap past midnight.
    pub fn with_hours(mut self, weekday: usize, hours: Vec<ClockRange>) -> Calendar {
        self.weekly[weekday % 7] = hours;
        self
    }

    /// Which weekdays (0 = Monday) count as working days by default.
    pub fn with_working_weekdays(mut self, days: [bool; 7]) -> Calendar {
        self.working_weekdays = days;
        self
    }

    pub fn with_holiday_hours(mut self, hours: Vec<ClockRange>) -> Calendar {
        self.holiday_hours = hours;
        self
    }

    pub fn with_makeup_hours(mut self, hours: Vec<ClockRange>) -> Calendar {
        self.makeup_hours = hours;
        self
    }

    pub fn with_holidays(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        self.holidays.extend(days);
        self
    }

    /// Holidays with a name; they are holidays like the others.
    pub fn with_named_holiday(
        mut self,
        name: &str,
        days: impl IntoIterator<Item = NaiveDate>,
    ) -> Calendar {
        for d in days {
            self.holidays.insert(d);
            self.holiday_names.insert(d, name.to_string());
        }
        self
    }

    /// The name of the holiday `date` falls in, if it has one.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<&str> {
        self.holiday_names.get(&date).map(String::as_str)
    }

    /// Whether some holiday has this name.
    pub fn has_holiday_named(&self, name: &str) -> bool {
        self.holiday_names.values().any(|n| n == name)
    }

    pub fn with_makeup_days(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        self.makeup_days.extend(days);
        self
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// `at` as a local time of this calendar.
    pub fn local(&self, at: DateTime<Tz>) -> DateTime<Tz> {
        at.with_timezone(&self.tz)
    }

    /// A public holiday (days off, including the weekend days inside a holiday week).
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    /// A weekend day worked to make up for a holiday.
    pub fn is_makeup_day(&self, date: NaiveDate) -> bool {
        self.makeup_days.contains(&date)
    }

    /// Make-up days always; otherwise a working weekday that is not a holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.is_makeup_day(date)
            || (!self.is_holiday(date)
                && self.working_weekdays[date.weekday().num_days_from_monday() as usize])
    }

    /// The hours the hotline answers on `date`.
    pub fn opening_hours(&self, date: NaiveDate) -> &[ClockRange] {
        if self.is_makeup_day(date) {
            &self.makeup_hours
        } else if self.is_holiday(date) {
            &self.holiday_hours
        } else {
            &self.weekly[date.weekday().num_days_from_monday() as usize]
        }
    }

    /// The hours that count as working time on `date`: none on a non-working day.
    pub fn working_hours(&self, date: NaiveDate) -> &[ClockRange] {
        if self.is_working_day(date) {
            self.opening_hours(date)
        } else {
            &[]
        }
    }

    /// Whether the hotline is open at `at` (any time zone; read in the calendar's).
    pub fn is_open(&self, at: DateTime<Tz>) -> bool {
        let local = self.local(at);
        self.opening_hours(local.date_naive())
            .iter()
            .any(|r| r.contains(local.time()))
    }

    /// The moment `hours` of working time after `from`, counting only working hours.
    /// With `hours = 0` it is the start of the next working time (or `from` itself when
    /// inside working hours): the earliest a promised callback can happen. `None` when
    /// the calendar has no working time in the next two years or so.
    pub fn add_working_hours(&self, from: DateTime<Tz>, hours: u32) -> Option<DateTime<Tz>> {
        let from = self.local(from).naive_local();
        let mut left = TimeDelta::hours(i64::from(hours));
        let mut date = from.date();
        for _ in 0..SEARCH_DAYS {
            for range in self.working_hours(date) {
                let start = at_minutes(date, range.start).max(from);
                let end = at_minutes(date, range.end);
                if start >= end {
                    continue;
                }
                let available = end - start;
                if left <= available {
                    return self.zoned(start + left);
                }
                left -= available;
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The end of working time on `date` (the end of its last working range), if it is a
    /// working day with hours.
    pub fn end_of_working_day(&self, date: NaiveDate) -> Option<DateTime<Tz>> {
        let end = self.working_hours(date).iter().map(|r| r.end).max()?;
        self.zoned(at_minutes(date, end))
    }

    /// The end of the `days`-th working day after the local date of `from` ("within N
    /// working days" counted as T+N: the day it arrives is day 0). With `days = 0`, the end
    /// of `from`'s own day if it is a working day, else of the next one. Days without
    /// working hours are skipped. `None` if no such day within the search horizon.
    pub fn add_working_days(&self, from: DateTime<Tz>, days: u32) -> Option<DateTime<Tz>> {
        let start = self.local(from).date_naive();
        let mut date = start;
        let mut left = days;
        for _ in 0..SEARCH_DAYS {
            let counts = !self.working_hours(date).is_empty();
            if counts && (date > start || days == 0) {
                if left <= 1 {
                    return self.end_of_working_day(date);
                }
                left -= 1;
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// A local wall-clock time in this zone; in a daylight-saving gap, the moment after.
    fn zoned(&self, local: NaiveDateTime) -> Option<DateTime<Tz>> {
        self.tz.from_local_datetime(&local).earliest().or_else(|| {
            self.tz
                .from_local_datetime(&(local + TimeDelta::hours(1)))
                .earliest()
        })
    }
}

fn at_minutes(date: NaiveDate, minutes: u16) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_ranges() {
        let r = ClockRange::parse("09:00-18:00").unwrap();
        assert!(r.contains(NaiveTime::from_hms_opt(9, 0, 0).unwrap()));
        assert!(!r.contains(NaiveTime::from_hms_opt(18, 0, 0).unwrap()));
        let w = ClockRange::parse("18:00-06:00").unwrap();
        assert!(w.wraps());
        assert!(w.contains(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
        assert!(w.contains(NaiveTime::from_hms_opt(5, 59, 0).unwrap()));
        assert!(!w.contains(NaiveTime::from_hms_opt(12, 0, 0).unwrap()));
        assert_eq!(
            ClockRange::parse("0:00-24:00").unwrap().to_string(),
            "00:00-24:00"
        );
        for bad in [
            "25:00-26:00",
            "09:00",
            "09:60-10:00",
            "24:00-09:00",
            "9-10",
            "09:00-09:00",
        ] {
            assert!(ClockRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_dates("2026-02-15..2026-02-23").unwrap().len(), 9);
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("2026-2-3").is_err());
        assert!(parse_dates("2026-02-23..2026-02-15").is_err());
    }
}
