//! In-band DTMF detection (ITU-T Q.23 tones, Q.24 reception limits) on 8 kHz 16-bit
//! linear audio, for callers whose phones send the tones in the voice stream.
//!
//! # How it decides
//! For every quarter-window of [`QUARTER`] = 32 samples (4 ms) each of the eight Q.23
//! frequencies gets a Goertzel filter, keeping its complex result, and the energy is
//! summed. Every 4 ms the last four quarters, a [`WINDOW`] of 128 samples (16 ms), are
//! combined (a rotation and a sum, no new filtering) and judged, cheapest checks first:
//! - **strongest row and column**, by the window's coherent power (62.5 Hz bins; the
//!   rows are 73-89 Hz apart);
//! - **level**: each tone at least [`MIN_TONE_POWER`] (a sine of amplitude ~350, about
//!   -36 dBm0);
//! - **relative peak**: the chosen row beats every other row, and the chosen column
//!   every other column, by 6 dB;
//! - **frequency**: Q.24 wants tones within ±1.5 % accepted and beyond ±3.5 % rejected:
//!   at 697 Hz a 10 Hz against a 24 Hz error, finer than any bin a 16 ms window gives.
//!   So the frequency is measured: a tone `df` off a filter's frequency turns that
//!   filter's phase by `2π·df·64/8000` from the window's first half to its second. The
//!   limit is set halfway, at ±2.5 % (measured in 20 dB of noise: every key accepted to
//!   at least ±2.0 %, none beyond ±2.5 %). The turn is unambiguous to ±62.5 Hz, past
//!   3.5 % of 1633 Hz;
//! - **exact level and twist**: both tones are then measured by a Goertzel over the
//!   window at their measured frequencies. Twist limits (ITU-T Q.24, the usual
//!   Bellcore/EIA-464 figures): the row tone up to 8 dB louder than the column tone
//!   ("normal" twist, as after a line's high-frequency loss), the column up to 4 dB
//!   louder than the row ("reverse"); each with 0.5 dB of margin for measurement;
//! - **tone to total energy**: the two tones carry at least 80 % of the window's energy
//!   (speech and music spread theirs);
//! - **second harmonic**: each tone's is at least 10 dB below it (voiced speech and
//!   instruments are rich in harmonics, keypads' sines are not). A row's second
//!   harmonic (1394-1882 Hz) can fall within two bins of the column tone (keys 2, 3,
//!   6, B, C), where it would measure the column itself; there it is skipped.
//!
//! # Timing
//! The energy share also rejects windows a tone fills less than ~80 %, so a key is
//! reported once [`HITS_TO_REPORT`] = 7 consecutive windows agree: never for a tone
//! shorter than ~33 ms, always for one of 40 ms (Q.24 accepts ≥ 40 ms and rejects
//! < 23 ms). The key then stays latched until [`MISSES_TO_RELEASE`] = 11
//! consecutive windows fail: drop-outs within one press up to ~30 ms are bridged, and
//! after a pause of ~35 ms or more the same key is a new press.
//!
//! # Cost
//! Per sample: the eight filters, vectorised and two samples a step, and a square.
//! Quarters of near-silence (a caller listening) skip the filters. Per 4 ms: a few
//! dozen complex products. The phase, exact-level and harmonic work (one more pass
//! over the window) runs only for windows that pass the cheap checks: never on
//! silence, rarely on speech, throughout a tone. Measured on one core of the build
//! machine (release): ~0.1 µs per 20 ms frame of silence, ~0.4 µs of speech or noise,
//! ~1.6 µs of tone.

use std::collections::VecDeque;
use std::f64::consts::PI;

use super::dtmf::{Digit, COLUMN_HZ, KEYPAD, ROW_HZ};

/// Sample rate the detector is built for (G.711 narrowband).
pub const SAMPLE_RATE: u32 = 8000;

/// Samples in a quarter-window: the filters' unit and the decision step (4 ms).
pub const QUARTER: usize = 32;

/// Samples in the judged window (16 ms). Its halves of 64 balance two needs: long
/// enough that a column tone's leakage into a row filter (≥ 236 Hz away, ~1.9 bins)
/// stays ~25 dB down, short enough that the phase turn from one half to the next is
/// unambiguous past ±3.5 % at 1633 Hz.
pub const WINDOW: usize = 4 * QUARTER;
const HALF: usize = WINDOW / 2;

