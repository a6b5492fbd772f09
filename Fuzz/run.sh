#!/usr/bin/env bash
# Builds the libFuzzer harness for MQTTPacketDecoder and runs it on Fuzz/corpus. See docs/fuzzing.md.
#
#   Fuzz/run.sh [seconds] [extra libFuzzer flags...]    build, then fuzz for `seconds` (default 60)
#   Fuzz/run.sh build                                    build only
#   Fuzz/run.sh seed                                     rewrite Fuzz/corpus/seed-* from Fuzz/seeds.py
#   Fuzz/run.sh merge                                    add to Fuzz/corpus only the new inputs that add coverage
#
# Fuzzing reads Fuzz/corpus (committed, small) and writes what it discovers to .build-fuzz/corpus (not committed).
#
# How it builds: SwiftPM builds NIOCore (and what it needs) in release mode with AddressSanitizer into
# .build-fuzz; then swiftc compiles the MQTTCore sources with -sanitize=fuzzer,address (so libFuzzer sees coverage
# of our code, not NIO's) and links them with the harness and NIOCore's object files. Nothing here is part of the
# SwiftPM package, so `swift build` never sees it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
scratch="$root/.build-fuzz"
out="$scratch/fuzzer"
corpus="$root/Fuzz/corpus"
work="$scratch/corpus"
artifacts="$root/fuzz-artifacts"

if [[ "${1:-}" == "seed" ]]; then
    python3 "$root/Fuzz/seeds.py" "$corpus"
    exit 0
fi

build() {
    swift build --package-path "$root" --scratch-path "$scratch" -c release --sanitize=address --target NIOCore
    local triple_dir
    triple_dir=$(swift build --package-path "$root" --scratch-path "$scratch" -c release --show-bin-path)
    local modules="$triple_dir/Modules"

    # The C module maps and include paths SwiftPM used for NIOCore, read back from its build description.
    local cflags=()
    local line
    line=$(grep -A8 '"C.NIOCore-.*-release.module":' "$scratch/release.yaml" | grep 'args:')
    while IFS= read -r flag; do cflags+=(-Xcc "$flag"); done < <(
        grep -oE '"-Xcc","(-fmodule-map-file=[^"]+|-I","-Xcc","[^"]+)"' <<<"$line" \
            | sed -E 's/^"-Xcc","//; s/"$//; s/^-I","-Xcc","/-I\n/')

    # Every object file in this scratch directory belongs to NIOCore or its dependencies (nothing else is built here).
    local objects=()
    while IFS= read -r object; do objects+=("$object"); done < <(
        find "$triple_dir" -path '*.build/*' -name '*.o' | sort)

    local sources=()
    while IFS= read -r source; do sources+=("$source"); done < <(find "$root/Sources/MQTTCore" -name '*.swift' | sort)

    mkdir -p "$out"
    local common=(-O -g -swift-version 6 -parse-as-library -sanitize=fuzzer,address -use-ld=lld)
    common+=(-I "$modules" "${cflags[@]}")
    swiftc "${common[@]}" -module-name MQTTCore -emit-library -static -emit-module \
        -emit-module-path "$out/MQTTCore.swiftmodule" -o "$out/libMQTTCore.a" "${sources[@]}"
    swiftc "${common[@]}" -I "$out" -o "$out/mqtt-decoder-fuzzer" \
        "$root/Fuzz/MQTTDecoderFuzzer.swift" "$out/libMQTTCore.a" "${objects[@]}"
    echo "built $out/mqtt-decoder-fuzzer"
}

build
mkdir -p "$work"
case "${1:-}" in
build) exit 0 ;;
# Edges only (no hit counters) and a set cover keep the committed corpus to about 150 small files.
merge) SWIFT_BACKTRACE=enable=no exec "$out/mqtt-decoder-fuzzer" -set_cover_merge=1 -use_counters=0 "$corpus" "$work" ;;
esac

seconds=${1:-60}
shift || true
mkdir -p "$artifacts"
# Swift's own backtracer would hold the process after a trap; let libFuzzer report and save the input instead.
export SWIFT_BACKTRACE=enable=no
exec "$out/mqtt-decoder-fuzzer" "$work" "$corpus" -max_total_time="$seconds" -artifact_prefix="$artifacts/" \
    -print_final_stats=1 "$@"
