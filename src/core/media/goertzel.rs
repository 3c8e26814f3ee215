//! In-band DTMF detection (ITU-T Q.23 tones, Q.24 reception limits) on 8 kHz 16-bit
//! linear audio, for callers whose phones send the tones in the voice stream.
//!
//! # How it decides
//! The audio is cut into half-windows of [`HALF`] = 64 samples (8 ms). For each half the
//! eight Q.23 frequencies get one Goertzel filter each, keeping the complex result, and
//! the half's energy is summed. Every 8 ms the last two halves (a 16 ms window) are
//! judged:
//! - **strongest row and column**, by the window's coherent power (62.5 Hz bins: the
//!   rows are 73-89 Hz apart);
//! - **level**: each tone at least [`MIN_TONE_POWER`] (a sine of amplitude ~350, about
//!   -36 dBm0);
//! - **twist** (ITU-T Q.24, the usual Bellcore/EIA-464 figures): the row tone may be up
//!   to 8 dB louder than the column tone ("normal" twist, as after a line's
//!   high-frequency loss) and the column up to 4 dB louder than the row ("reverse");
//! - **relative peak**: the chosen row beats every other row, and the chosen column
//!   every other column, by 8 dB;
//! - **frequency**: Q.24 wants tones within ±1.5 % accepted and beyond ±3.5 % rejected,
//!   which at 697 Hz is a 10 Hz against a 24 Hz error — finer than any bin a short
//!   window gives. So the frequency is measured instead: a tone `df` off a filter's
//!   frequency turns the filter's phase by `2π·df·64/8000` from one half to the next,
//!   and the limit is set halfway, at ±2.5 %. The turn is unambiguous up to ±62.5 Hz,
//!   beyond 3.5 % of 1633 Hz;
//! - **tone to total energy**: the two tones carry at least 80 % of the window's
//!   energy (speech and music spread theirs);
//! - **second harmonic**: a tone's second harmonic is well below it (voiced speech and
//!   instruments are rich in harmonics, a keypad's sines are not);
//! - **both halves hold tone**: neither half has less than half the other's energy,
//!   so a window half-filled at a tone's start or end does not count.
//!
//! # Timing
//! A key is reported once [`HITS_TO_REPORT`] = 4 consecutive windows agree: at least
//! 32 ms of tone, and always at 40 ms or more, so a 25 ms burst is never a key (Q.24
//! accepts ≥ 40 ms and rejects < 23 ms). After that the key is latched until
//! [`MISSES_TO_RELEASE`] = 6 consecutive windows fail (an interruption of ~40 ms):
//! a 10-20 ms drop-out inside one press is bridged, and the same key pressed again after
//! a normal pause is a new press.
//!
//! # Cost
//! Per sample: eight multiply-adds and one square; per 8 ms: a handful of complex
//! products. The divisions, phase and harmonic checks run only when the cheap checks
//! pass, i.e. almost never on speech or silence.

use std::collections::VecDeque;
use std::f64::consts::PI;

use super::dtmf::{Digit, COLUMN_HZ, KEYPAD, ROW_HZ};

/// Sample rate the detector is built for (G.711 narrowband).
pub const SAMPLE_RATE: u32 = 8000;

/// Samples in a half-window. 64 balances the needs: long enough that a column tone's
/// leakage into a row filter (≥ 236 Hz away, ~1.9 bins) stays ~25 dB down, short
/// enough that the phase turn between halves is unambiguous past ±3.5 % at 1633 Hz.
pub const HALF: usize = 64;

/// Minimum power of each tone, in (16-bit sample units)²: a sine of amplitude A has
/// power A²/2, and 350 is about -36 dBm0 (a 0 dBm0 sine peaks near 22,700).
pub const MIN_TONE_POWER: f32 = 350.0 * 350.0 / 2.0;

