#!/usr/bin/env bash
# Regenerates player/demo/assets/demo-course.webm, the demo course's video (sql/seed.sql: course …0011), from
# ffmpeg's built-in test sources: no footage, nothing to license. 90 s in three 30 s "lectures", each with its own
# picture and tone, so a viewer sees (and hears) which lecture plays:
#   0–30 s   lecture 1: SMPTE colour bars, 440 Hz
#   30–60 s  lecture 2: the moving testsrc2 pattern, 554 Hz
#   60–90 s  lecture 3: a plain teal field, 659 Hz
# plus a running clock and a progress bar across the bottom, so seeking is visible too. Titles are drawn only when
# a font file is found (fc-match, else DejaVu Sans at its Debian path); without one the picture has no text.
#
# VP9 video + Opus audio in WebM (royalty-free; Debian's chromium plays them), 426x240 at 15 fps, a keyframe
# every 2 s (seeks land quickly), the index (Cues) at the front of the file, about 0.8 MB. Deterministic output for
# one ffmpeg/libvpx/libopus build: bitexact flags, one encoder thread, no row multithreading, no creation date (two runs here give the same bytes).
#
# Usage: scripts/make-demo-video.sh [output.webm]   (default: player/demo/assets/demo-course.webm)
# Needs: ffmpeg with libvpx-vp9, libopus and (for titles) libfreetype; ffprobe to check the result.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/player/demo/assets/demo-course.webm}"
mkdir -p "$(dirname "$out")"

size=426x240
fps=15
lecture_s=30

font="$(fc-match -f '%{file}' 'DejaVu Sans:bold' 2>/dev/null || true)"
[[ -f "$font" ]] || font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
[[ -f "$font" ]] || font=""

# One video source and one tone per lecture, joined end to end.
sources="smptebars=size=$size:rate=$fps:duration=$lecture_s[v1];"
# testsrc2 draws its own clock (from 0) in its top-left corner: drawn 48 px taller and cropped, that clock is gone.
sources+="testsrc2=size=${size%x*}x$((${size#*x} + 48)):rate=$fps:duration=$lecture_s,crop=${size%x*}:${size#*x}:0:48[v2];"
sources+="color=c=0x1f6f78:size=$size:rate=$fps:duration=$lecture_s[v3];"
sources+="sine=frequency=440:sample_rate=48000:duration=$lecture_s[a1];"
sources+="sine=frequency=554.37:sample_rate=48000:duration=$lecture_s[a2];"
sources+="sine=frequency=659.25:sample_rate=48000:duration=$lecture_s[a3];"
sources+="[v1][a1][v2][a2][v3][a3]concat=n=3:v=1:a=1[vcat][acat];"

# Over the whole video: a progress bar (t is the time in the joined video), then titles and clock if a font exists.
overlay="[vcat]drawbox=x=0:y=ih-8:w=iw*t/$((3 * lecture_s)):h=8:color=white@0.85:t=fill"
if [[ -n "$font" ]]; then
  box="fontfile=$font:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6"
  titles=("Lecture 1 - Colour bars" "Lecture 2 - Moving pattern" "Lecture 3 - Plain field")
  for i in 0 1 2; do
    overlay+=",drawtext=$box:fontsize=20:x=(w-tw)/2:y=16:text='${titles[$i]}'"
    overlay+=":enable='between(t,$((i * lecture_s)),$(((i + 1) * lecture_s)))'"
  done
  overlay+=",drawtext=$box:fontsize=16:x=(w-tw)/2:y=h-40:text='%{pts\\:hms}'"
fi
overlay+=",format=yuv420p[v];[acat]volume=0.08,asetnsamples=n=960:p=0[a]"

ffmpeg -hide_banner -loglevel error -y \
  -filter_complex "$sources$overlay" \
  -map '[v]' -map '[a]' -t $((3 * lecture_s)) \
  -c:v libvpx-vp9 -b:v 48k -minrate 16k -maxrate 96k -deadline good -cpu-used 4 -g $((2 * fps)) \
  -threads 1 -row-mt 0 -tile-columns 0 -flags:v +bitexact \
  -c:a libopus -b:a 16k -ac 1 -flags:a +bitexact \
  -fflags +bitexact -map_metadata -1 -cues_to_front 1 \
  "$out"

# Check what was made: 90 s, VP9 + Opus.
ffprobe -v error -show_entries format=duration,size:stream=codec_type,codec_name,width,height,r_frame_rate \
  -of default=noprint_wrappers=1 "$out"
