#!/usr/bin/env bash
# Two `tandem peer` processes over real loopback UDP, signalled through a unix socket:
#   data channel both ways -- the offerer sends 200 checksummed messages of 1000..65536 bytes, the answerer
#   echoes each, the offerer verifies every echo (magic, FNV-1a, size, no repeats);
#   audio (Opus) and video (VP8) both ways, keyed by DTLS-SRTP and decoded on the other side.
# Both must exit 0 (every expectation met before the timeout).
#
#   cli_loopback.sh TANDEM_BINARY BIND_ADDRESS LISTENER
#     BIND_ADDRESS  127.0.0.1 or ::1 (exits 77 = skipped when the host has no ::1)
#     LISTENER      answer: the answerer listens on the socket, the offerer connects (started second);
#                   offer:  the offerer listens; the answerer, started first, connects and retries until the
#                           socket exists
#   KEEP_TMP=1 keeps the logs (stderr events, --stats JSON on stdout) and prints where they are.
set -u
tandem=$1
bind=$2
listener=${3:-answer}

if [[ $bind == *:* ]] && ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
  echo "skipped: this host has no ::1"
  exit 77
fi

tmp=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
sig="$tmp/signalling.sock"
common=(--bind "$bind" --audio opus --video vp8 --expect-audio-frames 50 --expect-video-frames 20
        --timeout-ms 60000 --stats)
answer=(peer --role answer --echo "${common[@]}")
offer=(peer --role offer --send 200 --size 1000..65536 --expect-messages 200 "${common[@]}")
if [ "$listener" = answer ]; then
  answer+=(--signal "listen-unix:$sig")
  offer+=(--signal "unix:$sig")
else
  offer+=(--signal "listen-unix:$sig")
  answer+=(--signal "unix:$sig")
fi

"$tandem" "${answer[@]}" >"$tmp/answer.out" 2>"$tmp/answer.err" &
answer_pid=$!
sleep 0.2
"$tandem" "${offer[@]}" >"$tmp/offer.out" 2>"$tmp/offer.err" &
offer_pid=$!
wait "$offer_pid"
offer_rc=$?
wait "$answer_pid"
answer_rc=$?

fail=0
for side in offer answer; do
  rc_var=${side}_rc
  echo "=== $side (exit ${!rc_var}): tandem ${side} log"
  # The state changes, timing and summary; the stats line is long, so only its existence is reported.
  grep -vE '"event":"(progress|local_candidate|remote_candidate)"' "$tmp/$side.err"
  grep -q '"event":"stats"' "$tmp/$side.out" && echo "(stats: $(wc -c <"$tmp/$side.out") bytes of JSON on stdout)"
  [ "${!rc_var}" -eq 0 ] || { echo "FAIL: $side exited ${!rc_var}"; fail=1; }
  # Every candidate we signalled is on the --bind address.
  if grep '"event":"local_candidate"' "$tmp/$side.err" | grep -v " $bind " | grep -q .; then
    echo "FAIL: $side signalled a candidate not on $bind"
    fail=1
  fi
  grep -q '"event":"local_candidate"' "$tmp/$side.err" || { echo "FAIL: $side signalled no candidate"; fail=1; }
done
# What the exit codes mean, stated once more from the summaries: all 200 echoes verified at the offerer.
grep -q '"messages_verified":200' "$tmp/offer.err" || { echo "FAIL: the offerer did not verify 200 echoes"; fail=1; }
grep -q '"messages_echoed":200' "$tmp/answer.err" || { echo "FAIL: the answerer did not echo 200 messages"; fail=1; }
[ $fail -eq 0 ] && echo "cli loopback ($bind, $listener listens): passed"
exit $fail
