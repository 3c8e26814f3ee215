//! Digit patterns for `collect` nodes, in the style telephony operators already know from
//! Asterisk dial plans, so no regular-expression engine is needed for key presses:
//!
//! | token | matches |
//! |---|---|
//! | `0`-`9`, `*`, `#`, `A`-`D` | that key |
//! | `X` | any digit 0-9 |
//! | `Z` | 1-9 |
//! | `N` | 2-9 |
//! | `[...]` | one key from the set; ranges allowed: `[0-9*]`, `[135]` |
//! | `.` | one or more of any key |
//! | `!` | zero or more of any key |
//!
//! The whole input must match: `XXXXX[0-9*]` is six keys, the last a digit or `*`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
enum Token {
    /// One key out of a set.
    One(Vec<char>),
    /// `.` (at least one) or `!` (any number).
    Rest { at_least_one: bool },
}

/// A checked pattern; see the module documentation for the syntax.
#[derive(Clone, PartialEq, Eq)]
pub struct DigitPattern {
    source: String,
    tokens: Vec<Token>,
}

/// DTMF keys, as a caller can press them.
pub fn is_key(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

impl DigitPattern {
    pub fn parse(text: &str) -> Result<DigitPattern, String> {
        let mut tokens = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            let token = match c {
                'X' | 'x' => Token::One(('0'..='9').collect()),
                'Z' | 'z' => Token::One(('1'..='9').collect()),
                'N' | 'n' => Token::One(('2'..='9').collect()),
                '.' => Token::Rest { at_least_one: true },
                '!' => Token::Rest {
                    at_least_one: false,
                },
                '[' => Token::One(parse_set(&mut chars, text)?),
                c if is_key(c) => Token::One(vec![c]),
                c => {
                    return Err(format!(
                        "pattern {text:?}: {c:?} is not a key or X Z N [ ] . !"
                    ))
                }
            };
            tokens.push(token);
        }
        if tokens.is_empty() {
            return Err("pattern is empty".into());
        }
        Ok(DigitPattern {
            source: text.to_owned(),
            tokens,
        })
    }

    /// Whether all of `input` matches.
    pub fn matches(&self, input: &str) -> bool {
        let keys: Vec<char> = input.chars().collect();
        match_from(&self.tokens, &keys)
    }

    /// The shortest and longest input the pattern can match (`None`: unbounded).
    pub fn length(&self) -> (usize, Option<usize>) {
        let mut min = 0;
        let mut bounded = true;
        for t in &self.tokens {
            match t {
                Token::One(_) => min += 1,
                Token::Rest { at_least_one } => {
                    min += usize::from(*at_least_one);
                    bounded = false;
                }
            }
        }
        let max = bounded.then_some(self.tokens.len());
        (min, max)
    }
}

fn parse_set(chars: &mut std::str::Chars<'_>, text: &str) -> Result<Vec<char>, String> {
    let mut set = Vec::new();
    let mut prev: Option<char> = None;
    loop {
        let Some(c) = chars.next() else {
            return Err(format!("pattern {text:?}: '[' without ']'"));
        };
        match c {
            ']' if set.is_empty() => return Err(format!("pattern {text:?}: empty []")),
            ']' => return Ok(set),
            '-' if prev.is_some() => {
                let lo = prev.take().unwrap_or('0');
                let hi = chars
                    .next()
                    .filter(|h| h.is_ascii_digit())
                    .ok_or_else(|| format!("pattern {text:?}: bad range in []"))?;
                if !lo.is_ascii_digit() || hi < lo {
                    return Err(format!("pattern {text:?}: bad range {lo}-{hi}"));
                }
                set.extend((lo..=hi).skip(1));
            }
            c if is_key(c.to_ascii_uppercase()) => {
                set.push(c.to_ascii_uppercase());
                prev = Some(c);
            }
            c => return Err(format!("pattern {text:?}: {c:?} is not a key")),
        }
    }
}

fn match_from(tokens: &[Token], keys: &[char]) -> bool {
    match tokens.split_first() {
        None => keys.is_empty(),
        Some((Token::One(set), rest)) => keys
            .split_first()
            .is_some_and(|(k, more)| set.contains(k) && match_from(rest, more)),
        Some((Token::Rest { at_least_one }, rest)) => {
            let first = usize::from(*at_least_one);
            (first..=keys.len()).any(|skip| match_from(rest, &keys[skip..]))
        }
    }
}

impl fmt::Debug for DigitPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DigitPattern({:?})", self.source)
    }
}

impl fmt::Display for DigitPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let id = DigitPattern::parse("XXXXX[0-9*]").unwrap();
        assert!(id.matches("12345*"));
        assert!(id.matches("123456"));
        assert!(!id.matches("12345"));
        assert!(!id.matches("1234*5"));
        assert_eq!(id.length(), (6, Some(6)));
        let mobile = DigitPattern::parse("1[3-9]XXXXXXXXX").unwrap();
        assert!(mobile.matches("13800138000"));
        assert!(!mobile.matches("12800138000"));
        let any = DigitPattern::parse("62.").unwrap();
        assert!(any.matches("6225880012345678"));
        assert!(!any.matches("62"));
        assert!(DigitPattern::parse("!").unwrap().matches(""));
        for bad in ["", "[", "[]", "abc", "[9-1]"] {
            assert!(DigitPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
