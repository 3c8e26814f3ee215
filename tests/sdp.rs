//! SDP offers written in the style of real phones: each is answered with one G.711
//! stream, in the caller's codec order, with as many m-lines as the offer.

use hotline::core::sdp::{parse_offer, Codec, Dir, LocalMedia, SdpError};
use std::path::Path;

fn answer(offer_text: &str) -> Result<String, SdpError> {
    let offer = parse_offer(offer_text.as_bytes())?;
    let mut local = LocalMedia {
        ip: "192.0.2.10".parse().unwrap(),
        port: 10_000,
        session_id: 7,
        version: 1,
    };
    let bytes = local.answer(&offer, false);
    let text = String::from_utf8(bytes).unwrap();
    let offered = offer_text.lines().filter(|l| l.starts_with("m=")).count();
    let answered = text.lines().filter(|l| l.starts_with("m=")).count();
    assert_eq!(offered, answered, "one m-line per offered stream:\n{text}");
    let again = parse_offer(text.as_bytes()).expect("our answer parses as SDP");
    assert_eq!(again.codec, offer.codec);
    Ok(text)
}

#[test]
fn offers_from_real_phones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/real-phones");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "corpus missing under CI=true"
        );
        println!("skipping: {} not found", dir.display());
        return;
    };
    let mut seen = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sdp") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        match answer(&text) {
            Ok(a) => {
                assert!(
                    a.contains("a=rtpmap:0 PCMU/8000") || a.contains("a=rtpmap:8 PCMA/8000"),
                    "{name}: {a}"
                );
                seen += 1;
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert!(seen >= 8, "only {seen} offers found");
}

#[test]
fn follows_the_callers_codec_order_and_mirrors_direction() {
    let base = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n";
    let pcma_first = format!("{base}m=audio 4000 RTP/AVP 8 0\r\na=sendonly\r\n");
    let offer = parse_offer(pcma_first.as_bytes()).unwrap();
    assert_eq!(offer.codec, Codec::Pcma);
    assert_eq!(offer.dir, Dir::RecvOnly);
    assert_eq!(offer.remote, Some("10.0.0.1:4000".parse().unwrap()));
    let hold = format!("{base}m=audio 4000 RTP/AVP 0\r\n")
        .replace("c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0");
    let offer = parse_offer(hold.as_bytes()).unwrap();
    assert_eq!(offer.remote, None);
    assert!(!offer.dir.sends() || offer.dir == Dir::RecvOnly);
}

#[test]
fn no_common_codec_is_refused() {
    let gsm = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 3 18\r\n";
    assert_eq!(parse_offer(gsm.as_bytes()), Err(SdpError::NoCommonCodec));
    assert!(parse_offer(b"not sdp at all").is_err());
}

#[test]
fn declined_video_keeps_its_place() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 4000 RTP/AVP 0\r\n";
    let a = answer(text).unwrap();
    let m: Vec<&str> = a.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(m, vec!["m=video 0 RTP/AVP 96", "m=audio 10000 RTP/AVP 0"]);
}
