//! G.711 against the reference algorithms, exhaustively: every 16-bit input and every
//! code.
//!
//! References, transliterated below from C:
//! - µ-law: the classic Sun Microsystems `g711.c` (`linear2ulaw`/`ulaw2linear`, 16-bit
//!   input, BIAS 0x84). The ITU-T G.191 software tools library (`ulaw_compress`) takes
//!   the magnitude of a negative sample as its one's complement, so for some negative
//!   inputs it picks the neighbouring code; every such input lies exactly halfway
//!   between the two codes' values, so both are nearest (checked below).
//! - A-law: ITU-T G.191 `alaw_compress`/`alaw_expand`. (The classic Sun `g711.c` takes a
//!   negative sample's magnitude as `-x - 8`, which is not the nearest level for some
//!   inputs and goes negative for -1..-7; the G.191 code has neither problem.)
//!
//! µ-law has two codes for zero, 0xFF (+0) and 0x7F (-0). Both decode to 0 and 0
//! encodes to 0xFF, so 0x7F is the one code that does not survive decode→encode.

use hotline::core::media::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};

/// Sun g711.c `linear2ulaw`.
fn sun_linear2ulaw(pcm: i16) -> u8 {
    const SEG_END: [i32; 8] = [0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF];
    let (pcm, mask) = if pcm < 0 {
        (0x84 - i32::from(pcm), 0x7F)
    } else {
        (i32::from(pcm) + 0x84, 0xFF)
    };
    match SEG_END.iter().position(|&end| pcm <= end) {
        None => 0x7F ^ mask,
        Some(seg) => (((seg as i32) << 4) | ((pcm >> (seg + 3)) & 0xF)) as u8 ^ mask,
    }
}

