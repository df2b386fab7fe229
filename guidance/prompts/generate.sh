#!/usr/bin/env bash
# generate.sh regenerates the five embedded guidance prompts (announce1.wav … announce5.wav) with
# Open JTalk and the HTS voice "nitech-jp-atr503-m001", then post-processes them with sox:
# trim leading/trailing silence, resample to 8 kHz with sox's high-quality resampler, normalise to
# -1 dBFS peak (no clipping) and write 8 kHz 16-bit mono PCM WAV.
#
# Run it through `make prompts`. It needs Debian (bookworm or later) and root or sudo: the voice
# package lives in Debian's contrib component, which is added in a separate sources file when the
# system's apt sources lack it. CI and users never run this; the committed WAVs are what ships.
# The texts below must match guidance/announcement.go (carrier name "KDDI"), with one deliberate
# difference: announcement 1 is synthesised with a comma after "この通話は". Without a pause in the
# sentence, Open JTalk's duration model stretches the final "させていただきます" to ~0.37 s per phoneme
# (10.8 s instead of 5.2 s, audibly broken); the comma gives it the same phrasing as texts 2-5.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

dict=/var/lib/mecab/dic/open-jtalk/naist-jdic
voice=/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice
contrib_sources=/etc/apt/sources.list.d/callrec-contrib.sources

# has_contrib reports whether any apt source already enables the contrib component.
has_contrib() {
	grep -hsE '^[[:space:]]*Components:.*([[:space:]]|^)contrib([[:space:]]|$)' /etc/apt/sources.list.d/*.sources >/dev/null 2>&1 && return 0
	grep -hsE '^[[:space:]]*deb[[:space:]].*[[:space:]]contrib([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list >/dev/null 2>&1 && return 0
	return 1
}

# add_contrib writes a deb822 sources file that repeats every stanza of the system's Debian
# sources (same Types, URIs, Suites, Signed-By) with Components: contrib.
add_contrib() {
	local src=/etc/apt/sources.list.d/debian.sources
	if [ ! -r "$src" ]; then
		echo "generate.sh: $src not found; enable Debian's contrib component by hand" >&2
		exit 1
	fi
	echo "adding Debian contrib component in $contrib_sources"
	awk '
		/^[[:space:]]*#/ { next }
		/^[[:space:]]*$/ { if (n) print ""; n = 0; next }
		/^Components:/ { print "Components: contrib"; n++; next }
		{ print; n++ }
	' "$src" | $SUDO tee "$contrib_sources" >/dev/null
}

need_pkgs=()
command -v open_jtalk >/dev/null 2>&1 || need_pkgs+=(open-jtalk)
[ -d "$dict" ] || need_pkgs+=(open-jtalk-mecab-naist-jdic)
[ -f "$voice" ] || need_pkgs+=(hts-voice-nitech-jp-atr503-m001)
command -v sox >/dev/null 2>&1 || need_pkgs+=(sox)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
	if [ ! -f "$voice" ] && ! has_contrib; then
		add_contrib
	fi
	echo "installing: ${need_pkgs[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

texts=(
	"この通話は、KDDIの通話録音サービスを利用して録音させていただきます。"
	"この通話はお取引内容確認のため、KDDIのサービスを利用して録音させていただきます。"
	"この通話は内容を正確に承るため、KDDIのサービスを利用して録音させていただきます。"
	"この通話はトラブル防止のため、KDDIのサービスを利用して録音させていただきます。"
	"この通話はサービスの向上を目的とし、KDDIのサービスを利用して録音させていただきます。"
)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for i in "${!texts[@]}"; do
	id=$((i + 1))
	out="$here/announce$id.wav"
	printf '%s\n' "${texts[$i]}" >"$tmp/text$id.txt"
	open_jtalk -x "$dict" -m "$voice" -r 1.3 -ow "$tmp/raw$id.wav" "$tmp/text$id.txt"
	# silence 1 …: trim leading silence; reverse + trim + reverse: trailing silence.
	# rate -v: very high quality band-limited resampler; norm -1: peak at -1 dBFS.
	# dither -s: noise-shaped dither for the final 16-bit quantisation.
	sox -R "$tmp/raw$id.wav" -b 16 -c 1 -e signed-integer "$out" \
		silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
		rate -v 8000 norm -1 dither -s
	printf 'announce%d.wav: %s s\n' "$id" "$(soxi -D "$out")"
done