/// Minimum power of each tone, in (16-bit sample units)²: a sine of amplitude A has
/// power A²/2, and 350 is about -36 dBm0 (a 0 dBm0 sine peaks near 22,700).
pub const MIN_TONE_POWER: f32 = 350.0 * 350.0 / 2.0;

/// Mean power below which a whole quarter is not filtered: 20 dB under
/// [`MIN_TONE_POWER`] (an RMS of 25), so it moves no window's result by more than a few
/// per cent of the weakest acceptable tone.
const QUIET_POWER: f32 = MIN_TONE_POWER / 100.0;

/// Row power over column power: at most 8 dB ("normal" twist), plus 0.5 dB margin.
const MAX_NORMAL_TWIST: f32 = 7.08;
/// Column power over row power: at most 4 dB ("reverse" twist), plus 0.5 dB margin.
const MAX_REVERSE_TWIST: f32 = 2.82;
/// The chosen row (column) over any other row (column): at least 6 dB. Not more: a
/// tone 1.5 % off leaks ~16 dB into its neighbour's bin, and the other group's tone,
/// up to 8 dB louder, adds its own leakage on top.
const MIN_RELATIVE_PEAK: f32 = 3.98;
/// Accepted frequency error, as a fraction of the nominal frequency.
const MAX_DEVIATION: f64 = 0.025;
/// The two tones' share of the window's energy.
const MIN_TONE_SHARE: f32 = 0.8;
/// A tone's power over its second harmonic's: at least 10 dB.
const MIN_HARMONIC_RATIO: f32 = 10.0;

/// Consecutive agreeing windows (4 ms apart) before a key is reported.
pub const HITS_TO_REPORT: u8 = 7;
/// Consecutive failing windows that end a press.
pub const MISSES_TO_RELEASE: u8 = 11;

/// The eight filters' constants, rows then columns, computed once per detector.
#[derive(Debug, Clone)]
struct Filters {
    /// Goertzel feedback coefficient 2·cos(ω).
    coef: [f32; 8],
    /// cos(ω) and sin(ω), to turn a filter's final state into a complex value.
    cos: [f32; 8],
    sin: [f32; 8],
    /// e^{-jω·QUARTER} and e^{-jω·HALF}: the turn of a tone exactly on frequency over
    /// a quarter and a half, to bring later parts to the window's phase reference.
    quarter_turn: [(f32, f32); 8],
    half_turn: [(f32, f32); 8],
    /// cos of the largest accepted residual turn over a half (the ±2.5 % limit).
    min_turn_cos: [f32; 8],
    /// ω (rad/sample), the base of a tone's measured frequency.
    omega: [f64; 8],
    /// A Hann window over the judged window, and its sum.
    hann: [f32; WINDOW],
    hann_sum: f32,
}

impl Filters {
    fn new() -> Self {
        let mut f = Filters {
            coef: [0.0; 8],
            cos: [0.0; 8],
            sin: [0.0; 8],
            quarter_turn: [(0.0, 0.0); 8],
            half_turn: [(0.0, 0.0); 8],
            min_turn_cos: [0.0; 8],
            omega: [0.0; 8],
            hann: [0.0; WINDOW],
            hann_sum: 0.0,
        };
        for (n, w) in f.hann.iter_mut().enumerate() {
            *w = (0.5 - 0.5 * (2.0 * PI * n as f64 / WINDOW as f64).cos()) as f32;
        }
        f.hann_sum = f.hann.iter().sum();
        let turn = |angle: f64| (angle.cos() as f32, -angle.sin() as f32);
        for (k, &hz) in ROW_HZ.iter().chain(COLUMN_HZ.iter()).enumerate() {
            let omega = 2.0 * PI * f64::from(hz) / f64::from(SAMPLE_RATE);
            f.omega[k] = omega;
            f.coef[k] = (2.0 * omega.cos()) as f32;
            f.cos[k] = omega.cos() as f32;
            f.sin[k] = omega.sin() as f32;
            f.quarter_turn[k] = turn(omega * QUARTER as f64);
            f.half_turn[k] = turn(omega * HALF as f64);
            f.min_turn_cos[k] = (omega * MAX_DEVIATION * HALF as f64).cos() as f32;
        }
        f
    }
}

/// One quarter's results: each filter's complex output and the energy.
#[derive(Debug, Clone, Copy, Default)]
struct Quarter {
    re: [f32; 8],
    im: [f32; 8],
    energy: f32,
}