/// Sun g711.c `ulaw2linear` (equal to G.191 `ulaw_expand` on every code).
fn sun_ulaw2linear(code: u8) -> i16 {
    let u = !code;
    let t = ((i32::from(u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// ITU-T G.191 `ulaw_compress`.
fn g191_ulaw_compress(x: i16) -> u8 {
    let absno = if x < 0 { (!x >> 2) + 33 } else { (x >> 2) + 33 };
    let absno = i32::from(absno).min(0x1FFF);
    let (mut i, mut segno) = (absno >> 6, 1);
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high = 0x0008 - segno;
    let low = 0x000F - ((absno >> segno) & 0x000F);
    let code = (high << 4) | low;
    (if x >= 0 { code | 0x0080 } else { code }) as u8
}

/// ITU-T G.191 `alaw_compress`.
fn g191_alaw_compress(x: i16) -> u8 {
    let mut ix = if x < 0 { !x >> 4 } else { x >> 4 };
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if x >= 0 {
        ix |= 0x0080;
    }
    (ix ^ 0x0055) as u8
}

/// ITU-T G.191 `alaw_expand`.
fn g191_alaw_expand(code: u8) -> i16 {
    let ix = (code ^ 0x55) & 0x7F;
    let iexp = ix >> 4;
    let mut mant = i32::from(ix & 0x0F);
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 0x0008;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    (if code > 127 { mant } else { -mant }) as i16
}

fn all_samples() -> impl Iterator<Item = i16> {
    i16::MIN..=i16::MAX
}

#[test]
fn known_values() {
    // µ-law: zero is 0xFF; -1 rounds to zero too, as the negative zero 0x7F; the ends
    // clip to the largest codes, which decode to ±32124.
    assert_eq!(linear_to_ulaw(0), 0xFF);
    assert_eq!(linear_to_ulaw(-1), 0x7F);
    assert_eq!(linear_to_ulaw(32767), 0x80);
    assert_eq!(linear_to_ulaw(-32768), 0x00);
    assert_eq!(ulaw_to_linear(0x00), -32124);
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(ulaw_to_linear(0xFF), 0);
    assert_eq!(ulaw_to_linear(0x7F), 0);
    assert_eq!(ulaw_to_linear(0xFE), 8);
    assert_eq!(ulaw_to_linear(0x7E), -8);
    // A-law has no zero level: the smallest are ±8; the ends are ±32256.
    assert_eq!(linear_to_alaw(0), 0xD5);
    assert_eq!(linear_to_alaw(-1), 0x55);
    assert_eq!(linear_to_alaw(32767), 0xAA);
    assert_eq!(linear_to_alaw(-32768), 0x2A);
    assert_eq!(alaw_to_linear(0xD5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xAA), 32256);
    assert_eq!(alaw_to_linear(0x2A), -32256);
    // The same values from the references, so the literals above are not guesses.
    assert_eq!(sun_linear2ulaw(-1), 0x7F);
    assert_eq!(sun_ulaw2linear(0x00), -32124);
    assert_eq!(g191_alaw_expand(0x2A), -32256);
    assert_eq!(g191_alaw_compress(-1), 0x55);
}

#[test]
fn decoders_match_the_references_on_every_code() {
    for code in 0..=u8::MAX {
        assert_eq!(
            ulaw_to_linear(code),
            sun_ulaw2linear(code),
            "µ-law {code:#04x}"
        );
        assert_eq!(
            alaw_to_linear(code),
            g191_alaw_expand(code),
            "A-law {code:#04x}"
        );
    }
}

#[test]
fn ulaw_encoder_matches_sun_on_every_sample() {
    for x in all_samples() {
        assert_eq!(linear_to_ulaw(x), sun_linear2ulaw(x), "sample {x}");
    }
}

/// G.191 takes a negative sample's magnitude as its one's complement, one less than
/// Sun's: its code for x < 0 is Sun's for x + 1 (with the sign of a negative sample).
/// The two differ only where x sits exactly on a decision boundary.
#[test]
fn ulaw_encoder_differs_from_g191_only_on_decision_boundaries() {
    let mut boundaries = 0;
    for x in all_samples() {
        let itu = g191_ulaw_compress(x);
        if x >= 0 {
            assert_eq!(linear_to_ulaw(x), itu, "sample {x}");
        } else {
            assert_eq!(linear_to_ulaw(x + 1) & 0x7F, itu, "sample {x}");
            boundaries += usize::from(linear_to_ulaw(x) != itu);
        }
    }
    // One per boundary between the 128 negative values.
    assert_eq!(boundaries, 127);
}

#[test]
fn alaw_encoder_matches_g191_on_every_sample() {
    for x in all_samples() {
        assert_eq!(linear_to_alaw(x), g191_alaw_compress(x), "sample {x}");
    }
}

#[test]
fn every_code_survives_decode_then_encode() {
    for code in 0..=u8::MAX {
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            linear_to_ulaw(ulaw_to_linear(code)),
            expected,
            "µ-law {code:#04x}"
        );
        assert_eq!(
            linear_to_alaw(alaw_to_linear(code)),
            code,
            "A-law {code:#04x}"
        );
    }
}

/// Encoding a decoded sample gives the same code, so re-encoding (a conference, a
/// recording) loses nothing more. The one exception: -1..-4 encode to µ-law's
/// negative zero 0x7F, which decodes to 0, which encodes to 0xFF.
#[test]
fn encoding_is_idempotent_for_every_sample() {
    for x in all_samples() {
        let u = linear_to_ulaw(x);
        let expected = if u == 0x7F { 0xFF } else { u };
        assert_eq!(
            linear_to_ulaw(ulaw_to_linear(u)),
            expected,
            "µ-law, sample {x}"
        );
        let a = linear_to_alaw(x);
        assert_eq!(linear_to_alaw(alaw_to_linear(a)), a, "A-law, sample {x}");
    }
}

/// Each code stands for an interval of samples with its value in the middle: a sample
/// is never more than half a step from its code's value (beyond the largest value
/// µ-law clips), and a larger sample never gets a smaller value. G.711's decision
/// levels are the interval edges, so where the step doubles at a segment boundary the
/// chosen value need not be the nearest one.
#[test]
fn quantisation_error_is_at_most_half_a_step() {
    fn ulaw_step(code: u8) -> i32 {
        8 << ((!code >> 4) & 7)
    }
    fn alaw_step(code: u8) -> i32 {
        let exponent = ((code ^ 0x55) >> 4) & 7;
        16 << exponent.saturating_sub(1)
    }
    type Law = (&'static str, fn(i16) -> u8, fn(u8) -> i16, fn(u8) -> i32);
    let laws: [Law; 2] = [
        ("µ-law", linear_to_ulaw, ulaw_to_linear, ulaw_step),
        ("A-law", linear_to_alaw, alaw_to_linear, alaw_step),
    ];
    for (name, encode, decode, step) in laws {
        let mut previous = i32::MIN;
        for x in all_samples() {
            let code = encode(x);
            let value = i32::from(decode(code));
            let error = (value - i32::from(x)).abs();
            let clipped = name == "µ-law" && i32::from(x).abs() > 32124 + 512;
            assert!(
                clipped || 2 * error <= step(code),
                "{name}: sample {x} -> {value}"
            );
            assert!(
                value >= previous,
                "{name}: sample {x} -> {value} < {previous}"
            );
            previous = value;
        }
    }
}
