//! Numbers as sequences of prompt names, played one after the other: queue positions,
//! wait times, agent IDs and phone numbers. Pure: no prompts are touched here, only
//! their names (the files come from `scripts/make-prompts.sh`).
//!
//! Languages: a code starting with `zh` (`zh-CN`) is Mandarin; any other is English.
//!
//! English: American style without "and": 105 = "one hundred five", 2024 = "two
//! thousand twenty four".
//!
//! Mandarin, the everyday spoken form:
//! - 10..19 start with 十, not 一十 (15 = 十五), but inside a larger number the 一 is
//!   said (115 = 一百一十五, 110 = 一百一十);
//! - one 零 for any run of zeros inside the number (1005 = 一千零五, 1050 = 一千零五十),
//!   nothing for trailing zeros (1200 = 一千二百);
//! - 两 for a 2 that leads before 百 or 千 (200 = 两百, 2024 = 两千零二十四), 二
//!   everywhere else (1200 = 一千二百, 22 = 二十二, 2 = 二); [`minutes`] also says
//!   两分钟 for 2, as the measure word wants.
//!
//! Numbers above 9999 (never a queue position or a wait in minutes) are read digit by
//! digit, in both languages, because the prompt set has no 万 / million.

/// zero..nineteen / 零..十九 (Mandarin uses 10..19 for 十..十九 only).
const NUM: [&str; 20] = [
    "num_0", "num_1", "num_2", "num_3", "num_4", "num_5", "num_6", "num_7", "num_8", "num_9",
    "num_10", "num_11", "num_12", "num_13", "num_14", "num_15", "num_16", "num_17", "num_18",
    "num_19",
];
/// Twenty..ninety / 二十..九十; indexes 0 and 1 unused.
const TENS: [&str; 10] = [
    "", "", "num_20", "num_30", "num_40", "num_50", "num_60", "num_70", "num_80", "num_90",
];
const DIGIT: [&str; 10] = [
    "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7",
    "digit_8", "digit_9",
];
const HUNDRED: &str = "num_hundred";
const THOUSAND: &str = "num_thousand";
/// 两 (English prompt: "two"), used only in Mandarin.
const LIANG: &str = "num_liang";
const MINUTES: &str = "minutes";
/// English "minute" after "one"; Mandarin always uses `minutes` (分钟).
const MINUTE: &str = "minute";
const LESS_THAN_ONE_MINUTE: &str = "less_than_one_minute";

/// Every prompt name this module can return, so the prompt set can be checked for
/// them at start-up.
pub const NAMES: &[&str] = &[
    "num_0",
    "num_1",
    "num_2",
    "num_3",
    "num_4",
    "num_5",
    "num_6",
    "num_7",
    "num_8",
    "num_9",
    "num_10",
    "num_11",
    "num_12",
    "num_13",
    "num_14",
    "num_15",
    "num_16",
    "num_17",
    "num_18",
    "num_19",
    "num_20",
    "num_30",
    "num_40",
    "num_50",
    "num_60",
    "num_70",
    "num_80",
    "num_90",
    HUNDRED,
    THOUSAND,
    LIANG,
    "digit_0",
    "digit_1",
    "digit_2",
    "digit_3",
    "digit_4",
    "digit_5",
    "digit_6",
    "digit_7",
    "digit_8",
    "digit_9",
    MINUTES,
    MINUTE,
    LESS_THAN_ONE_MINUTE,
];

/// Largest number spoken as a number; above it, [`number`] reads the digits.
pub const MAX_SPOKEN: u32 = 9999;

fn is_chinese(lang: &str) -> bool {
    lang.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("zh"))
}

/// `n` as words, e.g. 123 in English is `num_1 num_hundred num_20 num_3`.
pub fn number(n: u32, lang: &str) -> Vec<&'static str> {
    if n > MAX_SPOKEN {
        return digits(&n.to_string(), lang);
    }
    if is_chinese(lang) {
        chinese(n)
    } else {
        english(n)
    }
}

fn english(n: u32) -> Vec<&'static str> {
    let mut out = Vec::new();
    if n == 0 {
        out.push(NUM[0]);
        return out;
    }
    let (thousands, hundreds, rest) = (n / 1000, n / 100 % 10, n % 100);
    if thousands > 0 {
        out.push(NUM[thousands as usize]);
        out.push(THOUSAND);
    }
    if hundreds > 0 {
        out.push(NUM[hundreds as usize]);
        out.push(HUNDRED);
    }
    if rest >= 20 {
        out.push(TENS[(rest / 10) as usize]);
        if rest % 10 > 0 {
            out.push(NUM[(rest % 10) as usize]);
        }
    } else if rest > 0 {
        out.push(NUM[rest as usize]);
    }
    out
}

fn chinese(n: u32) -> Vec<&'static str> {
    let mut out = Vec::new();
    if n == 0 {
        out.push(NUM[0]);
        return out;
    }
    let (thousands, hundreds, tens, units) = (n / 1000, n / 100 % 10, n / 10 % 10, n % 10);
    let mut started = false;
    // A zero seen after the first non-zero digit: said once, before the next non-zero.
    let mut zero = false;
    for (digit, unit) in [(thousands, THOUSAND), (hundreds, HUNDRED)] {
        if digit == 0 {
            zero |= started;
            continue;
        }
        if zero {
            out.push(NUM[0]);
            zero = false;
        }
        out.push(if digit == 2 && !started {
            LIANG
        } else {
            NUM[digit as usize]
        });
        out.push(unit);
        started = true;
    }
    if tens == 0 {
        zero |= started;
    } else {
        if zero {
            out.push(NUM[0]);
            zero = false;
        }
        if tens == 1 {
            // 十五 on its own, 一十五 inside a larger number
            if started {
                out.push(NUM[1]);
            }
            out.push(NUM[(10 + units) as usize]);
            return out;
        }
        out.push(TENS[tens as usize]);
    }
    if units > 0 {
        if zero {
            out.push(NUM[0]);
        }
        out.push(NUM[units as usize]);
    }
    out
}