/// Complex product.
fn mul((ar, ai): (f32, f32), (br, bi): (f32, f32)) -> (f32, f32) {
    (ar * br - ai * bi, ar * bi + ai * br)
}

fn norm((re, im): (f32, f32)) -> f32 {
    re * re + im * im
}

/// Finds DTMF keys in 8 kHz linear audio. Feed it every decoded frame, in order.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    filters: Filters,
    /// The eight filters over the quarter being filled.
    bank: Bank,
    energy: f32,
    /// The last window's samples, oldest first; the quarter being filled is the end.
    samples: [f32; WINDOW],
    /// Samples already in the current quarter.
    filled: usize,
    /// The last four quarters' results, oldest first.
    quarters: [Quarter; 4],
    /// Quarters completed, up to four: no window is judged before the first is full.
    completed: usize,
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
        let filters = Filters::new();
        InbandDetector {
            bank: Bank::new(filters.coef),
            filters,
            energy: 0.0,
            samples: [0.0; WINDOW],
            filled: 0,
            quarters: [Quarter::default(); 4],
            completed: 0,
            candidate: None,
            hits: 0,
            latched: None,
            misses: 0,
            pending: VecDeque::new(),
        }
    }

    /// Feeds samples (any count; the runtime's 20 ms frames are 160) and returns a key
    /// whose tone has just been held long enough. A key takes over 30 ms of tone and
    /// a pause, so a slice of up to 60 ms completes at most one; should a longer slice
    /// complete several, the others come from the following calls (an empty slice
    /// will do).
    pub fn push(&mut self, samples: &[i16]) -> Option<Digit> {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (QUARTER - self.filled).min(rest.len());
            self.filter(&rest[..take]);
            rest = &rest[take..];
            if self.filled == QUARTER {
                if let Some(digit) = self.end_quarter() {
                    self.pending.push_back(digit);
                }
            }
        }
        self.pending.pop_front()
    }

    /// Runs the eight filters and the energy sum over part of a quarter.
    fn filter(&mut self, chunk: &[i16]) {
        let start = WINDOW - QUARTER + self.filled;
        let slots = &mut self.samples[start..start + chunk.len()];
        for (slot, &sample) in slots.iter_mut().zip(chunk) {
            *slot = f32::from(sample);
        }
        self.energy += energy(slots);
        self.filled += chunk.len();
        // A whole quarter of near-silence (what a caller sends most of the time, while
        // listening) is left out of the filters: its results are all but zero anyway.
        if chunk.len() == QUARTER && self.energy < QUIET_POWER * QUARTER as f32 {
            return;
        }
        let mut bank = self.bank;
        let mut pairs = slots.chunks_exact(2);
        for pair in &mut pairs {
            bank.step2([pair[0]; 8], [pair[1]; 8]);
        }
        if let [x] = *pairs.remainder() {
            bank.step([x; 8]);
        }
        self.bank = bank;
    }

    /// Closes the current quarter, judges the window it ends, and updates the press.
    fn end_quarter(&mut self) -> Option<Digit> {
        let f = &self.filters;
        let mut quarter = Quarter {
            energy: self.energy,
            ..Quarter::default()
        };
        for k in 0..8 {
            // y = s1 - e^{-jω}·s2: the filter's complex output.
            quarter.re[k] = self.bank.s1[k] - f.cos[k] * self.bank.s2[k];
            quarter.im[k] = f.sin[k] * self.bank.s2[k];
        }
        self.quarters.copy_within(1.., 0);
        self.quarters[3] = quarter;
        self.completed = (self.completed + 1).min(4);
        let seen = (self.completed == 4).then(|| self.judge().ok());
        self.samples.copy_within(QUARTER.., 0);
        self.bank.reset();
        self.energy = 0.0;
        self.filled = 0;
        self.track(seen?)
    }

    /// The key the current window holds, or the first check it failed.
    fn judge(&self) -> Result<Digit, Reject> {
        let f = &self.filters;
        let q = &self.quarters;
        // No filter's power over a half exceeds the half's mean power (Cauchy-Schwarz),
        // so a window this quiet cannot pass the level check below.
        let energy = q.iter().map(|q| q.energy).sum::<f32>() / WINDOW as f32;
        if 4.0 * energy < MIN_TONE_POWER {
            return Err(Reject::Level);
        }
        // Each filter's result over the window's two halves, and the whole window's
        // coherent power, all in the phase reference of the window's start (a later
        // part is turned back by the turn an on-frequency tone makes meanwhile).
        let mut first = [(0.0f32, 0.0f32); 8];
        let mut second = [(0.0f32, 0.0f32); 8];
        let mut coherent = [0.0f32; 8];
        for k in 0..8 {
            let part = |i: usize| (q[i].re[k], q[i].im[k]);
            let join = |early: (f32, f32), late: (f32, f32), turn| {
                let late = mul(late, turn);
                (early.0 + late.0, early.1 + late.1)
            };
            first[k] = join(part(0), part(1), f.quarter_turn[k]);
            second[k] = join(part(2), part(3), f.quarter_turn[k]);
            coherent[k] = norm(join(first[k], second[k], f.half_turn[k]));
        }
        let row = strongest(&coherent[..4]);
        let col = 4 + strongest(&coherent[4..]);

        // Cheap screens. Each tone's power from the two halves taken apart, which a
        // frequency error lowers little: |X|² = (A·HALF/2)² for a sine of amplitude
        // A, whose power is A²/2. Half the limit here; the exact level comes below.
        let rough = |k: usize| (norm(first[k]) + norm(second[k])) / (HALF * HALF) as f32;
        if rough(row) < MIN_TONE_POWER / 2.0 || rough(col) < MIN_TONE_POWER / 2.0 {
            return Err(Reject::Level);
        }
        let peaks = |best: usize, group: std::ops::Range<usize>| {
            group
                .filter(|&k| k != best)
                .all(|k| coherent[best] >= MIN_RELATIVE_PEAK * coherent[k])
        };
        if !peaks(row, 0..4) || !peaks(col, 4..8) {
            return Err(Reject::RelativePeak);
        }

        // Frequency: the residual turn from half to half, z = B·conj(A)·e^{-jω·HALF}.
        let residual = |k: usize| {
            let (ar, ai) = first[k];
            mul(mul(second[k], (ar, -ai)), f.half_turn[k])
        };
        let (row_z, col_z) = (residual(row), residual(col));
        // |turn| ≤ limit ⟺ cos(turn) ≥ cos(limit); the limit is below π for every filter.
        let within = |k: usize, (re, im): (f32, f32)| re >= f.min_turn_cos[k] * re.hypot(im);
        if !within(row, row_z) || !within(col, col_z) {
            return Err(Reject::Frequency);
        }

        // The window looks like a key: measure both tones exactly, by Goertzels over
        // the window at each tone's measured frequency.
        let measured =
            |k: usize, (re, im): (f32, f32)| f.omega[k] + f64::from(im.atan2(re)) / HALF as f64;
        let (row_omega, col_omega) = (measured(row, row_z), measured(col, col_z));
        let m = self.measure(row_omega, col_omega);
        let (row_level, col_level) = (m.row_level, m.col_level);
        if row_level < MIN_TONE_POWER || col_level < MIN_TONE_POWER {
            return Err(Reject::Level);
        }
        if row_level > MAX_NORMAL_TWIST * col_level || col_level > MAX_REVERSE_TWIST * row_level {
            return Err(Reject::Twist);
        }
        let tones = m.row_flat + m.col_flat;
        if tones < MIN_TONE_SHARE * energy {
            return Err(Reject::ToneShare);
        }
        // Hann's main lobe is two bins wide each side.
        let bin = 2.0 * PI / WINDOW as f64;
        let row_clear = (col_omega - 2.0 * row_omega).abs() >= 2.0 * bin;
        if (row_clear && m.row_harmonic * MIN_HARMONIC_RATIO > row_level)
            || m.col_harmonic * MIN_HARMONIC_RATIO > col_level
        {
            return Err(Reject::Harmonic);
        }
        Ok(KEYPAD[row][col - 4])
    }

    /// Measures the window's two tones at their measured frequencies (rad/sample):
    /// six Goertzels in one pass, side by side so they vectorise. Powers are scaled so
    /// that a sine of amplitude A at that frequency gives A²/2.
    fn measure(&self, row_omega: f64, col_omega: f64) -> Measured {
        let (row_cos, col_cos) = (row_omega.cos() as f32, col_omega.cos() as f32);
        // Lanes 0-3 take the plain samples: row and column (2 and 3 are idle); lanes
        // 4-7 the samples through the Hann window: row, column and their second
        // harmonics (cos 2ω = 2cos²ω - 1). Two broadcasts fill a step's input.
        let cos = [
            row_cos,
            col_cos,
            0.0,
            0.0,
            row_cos,
            col_cos,
            2.0 * row_cos * row_cos - 1.0,
            2.0 * col_cos * col_cos - 1.0,
        ];
        let mut bank = Bank::new(cos.map(|c| 2.0 * c));
        let lanes = |x: f32, w: f32| {
            let xw = x * w;
            [x, x, x, x, xw, xw, xw, xw]
        };
        let hann = &self.filters.hann;
        for (x, w) in self.samples.chunks_exact(2).zip(hann.chunks_exact(2)) {
            bank.step2(lanes(x[0], w[0]), lanes(x[1], w[1]));
        }
        let power = |k: usize, gain: f32| 2.0 * bank.power(k) / (gain * gain);
        let (flat, hann) = (WINDOW as f32, self.filters.hann_sum);
        Measured {
            row_flat: power(0, flat),
            col_flat: power(1, flat),
            row_level: power(4, hann),
            col_level: power(5, hann),
            row_harmonic: power(6, hann),
            col_harmonic: power(7, hann),
        }
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

/// Eight Goertzel recurrences, s[n] = x[n] + c·s[n-1] - s[n-2] with c = 2·cos(ω), run
/// side by side so that the compiler vectorises them.
#[derive(Debug, Clone, Copy)]
struct Bank {
    coef: [f32; 8],
    /// c² - 1, for two samples at a time.
    coef2: [f32; 8],
    /// s[n-1] and s[n-2].
    s1: [f32; 8],
    s2: [f32; 8],
}

impl Bank {
    fn new(coef: [f32; 8]) -> Self {
        Bank {
            coef,
            coef2: coef.map(|c| c * c - 1.0),
            s1: [0.0; 8],
            s2: [0.0; 8],
        }
    }

    fn reset(&mut self) {
        self.s1 = [0.0; 8];
        self.s2 = [0.0; 8];
    }

    #[inline(always)]
    fn step(&mut self, x: [f32; 8]) {
        for (k, x) in x.into_iter().enumerate() {
            let s0 = x + self.coef[k] * self.s1[k] - self.s2[k];
            self.s2[k] = self.s1[k];
            self.s1[k] = s0;
        }
    }

    /// Two samples at once, the recurrence unrolled so the second does not wait on
    /// the first: s[n+1] = x[n+1] + c·x[n] + (c² - 1)·s[n-1] - c·s[n-2]. That halves
    /// the chain of dependent operations, which is what bounds the speed.
    #[inline(always)]
    fn step2(&mut self, x0: [f32; 8], x1: [f32; 8]) {
        for k in 0..8 {
            let (c, s1, s2) = (self.coef[k], self.s1[k], self.s2[k]);
            let first = (x0[k] - s2) + c * s1;
            let second = (x1[k] + c * x0[k]) + (self.coef2[k] * s1 - c * s2);
            self.s2[k] = first;
            self.s1[k] = second;
        }
    }

    /// |X|² of filter `k`.
    fn power(&self, k: usize) -> f32 {
        let (s1, s2) = (self.s1[k], self.s2[k]);
        s1 * s1 + s2 * s2 - self.coef[k] * s1 * s2
    }
}

/// A window's two tones measured at their own frequencies. `*_level` and
/// `*_harmonic` go through a Hann window, so the other tone's leakage (up to 8 dB
/// louder, four or more bins away) cannot move them; `*_flat` does not, so a window
/// the tone fills only in part shows it.
#[derive(Debug, Clone, Copy)]
struct Measured {
    row_flat: f32,
    col_flat: f32,
    row_level: f32,
    col_level: f32,
    row_harmonic: f32,
    col_harmonic: f32,
}

/// Why a window holds no key: the checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    Level,
    RelativePeak,
    Frequency,
    Twist,
    ToneShare,
    Harmonic,
}

/// Sum of squares, in eight running sums so that it vectorises.
fn energy(x: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (sum, &v) in sums.iter_mut().zip(chunk) {
            *sum += v * v;
        }
    }
    let rest: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    sums.iter().sum::<f32>() + rest
}

/// Index of the largest power.
fn strongest(p: &[f32]) -> usize {
    (1..p.len()).fold(0, |best, k| if p[k] > p[best] { k } else { best })
}
