#!/usr/bin/env bash
# The QEMU lab's figures: initramfs generation of a typical image; QEMU's bare boot of the
# x86_64 tinyconfig test kernel with a trivial initramfs that powers off (the anchor) against
# gauntlet's boot() of the same kernel and image, from "image ready" to "all results parsed"
# (medians of RUNS); QemuLab::run of a small project; four boots one after the other against
# two at a time. TCG (KVM does not work on this project's machines).
#
#   bench/lab.sh [RUNS] [KERNEL]     defaults: 7 runs, the test kernel of
#                                    crates/lab/tests/qemu/kernels.rs (built once into
#                                    $GAUNTLET_TEST_CACHE when missing: minutes)
#
# Needs qemu-system-x86, busybox-static, the kernel tree (.ci/linux-tree) when the kernel is not
# built yet. Other load on the machine shows in the figures: run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p gauntlet-lab --example boot_bench
args=(--runs "${1:-7}")
[ -n "${2:-}" ] && args+=(--kernel "$2")
exec target/release/examples/boot_bench "${args[@]}"
