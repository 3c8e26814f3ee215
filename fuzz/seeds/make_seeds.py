#!/usr/bin/env python3
"""Writes fuzz/seeds/{sip,stream}/: an INVITE followed by a second request of the same
call, laid out for the fuzz targets' harness:

- sip_datagram splits its input at data[0] * len / 255; data[0] is the 'I' of INVITE,
  so a padding header on the second message puts the split exactly between the two;
- the owner answers at once when len % 4 is 0 or 1, later when it is 2;
- the endpoint's RNG is seeded with 0, so the first call's To tag is always TAG.

Run it again if EndpointConfig::default().seed or the tag format changes
(HOTLINE_FUZZ_TRACE=1 on any INVITE seed prints the tag in the 180).
"""
import os

TAG = "bb2a3fb2cd2c6f7f"
HERE = os.path.dirname(os.path.abspath(__file__))
CALL = "fz1@192.0.2.10"
FROM = "<sip:5551234@192.0.2.10>;tag=caller1"
TO = "<sip:400@hotline.example>"
SDP = ("v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       "m=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")
HOLD = SDP.replace("a=sendrecv", "a=sendonly").replace("o=- 1 1", "o=- 1 2")


def msg(method, branch, cseq, to=TO, body="", ctype="application/sdp", extra=""):
    head = (f"{method} sip:400@hotline.example SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK{branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: {FROM}\r\nTo: {to}\r\nCall-ID: {CALL}\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sip:5551234@192.0.2.10:5062>\r\n{extra}")
    if body:
        head += f"Content-Type: {ctype}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode()


def datagram_pair(first, second, answer_now=True):
    """first + second, padded so that the split lands between them and len % 4 fits."""
    assert first[0] == ord("I")
    for pad in range(0, 20000):
        extra = f"X-Pad: {'p' * pad}\r\n" if pad else ""
        sec = second.replace(b"Content-Length:", extra.encode() + b"Content-Length:", 1)
        data = first + sec
        n = len(data)
        if data[0] * n // 255 == len(first) and ((n % 4 in (0, 1)) if answer_now else n % 4 == 2):
            return data
    raise SystemExit("no padding fits")


def main():
    tagged = f"{TO};tag={TAG}"
    invite = msg("INVITE", "inv1", 1, body=SDP)
    invite_nosdp = msg("INVITE", "inv1", 1)
    seeds = {
        "invite-ack": datagram_pair(invite, msg("ACK", "ack1", 1, to=tagged)),
        "invite-bye": datagram_pair(invite, msg("BYE", "bye1", 2, to=tagged)),
        "invite-info": datagram_pair(invite, msg(
            "INFO", "info1", 2, to=tagged, body="Signal=5\r\nDuration=160\r\n",
            ctype="application/dtmf-relay")),
        "invite-reinvite-hold": datagram_pair(invite, msg("INVITE", "inv2", 2, to=tagged, body=HOLD)),
        "invite-options-in-dialog": datagram_pair(invite, msg("OPTIONS", "opt1", 2, to=tagged)),
        "invite-cancel-early": datagram_pair(invite, msg("CANCEL", "inv1", 1), answer_now=False),
        "invite-bye-early": datagram_pair(invite, msg("BYE", "bye1", 2, to=tagged), answer_now=False),
        "invite-nosdp-ack-sdp": datagram_pair(invite_nosdp, msg("ACK", "ack1", 1, to=tagged, body=SDP)),
    }
    os.makedirs(os.path.join(HERE, "sip"), exist_ok=True)
    for name, data in seeds.items():
        open(os.path.join(HERE, "sip", name + ".sip"), "wb").write(data)
    streams = {
        "invite-ack-info-bye": invite + msg("ACK", "ack1", 1, to=tagged) + b"\r\n\r\n"
        + msg("INFO", "info1", 2, to=tagged, body="Signal=1\r\nDuration=100\r\n",
              ctype="application/dtmf-relay") + msg("BYE", "bye1", 3, to=tagged),
        "invite-reinvite-ack-bye": invite + msg("INVITE", "inv2", 2, to=tagged, body=HOLD)
        + msg("ACK", "ack2", 2, to=tagged) + msg("BYE", "bye1", 3, to=tagged),
        "invite-cancel-ack": invite + msg("CANCEL", "inv1", 1) + msg("ACK", "inv1", 1, to=tagged),
    }
    os.makedirs(os.path.join(HERE, "stream"), exist_ok=True)
    for name, data in streams.items():
        open(os.path.join(HERE, "stream", name + ".sip"), "wb").write(data)


main()
