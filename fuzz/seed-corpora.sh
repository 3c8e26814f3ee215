#!/usr/bin/env bash
# Lays out fuzz/corpus/<target>/ (git-ignored) from the shared corpora and fuzz/seeds/.
# Usage: fuzz/seed-corpora.sh [SHARED_CORPORA_DIR]   (default /work/shared/corpora)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${1:-/work/shared/corpora}"
rfc="$src/rfc4475"
phones="$src/real-phones"
mkdir -p "$here"/corpus/{sip_datagram,sip_stream,sdp_offer}

# SIP messages: RFC 4475 torture tests (valid, invalid, extra) and phone captures.
for f in "$rfc"/valid/*.dat "$rfc"/invalid/*.dat "$rfc"/extra/*.dat "$phones"/*.sip "$here"/seeds/sip/*; do
    [ -f "$f" ] || continue
    cp "$f" "$here/corpus/sip_datagram/$(basename "$f")"
    cp "$f" "$here/corpus/sip_stream/$(basename "$f")"
done
# Streams of several messages back to back (pipelined TCP), with CRLF keep-alives.
for f in "$rfc"/valid/*.dat "$phones"/*.sip; do
    [ -f "$f" ] || continue
    for g in "$phones"/baresip-invite.sip "$rfc"/valid/dblreq.dat; do
        [ -f "$g" ] || continue
        { cat "$g"; printf '\r\n\r\n'; cat "$f"; } > "$here/corpus/sip_stream/pair-$(basename "$g")-$(basename "$f")"
    done
done
[ -d "$here/seeds/stream" ] && cp "$here"/seeds/stream/* "$here/corpus/sip_stream/"

# SDP: the phones' offers and the bodies of SIP messages that carry SDP.
for f in "$phones"/*.sdp "$here"/seeds/sdp/*; do
    [ -f "$f" ] || continue
    cp "$f" "$here/corpus/sdp_offer/$(basename "$f")"
done
for f in "$rfc"/valid/*.dat "$rfc"/invalid/*.dat "$phones"/*.sip; do
    python3 - "$f" "$here/corpus/sdp_offer/body-$(basename "$f")" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
i = data.find(b'\r\n\r\n')
if i >= 0 and b'v=0' in data[i + 4:]:
    open(sys.argv[2], 'wb').write(data[i + 4:])
PY
done
for t in sip_datagram sip_stream sdp_offer; do
    echo "$t: $(ls "$here/corpus/$t" | wc -l) seed files"
done
