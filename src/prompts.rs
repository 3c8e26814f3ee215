//! Reading the prompt set from disk: every `<dir>/<lang>/<name>.wav`, read once at
//! start-up (and by `hotline check` and `hotline simulate`), checked (8000 Hz, mono,
//! 16-bit integer PCM) and handed to [`PromptSet`], which encodes it. Kept out of
//! [`crate::core`] because the core does no I/O; nothing here runs on the per-call path.
//!
//! Only WAV files whose sample rate, channels and sample format already match are
//! accepted: converting here would hide a bad file until someone hears it on a call.
//! `scripts/make-prompts.sh` makes the shipped set.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::core::media::prompt::{Prompt, PromptSet, SAMPLE_RATE};

/// Why a prompt folder or file cannot be used. Each names the path, so `hotline check`
/// can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The folder or a language folder could not be listed.
    #[error("{}: cannot read folder: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not a WAV file hound can read (truncated, another container, compressed).
    #[error("{}: cannot read as WAV ({source}); need 8000 Hz mono 16-bit PCM", path.display())]
    Wav { path: PathBuf, source: hound::Error },
    /// A readable WAV in another format: playing it would need resampling or mixing.
    #[error("{}: {format}; need 8000 Hz mono 16-bit", path.display())]
    Format { path: PathBuf, format: WavFormat },
    /// A prompt with no samples would play nothing and hide a broken file.
    #[error("{}: no audio", path.display())]
    Empty { path: PathBuf },
    /// Prompt names come from file names and are looked up by string.
    #[error("{}: file name is not UTF-8", path.display())]
    Name { path: PathBuf },
    /// Without a language folder there is nothing to play at all.
    #[error("{}: no language folders (expected zh-CN/ and en/ with .wav files)", path.display())]
    NoLanguages { path: PathBuf },
    /// A language folder without prompts is almost certainly a mistake.
    #[error("{}: no .wav files", path.display())]
    EmptyLanguage { path: PathBuf },
}

/// A WAV file's format as found, for error messages ("44100 Hz, 2 channels, 16-bit").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits: u16,
    pub float: bool,
}

impl WavFormat {
    fn of(spec: hound::WavSpec) -> WavFormat {
        WavFormat {
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            bits: spec.bits_per_sample,
            float: spec.sample_format == hound::SampleFormat::Float,
        }
    }

    fn is_usable(self) -> bool {
        self.sample_rate == SAMPLE_RATE && self.channels == 1 && self.bits == 16 && !self.float
    }
}

impl fmt::Display for WavFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.channels == 1 { "" } else { "s" };
        let float = if self.float { " float" } else { "" };
        write!(
            f,
            "{} Hz, {} channel{plural}, {}-bit{float}",
            self.sample_rate, self.channels, self.bits
        )
    }
}

/// Reads `dir/<lang>/*.wav` for every sub-folder `<lang>` of `dir`. Other files
/// (a README) and hidden entries are ignored. Every problem is reported, not just
/// the first, so one `hotline check` run lists all bad files.
pub fn load(dir: &Path) -> Result<PromptSet, Vec<PromptError>> {
    let mut errors = Vec::new();
    let mut set = PromptSet::default();
    let lang_dirs = match list(dir) {
        Ok(entries) => entries
            .into_iter()
            .filter(|p| p.is_dir())
            .collect::<Vec<_>>(),
        Err(e) => return Err(vec![e]),
    };
    for lang_dir in lang_dirs {
        let Some(lang) = lang_dir.file_name().and_then(|n| n.to_str()) else {
            errors.push(PromptError::Name { path: lang_dir });
            continue;
        };
        let files = match list(&lang_dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut found = false;
        for path in files.into_iter().filter(|p| is_wav(p) && !p.is_dir()) {
            let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
                errors.push(PromptError::Name { path });
                continue;
            };
            match read(&path) {
                Ok(samples) => {
                    set.insert(lang, name, Prompt::from_samples(&samples));
                    found = true;
                }
                Err(e) => errors.push(e),
            }
        }
        if !found && !errors.iter().any(|e| under(e, &lang_dir)) {
            errors.push(PromptError::EmptyLanguage { path: lang_dir });
        }
    }
    if set.languages().is_empty() && errors.is_empty() {
        errors.push(PromptError::NoLanguages {
            path: dir.to_owned(),
        });
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

/// One line per problem with the prompt folder, for `hotline check`: every file that
/// does not load, and every prompt one language has and another lacks (callers of the
/// other language would hear silence). Empty means the folder is usable.
pub fn check(dir: &Path) -> Vec<String> {
    let set = match load(dir) {
        Ok(set) => set,
        Err(errors) => return errors.iter().map(ToString::to_string).collect(),
    };
    let all: BTreeSet<&str> = set
        .languages()
        .into_iter()
        .flat_map(|lang| set.names(lang))
        .collect();
    let mut lines = Vec::new();
    for lang in set.languages() {
        let lacking: Vec<&str> = all
            .iter()
            .copied()
            .filter(|n| set.get(lang, n).is_none())
            .collect();
        if !lacking.is_empty() {
            lines.push(format!(
                "{}: missing {} (present in another language)",
                dir.join(lang).display(),
                lacking.join(", ")
            ));
        }
    }
    lines
}

/// The entries of a folder, hidden ones left out, sorted so errors come in order.
fn list(dir: &Path) -> Result<Vec<PathBuf>, PromptError> {
    let err = |source| PromptError::Dir {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        if !entry.file_name().as_encoded_bytes().starts_with(b".") {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn is_wav(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
}

/// Whether an error is about a file inside `dir` (so an empty language folder caused
/// by bad files is not reported twice).
fn under(e: &PromptError, dir: &Path) -> bool {
    match e {
        PromptError::Wav { path, .. }
        | PromptError::Format { path, .. }
        | PromptError::Empty { path }
        | PromptError::Name { path } => path.starts_with(dir),
        _ => false,
    }
}

/// The samples of one file, if it is 8000 Hz mono 16-bit integer PCM.
fn read(path: &Path) -> Result<Vec<i16>, PromptError> {
    let wav = |source| PromptError::Wav {
        path: path.to_owned(),
        source,
    };
    let mut reader = hound::WavReader::open(path).map_err(wav)?;
    let format = WavFormat::of(reader.spec());
    if !format.is_usable() {
        return Err(PromptError::Format {
            path: path.to_owned(),
            format,
        });
    }
    let samples = reader
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(wav)?;
    if samples.is_empty() {
        return Err(PromptError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_text() {
        let f = WavFormat {
            sample_rate: 44100,
            channels: 2,
            bits: 16,
            float: false,
        };
        assert_eq!(f.to_string(), "44100 Hz, 2 channels, 16-bit");
        let g = WavFormat {
            sample_rate: 8000,
            channels: 1,
            bits: 32,
            float: true,
        };
        assert_eq!(g.to_string(), "8000 Hz, 1 channel, 32-bit float");
        assert!(!g.is_usable());
    }
}
