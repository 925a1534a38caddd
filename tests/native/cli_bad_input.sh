#!/usr/bin/env bash
# `tandem peer` with bad input: each case must exit 2 (1 for the timeout case) and say why on stderr.
#   cli_bad_input.sh TANDEM_BINARY
set -u
tandem=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect CODE PATTERN NAME -- ARGS... (stdin comes from the caller)
expect() {
  local code=$1 pattern=$2 name=$3
  shift 4
  "$tandem" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qE -e "$pattern" "$tmp/err"; then
    echo "FAIL $name: exit $rc (want $code), stderr:"
    sed 's/^/    /' "$tmp/err"
    fail=1
  else
    echo "ok   $name: exit $rc: $(grep -E -e "$pattern" "$tmp/err" | grep -v '^{' | head -1)"
  fi
}

expect 2 'unknown option' "unknown flag" -- peer --role offer --frobnicate </dev/null
expect 2 'offer.answer is required' "missing role" -- peer --echo </dev/null
expect 2 '--size must be' "size too small" -- peer --role offer --size 4 </dev/null
expect 2 'not an IPv4 or IPv6 address' "bad bind" -- peer --role offer --bind nowhere </dev/null
expect 2 'cannot bind 203.0.113.7:0' "bind not on this host" -- peer --role offer --bind 203.0.113.7 </dev/null
echo '{"type":"offer","sdp":' | expect 2 'malformed JSON' "truncated JSON" -- peer --role answer --timeout-ms 5000
echo '["offer"]' | expect 2 'malformed JSON' "JSON array" -- peer --role answer --timeout-ms 5000
echo '{"sdp":"v=0"}' | expect 2 'without a string "type"' "no type" -- peer --role answer --timeout-ms 5000
echo '{"type":"offer","sdp":"v=0\r\nnonsense\r\n"}' | expect 2 'the remote offer: malformed' "bad SDP" -- \
  peer --role answer --timeout-ms 5000
echo '{"type":"offer","sdp":"v=0"}' | expect 2 'but we are the offerer' "offer to an offerer" -- \
  peer --role offer --timeout-ms 5000

# A real offer, then a candidate that does not parse.
"$tandem" peer --role offer --timeout-ms 1000 < <(sleep 2) 2>/dev/null | head -1 >"$tmp/offer.json"
grep -q '"type":"offer"' "$tmp/offer.json" || { echo "FAIL: the offerer printed no offer"; fail=1; }
{ cat "$tmp/offer.json"; echo '{"type":"candidate","candidate":"candidate:1 1 udp"}'; sleep 2; } |
  expect 2 'add_ice_candidate: malformed' "bad candidate" -- peer --role answer --timeout-ms 5000

# Nobody answers: a timeout is a failure (1), not bad input.
sleep 2 | expect 1 'timed out after 500 ms' "timeout" -- peer --role answer --timeout-ms 500

[ $fail -eq 0 ] && echo "cli bad input: passed"
exit $fail
