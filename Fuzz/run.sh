#!/usr/bin/env bash
# Builds the libFuzzer harness for MQTTPacketDecoder and runs it on Fuzz/corpus. See docs/fuzzing.md.
#
#   Fuzz/run.sh [seconds] [extra libFuzzer flags...]    build, then fuzz for `seconds` (default 60)
#   Fuzz/run.sh build                                    build only
#   Fuzz/run.sh seed                                     rewrite Fuzz/corpus/seed-* from Fuzz/seeds.py
#   Fuzz/run.sh merge                                    add to Fuzz/corpus only the new inputs that add coverage
#
# The same for the ClusterTransport harness (Fuzz/ClusterDecoderFuzzer.swift, corpus Fuzz/corpus-cluster):
#
#   Fuzz/run.sh cluster [seconds] [extra libFuzzer flags...]
#   Fuzz/run.sh cluster build | seed | merge
#   Fuzz/run.sh cluster coverage                         line coverage of ClusterTransport by Fuzz/corpus-cluster
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

# ClusterTransport harness. Its dependencies (NIOCore and Crypto) are built by SwiftPM in their own scratch
# directory, .build-fuzz/cluster, so that every object file there belongs to them and the MQTT build above never
# links them. Only the ClusterTransport files the decoders need are compiled (the rest of the module needs NIOSSL,
# X509, NIOPosix...), with -enable-testing so the harness can reach the internal envelope and handshake types.
# See docs/fuzzing.md. The sources: whole directories (so a file added there is picked up), plus the few files the
# envelopes need from elsewhere.
cluster_directories=(Wire Serialization Identity Handshake)
cluster_files=(
    Membership/Member.swift System/CallEnvelope.swift System/RemoteCallError.swift
    System/ClusterSystem+Invocation.swift System/TypeRegistry.swift
)

# `cluster_build coverage` builds a second copy with -profile-generate in .build-fuzz/fuzzer/cluster-coverage.
cluster_build() {
    local variant=${1:-}
    local cscratch="$scratch/cluster"
    local target
    for target in NIOCore Crypto; do
        swift build --package-path "$root" --scratch-path "$cscratch" -c release --sanitize=address --target "$target"
    done
    local triple_dir
    triple_dir=$(swift build --package-path "$root" --scratch-path "$cscratch" -c release --show-bin-path)
    local modules="$triple_dir/Modules"

    # The C module maps and include paths SwiftPM used for NIOCore and Crypto, read back from its build description.
    local cflags=()
    local flag
    while IFS= read -r flag; do cflags+=(-Xcc "$flag"); done < <(
        for target in NIOCore Crypto; do
            grep -A8 "\"C.$target-.*-release.module\":" "$cscratch/release.yaml" | grep 'args:' \
                | grep -oE '"-Xcc","(-fmodule-map-file=[^"]+|-I","-Xcc","[^"]+)"' \
                | sed -E 's/^"-Xcc","//; s/"$//; s/^-I","-Xcc","/-I/'
        done | sort -u)
    cflags+=(-Xcc "-fmodule-map-file=$root/Sources/CLZ4/module.modulemap")

    local objects=()
    local object
    while IFS= read -r object; do objects+=("$object"); done < <(
        find "$triple_dir" -path '*.build/*' -name '*.o' | sort)

    local sources=()
    local source
    while IFS= read -r source; do sources+=("$source"); done < <(
        for source in "${cluster_directories[@]}"; do find "$root/Sources/ClusterTransport/$source" -name '*.swift'; done \
            | sort)
    for source in "${cluster_files[@]}"; do sources+=("$root/Sources/ClusterTransport/$source"); done

    local cout="$out/cluster"
    local fuzzer="$out/cluster-decoder-fuzzer"
    local common=(-O -g -swift-version 6 -parse-as-library -sanitize=fuzzer,address -use-ld=lld)
    if [[ "$variant" == "coverage" ]]; then
        cout="$out/cluster-coverage"
        fuzzer="$cout/cluster-decoder-fuzzer"
        common+=(-profile-generate -profile-coverage-mapping)
    fi
    mkdir -p "$cout"
    common+=(-I "$modules" "${cflags[@]}")
    swiftc "${common[@]}" -enable-testing -module-name ClusterTransport -emit-library -static -emit-module \
        -emit-module-path "$cout/ClusterTransport.swiftmodule" -o "$cout/libClusterTransport.a" "${sources[@]}"
    swiftc "${common[@]}" -I "$cout" -o "$fuzzer" \
        "$root/Fuzz/ClusterDecoderFuzzer.swift" "$cout/libClusterTransport.a" "${objects[@]}" -llz4
    echo "built $fuzzer"
}

# Replays Fuzz/corpus-cluster once through the profiling build and prints llvm-cov's report per source file.
cluster_coverage() {
    cluster_build coverage
    local cout="$out/cluster-coverage"
    local tools
    tools=$(dirname "$(command -v swiftc)")
    rm -f "$cout/corpus.profraw"
    SWIFT_BACKTRACE=enable=no LLVM_PROFILE_FILE="$cout/corpus.profraw" \
        "$cout/cluster-decoder-fuzzer" -runs=0 "$root/Fuzz/corpus-cluster"
    "$tools/llvm-profdata" merge -o "$cout/corpus.profdata" "$cout/corpus.profraw"
    "$tools/llvm-cov" report "$cout/cluster-decoder-fuzzer" -instr-profile="$cout/corpus.profdata" \
        "$root/Sources/ClusterTransport"
    echo "per line: $tools/llvm-cov show $cout/cluster-decoder-fuzzer -instr-profile=$cout/corpus.profdata <file>"
}

cluster() {
    local corpus="$root/Fuzz/corpus-cluster"
    local work="$scratch/corpus-cluster"
    local fuzzer="$out/cluster-decoder-fuzzer"
    if [[ "${1:-}" == "seed" ]]; then
        python3 "$root/Fuzz/cluster_seeds.py" "$corpus"
        return 0
    fi
    if [[ "${1:-}" == "coverage" ]]; then
        cluster_coverage
        return 0
    fi
    cluster_build
    mkdir -p "$work"
    export SWIFT_BACKTRACE=enable=no
    case "${1:-}" in
    build) return 0 ;;
    merge) exec "$fuzzer" -set_cover_merge=1 -use_counters=0 "$corpus" "$work" ;;
    esac
    local seconds=${1:-60}
    shift || true
    mkdir -p "$artifacts/cluster"
    exec "$fuzzer" "$work" "$corpus" -max_total_time="$seconds" -artifact_prefix="$artifacts/cluster/" \
        -print_final_stats=1 "$@"
}

if [[ "${1:-}" == "cluster" ]]; then
    shift
    cluster "$@"
    exit 0
fi

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
