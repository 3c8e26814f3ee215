//! SDP offer/answer (RFC 3264) for one audio stream of G.711 with telephone-event.
//! Offers are parsed with `ezk-sdp-types`; answers are written out directly, since
//! they are small and must be exactly what phones expect.

use bytesstr::BytesStr;
use ezk_sdp_types::{Direction, MediaType, SessionDescription, TaggedAddress};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    /// The body is not valid UTF-8 or not valid SDP.
    #[error("unparseable SDP: {0}")]
    Parse(String),
    /// No audio stream, or none with a codec we speak (answered with 488).
    #[error("no common codec")]
    NoCommonCodec,
}

/// The G.711 codecs, by their static payload types (RFC 3551).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// Media direction from our point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Dir {
    fn as_str(self) -> &'static str {
        match self {
            Dir::SendRecv => "sendrecv",
            Dir::SendOnly => "sendonly",
            Dir::RecvOnly => "recvonly",
            Dir::Inactive => "inactive",
        }
    }
    /// Whether we may send audio in this direction.
    pub fn sends(self) -> bool {
        matches!(self, Dir::SendRecv | Dir::SendOnly)
    }
}

/// What we take from an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Where the caller wants audio; `None` for a hold with 0.0.0.0 or port 0.
    pub remote: Option<SocketAddr>,
    /// The first codec in the caller's order that we speak.
    pub codec: Codec,
    /// The payload type of telephone-event/8000, if offered.
    pub telephone_event: Option<u8>,
    /// The direction our answer takes (the offer's, mirrored).
    pub dir: Dir,
    /// Every m-line of the offer in order: `None` for the audio stream we answer, else
    /// the declined stream as `m=` would carry it with port 0 (RFC 3264 6: an answer has
    /// as many m-lines as its offer).
    pub m_lines: Vec<Option<String>>,
}

/// The session-level lines and the audio sections of an SDP; other media sections keep only
/// their m= line, and a line that is not `x=...` drops the rest of its section.
fn audio_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut keep = true;
    for line in text.split_inclusive('\n') {
        let l = line.trim_end_matches(['\r', '\n']).as_bytes();
        if l.is_empty() {
            continue;
        }
        if l.len() < 2 || !l[0].is_ascii_lowercase() || l[1] != b'=' {
            keep = false;
            continue;
        }
        if l[0] == b'm' {
            keep = l.starts_with(b"m=audio ");
            out.push_str(line);
        } else if keep {
            out.push_str(line);
        }
    }
    out
}

/// The SDP without its `a=crypto` lines, split into lines as ezk-sdp-types splits them.
/// We never do SDES-SRTP, and ezk-sdp-types 0.4 computes a key lifetime `|2^N` as
/// `2u32.pow(N)`, which panics for N >= 32 wherever overflow checks are on.
fn without_crypto(text: &str) -> String {
    text.split_inclusive(['\n', '\r'])
        .filter(|l| !l.starts_with("a=crypto"))
        .collect()
}

