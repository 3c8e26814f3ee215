//! The shipped prompt set (prompts/, made by scripts/make-prompts.sh), the loader's
//! format checks, and numbers spoken as prompt names.

use std::path::{Path, PathBuf};

use hotline::core::media::prompt::{PromptSet, FRAME_BYTES};
use hotline::core::media::speech::{self, digits, minutes, number};
use hotline::prompts;

const LANGS: [&str; 2] = ["en", "zh-CN"];

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")
}

fn load_shipped() -> PromptSet {
    match prompts::load(&shipped()) {
        Ok(set) => set,
        Err(errors) => panic!("shipped prompts do not load: {errors:#?}"),
    }
}

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("hotline-prompts-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A 0.1 s 440 Hz tone in the given format.
fn write_wav(path: &Path, sample_rate: u32, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..sample_rate / 10 {
        let t = i as f32 / sample_rate as f32;
        let s = ((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16;
        for _ in 0..channels {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
}

// ------------------------------------------------------------------ shipped set

#[test]
fn shipped_set_loads() {
    let set = load_shipped();
    assert_eq!(set.languages(), vec!["en", "zh-CN"]);
    assert!(
        prompts::check(&shipped()).is_empty(),
        "{:?}",
        prompts::check(&shipped())
    );
}

#[test]
fn both_languages_have_the_same_names() {
    let set = load_shipped();
    assert_eq!(set.names("en"), set.names("zh-CN"));
    assert!(set.names("en").len() > 50);
    assert!(set.names("fr").is_empty());
}

#[test]
fn every_name_speech_can_emit_exists() {
    let set = load_shipped();
    assert_eq!(set.missing(speech::NAMES), Vec::<(String, String)>::new());
    // and NAMES really covers what the functions return
    for lang in LANGS {
        for n in 0..=10_000 {
            for name in number(n, lang).into_iter().chain(minutes(n, lang)) {
                assert!(set.get(lang, name).is_some(), "{lang} {n}: {name}");
            }
        }
        for name in digits("0123456789", lang) {
            assert!(set.get(lang, name).is_some(), "{lang}: {name}");
        }
    }
}

#[test]
fn the_prompts_the_product_needs_exist() {
    let set = load_shipped();
    let needed = [
        "greeting_morning",
        "greeting_afternoon",
        "greeting_evening",
        "greeting_holiday",
        "language_choice",
        "main_menu",
        "enter_account",
        "enter_pin",
        "enter_id_digits",
        "verify_ok",
        "verify_failed",
        "verify_locked",
        "invalid_key",
        "no_input",
        "queue_all_busy",
        "queue_you_are_number",
        "queue_in_queue",
        "queue_estimated_wait",
        "queue_press_star_callback",
        "agent_number",
        "agent_will_serve",
        "transferring",
        "please_hold",
        "complaint_recorded",
        "fault_recorded",
        "urgent_line",
        "callback_offer",
        "callback_number_is",
        "callback_confirm_keys",
        "callback_confirmed",
        "after_hours",
        "voicemail",
        "beep",
        "survey_question",
        "survey_thanks",
        "goodbye",
        "hold_music",
        "callback_preview",
        "callback_preview_keys",
        "number_ending_in",
    ];
    assert_eq!(set.missing(&needed), Vec::<(String, String)>::new());
    assert_eq!(
        set.missing(&["no_such_prompt"]),
        vec![
            ("en".to_owned(), "no_such_prompt".to_owned()),
            ("zh-CN".to_owned(), "no_such_prompt".to_owned()),
        ]
    );
}

#[test]
fn shipped_frames_are_whole_and_lengths_plausible() {
    let set = load_shipped();
    for lang in LANGS {
        for name in set.names(lang) {
            let p = set.get(lang, name).unwrap();
            assert_eq!(p.ulaw.len() % FRAME_BYTES, 0, "{lang}/{name}");
            assert_eq!(p.alaw.len(), p.ulaw.len(), "{lang}/{name}");
            assert_eq!(p.frames() * FRAME_BYTES, p.ulaw.len());
            let ms = p.duration.as_millis();
            // a spoken word with its 2 x 100 ms of padding is at least ~0.4 s
            assert!((300..=30_000).contains(&ms), "{lang}/{name}: {ms} ms");
            assert!(p.frames() as u128 * 20 >= ms, "{lang}/{name}");
        }
    }
    let music = set.get("en", "hold_music").unwrap();
    assert!((20..=30).contains(&music.duration.as_secs()));
    let beep = set.get("zh-CN", "beep").unwrap();
    assert_eq!(beep.duration.as_millis(), 400);
    // the same bytes in both languages for the tones
    for name in ["hold_music", "beep", "language_choice"] {
        assert_eq!(
            set.get("en", name).unwrap().ulaw,
            set.get("zh-CN", name).unwrap().ulaw,
            "{name}"
        );
    }
}

// ------------------------------------------------------------------ refusals

#[test]
fn wrong_formats_are_refused_with_file_and_format() {
    let tmp = TempDir::new("formats");
    let en = tmp.0.join("en");
    std::fs::create_dir_all(&en).unwrap();
    write_wav(&en.join("good.wav"), 8000, 1);
    write_wav(&en.join("stereo.wav"), 8000, 2);
    write_wav(&en.join("cd.wav"), 44100, 1);
    std::fs::write(en.join("notes.txt"), "ignored").unwrap();

    let errors = prompts::load(&tmp.0).unwrap_err();
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let cd = format!(
        "{}: 44100 Hz, 1 channel, 16-bit; need 8000 Hz mono 16-bit",
        en.join("cd.wav").display()
    );
    let stereo = format!(
        "{}: 8000 Hz, 2 channels, 16-bit; need 8000 Hz mono 16-bit",
        en.join("stereo.wav").display()
    );
    assert!(lines.contains(&cd), "{lines:#?}");
    assert!(lines.contains(&stereo), "{lines:#?}");
    assert_eq!(prompts::check(&tmp.0), lines);
}

#[test]
fn the_message_from_the_brief() {
    let tmp = TempDir::new("brief");
    let en = tmp.0.join("en");
    std::fs::create_dir_all(&en).unwrap();
    write_wav(&en.join("greeting_morning.wav"), 44100, 2);
    let lines = prompts::check(&tmp.0);
    assert_eq!(
        lines,
        vec![format!(
            "{}: 44100 Hz, 2 channels, 16-bit; need 8000 Hz mono 16-bit",
            en.join("greeting_morning.wav").display()
        )]
    );
    assert!(lines[0].ends_with(
        "en/greeting_morning.wav: 44100 Hz, 2 channels, 16-bit; need 8000 Hz mono 16-bit"
    ));
}

#[test]
fn broken_empty_and_missing_are_reported() {
    let tmp = TempDir::new("broken");
    let en = tmp.0.join("en");
    let zh = tmp.0.join("zh-CN");
    let fr = tmp.0.join("fr");
    for d in [&en, &zh, &fr] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(en.join("junk.wav"), b"not a wav").unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(zh.join("empty.wav"), spec)
        .unwrap()
        .finalize()
        .unwrap();
    let lines = prompts::check(&tmp.0);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].starts_with(&format!(
        "{}: cannot read as WAV",
        en.join("junk.wav").display()
    )));
    assert_eq!(lines[1], format!("{}: no .wav files", fr.display()));
    assert_eq!(
        lines[2],
        format!("{}: no audio", zh.join("empty.wav").display())
    );

    let nothing = TempDir::new("nothing");
    assert_eq!(prompts::check(&nothing.0).len(), 1);
    assert!(prompts::check(&nothing.0.join("absent"))[0].contains("cannot read folder"));
}

#[test]
fn check_reports_names_one_language_lacks() {
    let tmp = TempDir::new("lacks");
    for lang in ["en", "zh-CN"] {
        std::fs::create_dir_all(tmp.0.join(lang)).unwrap();
        write_wav(&tmp.0.join(lang).join("goodbye.wav"), 8000, 1);
    }
    write_wav(&tmp.0.join("en").join("beep.wav"), 8000, 1);
    let set = prompts::load(&tmp.0).unwrap();
    assert_eq!(
        set.missing(&["beep"]),
        vec![("zh-CN".to_owned(), "beep".to_owned())]
    );
    assert_eq!(
        prompts::check(&tmp.0),
        vec![format!(
            "{}: missing beep (present in another language)",
            tmp.0.join("zh-CN").display()
        )]
    );
    let p = set.get("en", "goodbye").unwrap();
    assert_eq!(p.frames(), 5); // 800 samples = 5 frames exactly
    assert_eq!(p.duration.as_millis(), 100);
}

// ------------------------------------------------------------------ speech

/// English words for the number prompts, to compare whole phrases.
fn en_text(names: &[&str]) -> String {
    const WORDS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    names
        .iter()
        .map(|n| match *n {
            "num_hundred" => "hundred".to_owned(),
            "num_thousand" => "thousand".to_owned(),
            "minutes" | "minute" | "less_than_one_minute" => n.replace('_', " "),
            _ => {
                let v: usize = n
                    .strip_prefix("num_")
                    .or_else(|| n.strip_prefix("digit_"))
                    .unwrap_or_else(|| panic!("unexpected {n}"))
                    .parse()
                    .unwrap();
                if v < 20 {
                    WORDS[v].to_owned()
                } else {
                    TENS[v / 10].to_owned()
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Chinese the prompts say, to compare whole phrases.
fn zh_text(names: &[&str]) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    names
        .iter()
        .map(|n| match *n {
            "num_hundred" => "百".to_owned(),
            "num_thousand" => "千".to_owned(),
            "num_liang" => "两".to_owned(),
            "num_10" => "十".to_owned(),
            "minutes" => "分钟".to_owned(),
            "less_than_one_minute" => "不到一分钟".to_owned(),
            "digit_1" => "幺".to_owned(),
            _ => {
                let v: usize = n
                    .strip_prefix("num_")
                    .or_else(|| n.strip_prefix("digit_"))
                    .unwrap_or_else(|| panic!("unexpected {n}"))
                    .parse()
                    .unwrap();
                match v {
                    0..=9 => DIGITS[v].to_string(),
                    11..=19 => format!("十{}", DIGITS[v - 10]),
                    _ => format!("{}十", DIGITS[v / 10]),
                }
            }
        })
        .collect()
}

#[test]
fn english_numbers() {
    let cases = [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (21, "twenty one"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (120, "one hundred twenty"),
        (999, "nine hundred ninety nine"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (2024, "two thousand twenty four"),
        (9999, "nine thousand nine hundred ninety nine"),
        (1010, "one thousand ten"),
        (3500, "three thousand five hundred"),
    ];
    for (n, want) in cases {
        assert_eq!(en_text(&number(n, "en")), want, "{n}");
    }
    assert_eq!(
        number(123, "en"),
        vec!["num_1", "num_hundred", "num_20", "num_3"]
    );
}

#[test]
fn chinese_numbers() {
    let cases = [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (13, "十三"),
        (15, "十五"),
        (20, "二十"),
        (21, "二十一"),
        (100, "一百"),
        (105, "一百零五"),
        (110, "一百一十"),
        (115, "一百一十五"),
        (120, "一百二十"),
        (200, "两百"),
        (222, "两百二十二"),
        (999, "九百九十九"),
        (1000, "一千"),
        (1001, "一千零一"),
        (1005, "一千零五"),
        (1010, "一千零一十"),
        (1050, "一千零五十"),
        (1100, "一千一百"),
        (1200, "一千二百"),
        (2000, "两千"),
        (2002, "两千零二"),
        (2024, "两千零二十四"),
        (2200, "两千二百"),
        (9999, "九千九百九十九"),
        (2, "二"),
        (12, "十二"),
    ];
    for (n, want) in cases {
        assert_eq!(zh_text(&number(n, "zh-CN")), want, "{n}");
    }
    assert_eq!(number(15, "zh-CN"), vec!["num_15"]);
    assert_eq!(
        number(2024, "zh-CN"),
        vec!["num_liang", "num_thousand", "num_0", "num_20", "num_4"]
    );
}

#[test]
fn large_numbers_are_read_as_digits() {
    assert_eq!(en_text(&number(10_000, "en")), "one zero zero zero zero");
    assert_eq!(zh_text(&number(12_345, "zh-CN")), "幺二三四五");
}

#[test]
fn digits_read_one_by_one() {
    assert_eq!(
        digits("1023", "en"),
        vec!["digit_1", "digit_0", "digit_2", "digit_3"]
    );
    assert_eq!(zh_text(&digits("1023", "zh-CN")), "幺零二三");
    assert_eq!(
        en_text(&digits("+86 138-0013", "en")),
        "eight six one three eight zero zero one three"
    );
    assert!(digits("", "en").is_empty());
    assert!(digits("*#", "zh-CN").is_empty());
}

#[test]
fn wait_in_minutes() {
    assert_eq!(minutes(0, "en"), vec!["less_than_one_minute"]);
    assert_eq!(minutes(0, "zh-CN"), vec!["less_than_one_minute"]);
    assert_eq!(en_text(&minutes(1, "en")), "one minute");
    assert_eq!(en_text(&minutes(2, "en")), "two minutes");
    assert_eq!(en_text(&minutes(25, "en")), "twenty five minutes");
    assert_eq!(zh_text(&minutes(1, "zh-CN")), "一分钟");
    assert_eq!(zh_text(&minutes(2, "zh-CN")), "两分钟");
    assert_eq!(zh_text(&minutes(12, "zh-CN")), "十二分钟");
    assert_eq!(zh_text(&minutes(22, "zh-CN")), "二十二分钟");
}