/// Row power over column power at most 8 dB ("normal" twist).
const MAX_NORMAL_TWIST: f32 = 6.31;
/// Column power over row power at most 4 dB ("reverse" twist).
const MAX_REVERSE_TWIST: f32 = 2.51;
/// The chosen row (column) over any other row (column): at least 8 dB.
const MIN_RELATIVE_PEAK: f32 = 6.31;
/// Accepted frequency error, as a fraction of the nominal frequency.
const MAX_DEVIATION: f64 = 0.025;
/// The two tones' share of the window's energy.
const MIN_TONE_SHARE: f32 = 0.8;
/// A tone's power over its second harmonic's: at least 10 dB.
const MIN_HARMONIC_RATIO: f32 = 10.0;
/// The weaker half's energy over the stronger's.
const MIN_HALF_BALANCE: f32 = 0.5;

/// Consecutive agreeing windows (8 ms apart) before a key is reported.
pub const HITS_TO_REPORT: u8 = 4;
/// Consecutive failing windows that end a press.
pub const MISSES_TO_RELEASE: u8 = 6;

/// The eight filters' constants, computed once per detector.
#[derive(Debug, Clone)]
struct Filters {
    /// Goertzel feedback coefficient 2·cos(ω).
    coef: [f32; 8],
    /// cos(ω) and sin(ω), to turn the final state into a complex value.
    cos: [f32; 8],
    sin: [f32; 8],
    /// e^{-jω·HALF}: the turn a tone exactly on frequency makes over one half.
    turn: [(f32, f32); 8],
    /// cos of the largest accepted residual turn (the ±2.5 % limit), per filter.
    min_turn_cos: [f32; 8],
    /// ω of each filter (rad/sample), the base of a tone's measured frequency.
    omega: [f64; 8],
}

impl Filters {
    fn new() -> Self {
        let mut f = Filters {
            coef: [0.0; 8],
            cos: [0.0; 8],
            sin: [0.0; 8],
            turn: [(0.0, 0.0); 8],
            min_turn_cos: [0.0; 8],
            omega: [0.0; 8],
        };
        let freqs = ROW_HZ.iter().chain(COLUMN_HZ.iter());
        for (k, &hz) in freqs.enumerate() {
            let omega = 2.0 * PI * f64::from(hz) / f64::from(SAMPLE_RATE);
            f.omega[k] = omega;
            f.coef[k] = (2.0 * omega.cos()) as f32;
            f.cos[k] = omega.cos() as f32;
            f.sin[k] = omega.sin() as f32;
            let half = omega * HALF as f64;
            f.turn[k] = (half.cos() as f32, -half.sin() as f32);
            f.min_turn_cos[k] = (omega * MAX_DEVIATION * HALF as f64).cos() as f32;
        }
        f
    }
}

/// One half-window's results: each filter's complex output and the energy.
#[derive(Debug, Clone, Copy, Default)]
struct Half {
    re: [f32; 8],
    im: [f32; 8],
    energy: f32,
}

