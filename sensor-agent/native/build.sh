#!/usr/bin/env bash
# Builds the agent's two addons with the node-gyp that ships inside npm, against
# the headers of the Node that runs hark: the in-process libpcap capture
# (pcap_capture.c) and the pipeline's hot loops (addon.c: the frame memo,
# frame_memo.c, see src/frame-memo.ts; the pcap record scanner, pcap_records.c).
# Needs a C compiler, make, python3 and the libpcap runtime library
# (libpcap.so.0.8, which tcpdump depends on); not libpcap-dev. Without them it
# says so: live capture falls back to a supervised tcpdump, and the pipeline
# judges every frame in JavaScript (the same inventory, slower).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build/Release/hark_pcap.node"
pipeline="$here/build/Release/hark_pipeline.node"
fresh() { # fresh <output> <sources...>: built after every source and binding.gyp
  local output="$1" source
  shift
  [ -f "$output" ] || return 1
  for source in "$@" "$here/binding.gyp"; do [ "$output" -nt "$source" ] || return 1; done
}
if fresh "$out" "$here/pcap_capture.c" &&
  fresh "$pipeline" "$here/addon.h" "$here/addon.c" "$here/frame_memo.c" "$here/pcap_records.c" \
    "$here/repeat_keys.c"; then
  exit 0
fi
missing=()
command -v cc >/dev/null 2>&1 || missing+=("a C compiler (cc)")
command -v make >/dev/null 2>&1 || missing+=("make")
command -v python3 >/dev/null 2>&1 || missing+=("python3")
libs="$(/sbin/ldconfig -p 2>/dev/null || true)"
[[ "$libs" == *"libpcap.so.0.8 "* ]] || missing+=("libpcap.so.0.8 (Debian: libpcap0.8, installed with tcpdump)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "hark: not building the native addons, missing: ${missing[*]}; live capture will use tcpdump, and frames are judged in JavaScript" >&2
  exit 0
fi
npm_cli="$(readlink -f "$(command -v npm)")"
gyp="$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js"
nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}"
cd "$here"
node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn >/dev/null
echo "hark: built $(realpath --relative-to="$PWD/../.." "$out") and $(basename "$pipeline")"