pub fn parse_offer(body: &[u8]) -> Result<Offer, SdpError> {
    let text = std::str::from_utf8(body).map_err(|e| SdpError::Parse(e.to_string()))?;
    let text = &without_crypto(text);
    let (sdp, parsed) = match SessionDescription::parse(&BytesStr::from(text.to_string())) {
        Ok(sdp) => (sdp, text.to_string()),
        Err(e) => {
            // Something we would not use anyway may be what is malformed (RFC 4475's
            // "a=rtpmap:31 LPC" under a video line): try again with the audio alone.
            let audio = audio_only(text);
            let sdp = SessionDescription::parse(&BytesStr::from(audio.clone()))
                .map_err(|_| SdpError::Parse(e.to_string()))?;
            (sdp, audio)
        }
    };
    let chosen = sdp
        .media_descriptions
        .iter()
        .position(|m| m.media.media_type == MediaType::Audio && m.media.port != 0)
        .ok_or(SdpError::NoCommonCodec)?;
    let media = &sdp.media_descriptions[chosen];
    // Count m-lines in the text ezk-sdp-types parsed and as it splits it (on CR or LF
    // alone too), so that `chosen`, an index into its media descriptions, is ours here.
    let m_lines = parsed
        .split(['\n', '\r'])
        .filter_map(|l| l.strip_prefix("m="))
        .enumerate()
        .map(|(i, m)| {
            (i != chosen).then(|| {
                let mut f = m.split_whitespace();
                let (kind, _port, proto) = (f.next().unwrap_or("audio"), f.next(), f.next());
                format!(
                    "{kind} 0 {} {}",
                    proto.unwrap_or("RTP/AVP"),
                    f.next().unwrap_or("0")
                )
            })
        })
        .collect();
    let rtpmap = |pt: u8| media.rtpmaps.iter().find(|r| r.payload == pt);
    let codec = media
        .media
        .fmts
        .iter()
        .find_map(|&pt| {
            let named = rtpmap(pt).map(|r| (r.encoding.to_ascii_uppercase(), r.clock_rate));
            match (pt, named) {
                (0, None) => Some(Codec::Pcmu),
                (8, None) => Some(Codec::Pcma),
                (_, Some((name, 8000))) if name == "PCMU" => Some(Codec::Pcmu),
                (_, Some((name, 8000))) if name == "PCMA" => Some(Codec::Pcma),
                _ => None,
            }
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let telephone_event = media.media.fmts.iter().copied().find(|&pt| {
        rtpmap(pt).is_some_and(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000
        })
    });
    let conn = media.connection.as_ref().or(sdp.connection.as_ref());
    let ip = conn.and_then(|c| match &c.address {
        TaggedAddress::IP4(ip) => Some(IpAddr::V4(*ip)),
        TaggedAddress::IP6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    });
    let remote = ip
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| SocketAddr::new(ip, media.media.port));
    let offered = if !matches!(media.direction, Direction::SendRecv) {
        media.direction
    } else {
        sdp.direction
    };
    let dir = match offered {
        Direction::SendRecv => Dir::SendRecv,
        Direction::SendOnly => Dir::RecvOnly,
        Direction::RecvOnly => Dir::SendOnly,
        Direction::Inactive => Dir::Inactive,
    };
    let dir = if remote.is_none() && dir == Dir::SendRecv {
        Dir::RecvOnly // RFC 2543 hold: c=0.0.0.0
    } else {
        dir
    };
    Ok(Offer {
        remote,
        codec,
        telephone_event,
        dir,
        m_lines,
    })
}

/// Our side of the media session: what every answer for this call repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    pub ip: IpAddr,
    pub port: u16,
    pub session_id: u64,
    pub version: u64,
}

impl LocalMedia {
    /// Our offer, for an INVITE that came without one: PCMU, PCMA and telephone-event,
    /// sendrecv. The answer comes back in the ACK.
    pub fn offer(&self) -> Vec<u8> {
        self.describe(
            &[Codec::Pcmu, Codec::Pcma],
            Some(101),
            Dir::SendRecv,
            &[None],
        )
    }

    /// Writes the answer to `offer`, bumping the origin version when `bump` is set
    /// (RFC 3264 8: a changed description needs a new version).
    pub fn answer(&mut self, offer: &Offer, bump: bool) -> Vec<u8> {
        if bump {
            self.version += 1;
        }
        self.describe(
            &[offer.codec],
            offer.telephone_event,
            offer.dir,
            &offer.m_lines,
        )
    }

    /// One audio stream with `codecs`, placed among `m_lines` (declined streams).
    fn describe(
        &self,
        codecs: &[Codec],
        te: Option<u8>,
        dir: Dir,
        m_lines: &[Option<String>],
    ) -> Vec<u8> {
        let family = if self.ip.is_ipv4() { "IP4" } else { "IP6" };
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            "v=0\r\no=hotline {} {} IN {family} {ip}\r\ns=hotline\r\nc=IN {family} {ip}\r\nt=0 0\r\n",
            self.session_id,
            self.version,
            ip = self.ip
        );
        let ours = m_lines.iter().position(Option::is_none).unwrap_or(0);
        let declined = |s: &mut String, lines: &[Option<String>]| {
            for m in lines.iter().flatten() {
                let _ = write!(s, "m={m}\r\n");
            }
        };
        declined(&mut s, m_lines.get(..ours).unwrap_or(&[]));
        let _ = write!(s, "m=audio {} RTP/AVP", self.port);
        for c in codecs {
            let _ = write!(s, " {}", c.payload_type());
        }
        if let Some(te) = te {
            let _ = write!(s, " {te}");
        }
        s.push_str("\r\n");
        for c in codecs {
            let _ = write!(s, "a=rtpmap:{} {}/8000\r\n", c.payload_type(), c.name());
        }
        if let Some(te) = te {
            let _ = write!(
                s,
                "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
            );
        }
        let _ = write!(s, "a=ptime:20\r\na={}\r\n", dir.as_str());
        declined(&mut s, m_lines.get(ours + 1..).unwrap_or(&[]));
        s.into_bytes()
    }
}
