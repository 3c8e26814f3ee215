//! The prompt set in memory: every prompt encoded once into µ-law and A-law, so every
//! call plays the same shared bytes and no call ever decodes or resamples.
//!
//! Reading the set from a folder of WAV files is I/O, so it lives outside the core, in
//! [`crate::prompts`]; this module only holds and encodes samples.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::core::sdp::Codec;

use super::g711::{linear_to_alaw, linear_to_ulaw, ALAW_SILENCE, ULAW_SILENCE};

/// The only sample rate prompts may have: G.711's.
pub const SAMPLE_RATE: u32 = 8000;
/// Bytes in one 20 ms G.711 frame at 8000 Hz (one byte per sample).
pub const FRAME_BYTES: usize = 160;

/// One prompt, encoded for both G.711 laws. Cloning it (or its fields) clones `Arc`s.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// µ-law, padded with µ-law silence to a whole number of [`FRAME_BYTES`] frames.
    pub ulaw: Arc<[u8]>,
    /// A-law, padded with A-law silence the same way.
    pub alaw: Arc<[u8]>,
    /// Length of the recording itself, without the padding.
    pub duration: Duration,
}

impl Prompt {
    /// The encoding a call using `codec` plays (shared, not copied).
    pub fn clip(&self, codec: Codec) -> Arc<[u8]> {
        match codec {
            Codec::Pcmu => self.ulaw.clone(),
            Codec::Pcma => self.alaw.clone(),
        }
    }

    /// Encodes 8 kHz samples once for both laws.
    pub fn from_samples(samples: &[i16]) -> Prompt {
        let padded = samples.len().div_ceil(FRAME_BYTES) * FRAME_BYTES;
        let encode = |law: fn(i16) -> u8, silence: u8| -> Arc<[u8]> {
            let mut out: Vec<u8> = samples.iter().map(|&s| law(s)).collect();
            out.resize(padded, silence);
            out.into()
        };
        Prompt {
            ulaw: encode(linear_to_ulaw, ULAW_SILENCE),
            alaw: encode(linear_to_alaw, ALAW_SILENCE),
            duration: Duration::from_micros(
                samples.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE),
            ),
        }
    }

    /// Number of 20 ms frames (the padded length).
    pub fn frames(&self) -> usize {
        self.ulaw.len() / FRAME_BYTES
    }
}

/// All prompts by language and name; sorted, so listings are stable.
#[derive(Debug, Clone, Default)]
pub struct PromptSet {
    langs: BTreeMap<String, BTreeMap<String, Prompt>>,
}

impl PromptSet {
    /// Adds (or replaces) prompt `name` of language `lang`.
    pub fn insert(&mut self, lang: &str, name: &str, prompt: Prompt) {
        self.langs
            .entry(lang.to_owned())
            .or_default()
            .insert(name.to_owned(), prompt);
    }

    /// The prompt `name` in language `lang`.
    pub fn get(&self, lang: &str, name: &str) -> Option<&Prompt> {
        self.langs.get(lang)?.get(name)
    }

    /// Language codes (folder names), sorted.
    pub fn languages(&self) -> Vec<&str> {
        self.langs.keys().map(String::as_str).collect()
    }

    /// Prompt names in `lang`, sorted; empty for an unknown language.
    pub fn names(&self, lang: &str) -> Vec<&str> {
        self.langs
            .get(lang)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Every `(language, name)` among `required` that some language lacks, for the
    /// dial-plan validator; sorted by language, then in `required` order.
    pub fn missing(&self, required: &[&str]) -> Vec<(String, String)> {
        self.langs
            .iter()
            .flat_map(|(lang, prompts)| {
                required
                    .iter()
                    .filter(|name| !prompts.contains_key(**name))
                    .map(move |name| (lang.clone(), (*name).to_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_whole_frames_with_silence() {
        let p = Prompt::from_samples(&[1000; 161]);
        assert_eq!(p.frames(), 2);
        assert_eq!(p.ulaw.len(), 320);
        assert_eq!(p.alaw.len(), 320);
        assert_eq!(p.ulaw[160], linear_to_ulaw(1000));
        assert!(p.ulaw[161..].iter().all(|&b| b == ULAW_SILENCE));
        assert!(p.alaw[161..].iter().all(|&b| b == ALAW_SILENCE));
        assert_eq!(p.duration, Duration::from_micros(161 * 125));

        let exact = Prompt::from_samples(&[0; 320]);
        assert_eq!(exact.frames(), 2);
    }
}