/// Each decimal digit of `s` read on its own (agent IDs, phone numbers); anything
/// else in `s` (`+`, spaces, dashes) is skipped. Mandarin reads 1 as 幺, as on the
/// telephone.
pub fn digits(s: &str, _lang: &str) -> Vec<&'static str> {
    // The language picks the recording, not the names: digit_N in both.
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| DIGIT[usize::from(b - b'0')])
        .collect()
}

/// An estimated wait: "less than one minute" for 0, else the number and "minutes"
/// ("one minute" in English, 两分钟 for 2 in Mandarin).
pub fn minutes(n: u32, lang: &str) -> Vec<&'static str> {
    match n {
        0 => vec![LESS_THAN_ONE_MINUTE],
        1 if !is_chinese(lang) => vec![NUM[1], MINUTE],
        2 if is_chinese(lang) => vec![LIANG, MINUTES],
        _ => {
            let mut out = number(n, lang);
            out.push(MINUTES);
            out
        }
    }
}

/// The prompts of a promised time besides the numbers, for [`deadline`]. Every name
/// exists in every language; each language's phrase uses some of them.
pub const DEADLINE_NAMES: &[&str] = &[
    "time_by",
    "time_before",
    "time_today",
    "time_tomorrow",
    "time_day_after",
    "weekday_1",
    "weekday_2",
    "weekday_3",
    "weekday_4",
    "weekday_5",
    "weekday_6",
    "weekday_7",
    "time_in",
    "time_days",
    "time_hour",
    "time_minute",
    "time_oclock",
    "time_oh",
    "time_am",
    "time_pm",
];

/// "We will call you back by 3:30 p.m. today" / 我们将在今天十五点三十分之前给您回电:
/// the promise `when`, said relative to `now` (both local times on the caller's
/// calendar): today, tomorrow, the day after, a weekday within the week, else in N days.
pub fn deadline(
    when: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
    lang: &str,
) -> Vec<&'static str> {
    use chrono::{Datelike, Timelike};
    let days = (when.date() - now.date()).num_days().max(0);
    let mut day = match days {
        0 => vec!["time_today"],
        1 => vec!["time_tomorrow"],
        2 => vec!["time_day_after"],
        3..=6 => vec![DEADLINE_NAMES[4 + when.weekday().number_from_monday() as usize]],
        n => {
            let mut v = vec!["time_in"];
            v.extend(number(n as u32, lang));
            v.push("time_days");
            v
        }
    };
    let (h, m) = (when.hour(), when.minute());
    let mut out = vec!["time_by"];
    if is_chinese(lang) {
        // 今天 十五 点 三十 分 之前: the 24-hour clock, as Chinese services say it.
        out.append(&mut day);
        out.extend(number(h, lang));
        out.push("time_hour");
        if m > 0 {
            out.extend(number(m, lang));
            out.push("time_minute");
        }
        out.push("time_before");
    } else {
        // three thirty p m today; three o'clock; three oh five.
        let h12 = match h % 12 {
            0 => 12,
            h => h,
        };
        out.extend(number(h12, lang));
        match m {
            0 => out.push("time_oclock"),
            1..=9 => {
                out.push("time_oh");
                out.extend(number(m, lang));
            }
            _ => out.extend(number(m, lang)),
        }
        out.push(if h < 12 { "time_am" } else { "time_pm" });
        out.append(&mut day);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn deadlines_are_said_relative_to_now() {
        let now = at("2026-11-23 10:00"); // a Monday
        assert_eq!(
            deadline(at("2026-11-23 15:30"), now, "zh-CN"),
            [
                "time_by",
                "time_today",
                "num_15",
                "time_hour",
                "num_30",
                "time_minute",
                "time_before"
            ]
        );
        assert_eq!(
            deadline(at("2026-11-24 09:05"), now, "en"),
            [
                "time_by",
                "num_9",
                "time_oh",
                "num_5",
                "time_am",
                "time_tomorrow"
            ]
        );
        assert_eq!(
            deadline(at("2026-11-26 12:00"), now, "en"),
            ["time_by", "num_12", "time_oclock", "time_pm", "weekday_4"]
        );
        assert_eq!(
            deadline(at("2026-12-03 09:00"), now, "zh-CN")[1..4],
            ["time_in", "num_10", "time_days"]
        );
        for lang in ["en", "zh-CN"] {
            for name in deadline(at("2026-12-31 23:59"), now, lang) {
                assert!(DEADLINE_NAMES.contains(&name) || NAMES.contains(&name));
            }
        }
    }

    #[test]
    fn every_output_is_in_names() {
        for lang in ["en", "zh-CN"] {
            for n in (0..=10_000).chain([65_535, u32::MAX]) {
                for name in number(n, lang).into_iter().chain(minutes(n, lang)) {
                    assert!(NAMES.contains(&name), "{lang} {n}: {name}");
                }
            }
            for name in digits("0123456789", lang) {
                assert!(NAMES.contains(&name), "{name}");
            }
        }
    }

    #[test]
    fn language_codes() {
        assert!(is_chinese("zh-CN"));
        assert!(is_chinese("zh"));
        assert!(is_chinese("ZH-cn"));
        assert!(!is_chinese("en"));
        assert!(!is_chinese("z"));
        assert!(!is_chinese(""));
    }
}
