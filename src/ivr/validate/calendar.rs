//! The `[calendar]` section: opening hours per weekday, working days, holidays (named
//! or not) and make-up days, each mistake named at its line.

use std::collections::BTreeSet;

use chrono_tz::Tz;

use super::{schema, Cx};
use crate::ivr::calendar::{parse_dates, Calendar, ClockRange, WEEKDAYS};
use crate::ivr::schema::Text;

impl Cx<'_> {
    pub(super) fn read_calendar(&mut self, c: &schema::CalendarFile, tz: Tz) -> Calendar {
        let mut cal = Calendar::new(tz);
        let mut weekly: [Option<Vec<ClockRange>>; 7] = Default::default();
        for (day, hours) in &c.hours {
            match WEEKDAYS.iter().position(|w| w == day.get_ref()) {
                Some(i) => weekly[i] = Some(self.hours(hours)),
                None => self.err(
                    day.span(),
                    format!("unknown weekday {:?} (mon, tue, ..., sun)", day.get_ref()),
                ),
            }
        }
        let makeup = match &c.makeup_hours {
            Some(h) => self.hours(h),
            None => weekly[0].clone().unwrap_or_default(),
        };
        let holiday = c
            .holiday_hours
            .as_ref()
            .map(|h| self.hours(h))
            .unwrap_or_default();
        if let Some(days) = &c.working_days {
            let mut set = [false; 7];
            for d in days {
                match WEEKDAYS.iter().position(|w| w == d.get_ref()) {
                    Some(i) => set[i] = true,
                    None => self.err(
                        d.span(),
                        format!("unknown weekday {:?} (mon, tue, ..., sun)", d.get_ref()),
                    ),
                }
            }
            cal = cal.with_working_weekdays(set);
        }
        for (i, hours) in weekly.into_iter().enumerate() {
            cal = cal.with_hours(i, hours.unwrap_or_default());
        }
        let mut holidays = BTreeSet::new();
        for h in &c.holidays {
            match parse_dates(h.get_ref()) {
                Ok(days) => holidays.extend(days),
                Err(m) => self.err(h.span(), m),
            }
        }
        let mut named = Vec::new();
        for (name, dates) in &c.named_holidays {
            match parse_dates(dates.get_ref()) {
                Ok(days) => {
                    if let Some(d) = days.iter().find(|d| holidays.contains(d)) {
                        self.err(dates.span(), format!("{d} is listed twice as a holiday"));
                    }
                    holidays.extend(days.iter().copied());
                    self.holiday_names.insert(name.get_ref().clone());
                    named.push((name.get_ref().clone(), days));
                }
                Err(m) => self.err(dates.span(), m),
            }
        }
        let mut makeup_days = BTreeSet::new();
        for m in &c.makeup_days {
            match parse_dates(m.get_ref()) {
                Ok(days) => {
                    if let Some(d) = days.iter().find(|d| holidays.contains(d)) {
                        self.err(
                            m.span(),
                            format!("{d} is both a holiday and a make-up working day"),
                        );
                    }
                    makeup_days.extend(days);
                }
                Err(e) => self.err(m.span(), e),
            }
        }
        let cal = cal
            .with_holiday_hours(holiday)
            .with_makeup_hours(makeup)
            .with_holidays(holidays)
            .with_makeup_days(makeup_days);
        named
            .into_iter()
            .fold(cal, |cal, (name, days)| cal.with_named_holiday(&name, days))
    }

    /// Opening hours: `"09:00-12:00, 13:00-18:00"`; `""` or `"closed"` for none.
    fn hours(&mut self, text: &Text) -> Vec<ClockRange> {
        let value = text.get_ref().trim();
        if value.is_empty() || value == "closed" {
            return Vec::new();
        }
        let mut out = Vec::new();
        for part in value.split(',') {
            match ClockRange::parse(part.trim()) {
                Ok(r) if r.wraps() => self.err(
                    text.span(),
                    format!(
                        "opening hours {:?} run past midnight: split them over two days",
                        part.trim()
                    ),
                ),
                Ok(r) => out.push(r),
                Err(m) => self.err(text.span(), m),
            }
        }
        out
    }
}