/// Finds DTMF keys in 8 kHz linear audio. Feed it every decoded frame in order.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    filters: Filters,
    /// Goertzel state of the half being filled.
    s1: [f32; 8],
    s2: [f32; 8],
    energy: f32,
    /// Samples of the previous half and the current one, for the harmonic check.
    samples: [f32; 2 * HALF],
    /// Samples already in the current half.
    filled: usize,
    previous: Option<Half>,
    /// The key the last windows agreed on, and how many in a row.
    candidate: Option<Digit>,
    hits: u8,
    /// The key reported and still sounding, and the failing windows since it last held.
    latched: Option<Digit>,
    misses: u8,
    /// Keys found beyond the first in one long `push`.
    pending: VecDeque<Digit>,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    pub fn new() -> Self {
        InbandDetector {
            filters: Filters::new(),
            s1: [0.0; 8],
            s2: [0.0; 8],
            energy: 0.0,
            samples: [0.0; 2 * HALF],
            filled: 0,
            previous: None,
            candidate: None,
            hits: 0,
            latched: None,
            misses: 0,
            pending: VecDeque::new(),
        }
    }

    /// Feeds samples (any count; the runtime's 20 ms frames are 160) and returns a key
    /// whose tone has just been held long enough. A key needs 32-40 ms of tone and a
    /// pause after it, so a frame up to 72 ms long completes at most one; if a longer
    /// slice completes several, the rest come from the following calls (an empty slice
    /// will do).
    pub fn push(&mut self, samples: &[i16]) -> Option<Digit> {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (HALF - self.filled).min(rest.len());
            self.filter(&rest[..take]);
            rest = &rest[take..];
            if self.filled == HALF {
                if let Some(digit) = self.end_half() {
                    self.pending.push_back(digit);
                }
            }
        }
        self.pending.pop_front()
    }

    /// Runs the eight filters and the energy sum over part of a half.
    fn filter(&mut self, chunk: &[i16]) {
        let coef = self.filters.coef;
        let (mut s1, mut s2, mut energy) = (self.s1, self.s2, self.energy);
        let base = HALF + self.filled;
        for (i, &sample) in chunk.iter().enumerate() {
            let x = f32::from(sample);
            self.samples[base + i] = x;
            energy += x * x;
            for k in 0..8 {
                let s0 = x + coef[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        (self.s1, self.s2, self.energy) = (s1, s2, energy);
        self.filled += chunk.len();
    }

    /// Closes the current half, judges the window it ends, and updates the press state.
    fn end_half(&mut self) -> Option<Digit> {
        let f = &self.filters;
        let mut half = Half {
            energy: self.energy,
            ..Half::default()
        };
        for k in 0..8 {
            half.re[k] = self.s1[k] - f.cos[k] * self.s2[k];
            half.im[k] = f.sin[k] * self.s2[k];
        }
        let seen = self
            .previous
            .map(|previous| self.judge(&previous, &half).ok());
        self.previous = Some(half);
        self.samples.copy_within(HALF.., 0);
        self.s1 = [0.0; 8];
        self.s2 = [0.0; 8];
        self.energy = 0.0;
        self.filled = 0;
        self.track(seen?)
    }

    /// The key this window holds, or the first check it failed.
    fn judge(&self, a: &Half, b: &Half) -> Result<Digit, Reject> {
        let f = &self.filters;
        // Coherent power over the whole window: the older half plus the newer half
        // turned back by one half's worth of phase.
        let mut coherent = [0.0f32; 8];
        for k in 0..8 {
            let (tr, ti) = f.turn[k];
            let re = a.re[k] + b.re[k] * tr - b.im[k] * ti;
            let im = a.im[k] + b.re[k] * ti + b.im[k] * tr;
            coherent[k] = re * re + im * im;
        }
        let row = strongest(&coherent[..4]);
        let col = 4 + strongest(&coherent[4..]);
        let relative_peak_ok = |range: std::ops::Range<usize>, best: usize| {
            range
                .filter(|&k| k != best)
                .all(|k| coherent[best] >= MIN_RELATIVE_PEAK * coherent[k])
        };
        // Cheap screens first. Each tone's power from the two halves taken apart, which
        // a frequency error lowers little: |X|² = (A·HALF/2)² for a sine of amplitude
        // A, whose power is A²/2. Half the limit here; the exact level comes below.
        let scale = 1.0 / (HALF * HALF) as f32;
        let rough = |k: usize| {
            (a.re[k] * a.re[k] + a.im[k] * a.im[k] + b.re[k] * b.re[k] + b.im[k] * b.im[k]) * scale
        };
        if rough(row) < MIN_TONE_POWER / 2.0 || rough(col) < MIN_TONE_POWER / 2.0 {
            return Err(Reject::Level);
        }
        if a.energy.min(b.energy) < MIN_HALF_BALANCE * a.energy.max(b.energy) {
            return Err(Reject::Partial);
        }
        if !relative_peak_ok(0..4, row) || !relative_peak_ok(4..8, col) {
            return Err(Reject::RelativePeak);
        }
        // Frequency: the residual turn from half to half, z = B·conj(A)·e^{-jω·HALF}.
        let residual = |k: usize| {
            let (pr, pi) = (
                b.re[k] * a.re[k] + b.im[k] * a.im[k],
                b.im[k] * a.re[k] - b.re[k] * a.im[k],
            );
            let (tr, ti) = f.turn[k];
            (pr * tr - pi * ti, pr * ti + pi * tr)
        };
        let (row_z, col_z) = (residual(row), residual(col));
        // |turn| ≤ limit ⟺ cos(turn) ≥ cos(limit); the limit is below π for every filter.
        let within = |k: usize, (re, im): (f32, f32)| re >= f.min_turn_cos[k] * re.hypot(im);
        if !within(row, row_z) || !within(col, col_z) {
            return Err(Reject::Frequency);
        }
        // Now the window looks like a key: measure both tones exactly, with a Goertzel
        // over the whole window at each tone's measured frequency.
        let measured =
            |k: usize, (re, im): (f32, f32)| f.omega[k] + f64::from(im.atan2(re)) / HALF as f64;
        let (row_omega, col_omega) = (measured(row, row_z), measured(col, col_z));
        let (row_power, col_power) = (self.power_at(row_omega), self.power_at(col_omega));
        if row_power < MIN_TONE_POWER || col_power < MIN_TONE_POWER {
            return Err(Reject::Level);
        }
        if row_power > MAX_NORMAL_TWIST * col_power || col_power > MAX_REVERSE_TWIST * row_power {
            return Err(Reject::Twist);
        }
        let energy = (a.energy + b.energy) / (2 * HALF) as f32;
        if row_power + col_power < MIN_TONE_SHARE * energy {
            return Err(Reject::ToneShare);
        }
        // Second harmonics. A row's (1394-1882 Hz) can fall within two bins of the
        // column tone (keys 2, 3, 6, B and C), where it would measure the column
        // itself; there it is not checked.
        let bin = 2.0 * PI / (2 * HALF) as f64;
        let row_clear = (col_omega - 2.0 * row_omega).abs() >= 2.0 * bin;
        if (row_clear && self.power_at(2.0 * row_omega) * MIN_HARMONIC_RATIO > row_power)
            || self.power_at(2.0 * col_omega) * MIN_HARMONIC_RATIO > col_power
        {
            return Err(Reject::Harmonic);
        }
        Ok(KEYPAD[row][col - 4])
    }

    /// Power of the window's samples at `omega` rad/sample, scaled so that a sine of
    /// amplitude A at that frequency gives its power A²/2.
    fn power_at(&self, omega: f64) -> f32 {
        let coef = (2.0 * omega.cos()) as f32;
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in &self.samples {
            let s0 = x + coef * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let n = self.samples.len() as f32;
        2.0 * (s1 * s1 + s2 * s2 - coef * s1 * s2) / (n * n)
    }

    /// Counts agreeing windows into presses.
    fn track(&mut self, seen: Option<Digit>) -> Option<Digit> {
        if seen.is_some() && seen == self.latched {
            self.misses = 0;
            return None;
        }
        if self.latched.is_some() {
            self.misses += 1;
            if self.misses >= MISSES_TO_RELEASE {
                self.latched = None;
            }
        }
        if seen.is_some() && seen == self.candidate {
            self.hits = self.hits.saturating_add(1);
        } else {
            self.candidate = seen;
            self.hits = u8::from(seen.is_some());
        }
        if self.hits >= HITS_TO_REPORT {
            self.latched = self.candidate.take();
            self.hits = 0;
            self.misses = 0;
            return self.latched;
        }
        None
    }
}

/// Why a window holds no key: the checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    Level,
    Twist,
    Partial,
    RelativePeak,
    Frequency,
    ToneShare,
    Harmonic,
}

/// Index of the largest of four powers.
fn strongest(p: &[f32]) -> usize {
    (1..p.len()).fold(0, |best, k| if p[k] > p[best] { k } else { best })
}
