#!/usr/bin/env bash
# Installs the Debian packages tsbpf's tests and benchmarks use, only when missing (idempotent):
# clang/llvm (BPF C objects, llvm-mc cross-checks), clang-format (npm run lint), bpftool (vmlinux.h),
# libbpf-dev (C reference programs), iproute2/ping (network namespaces), chromium (report rendering test), gcc-aarch64-linux-gnu
# (the linux-arm64 prebuilt addon is cross-compiled).
set -euo pipefail
need=()
command -v clang >/dev/null || need+=(clang)
command -v llvm-mc >/dev/null || need+=(llvm)
command -v clang-format >/dev/null || need+=(clang-format)
command -v llvm-objcopy >/dev/null || need+=(llvm)
command -v bpftool >/dev/null || need+=(bpftool)
[ -f /usr/include/bpf/libbpf.h ] || need+=(libbpf-dev)
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
echo "#include <sys/sdt.h>" | gcc -E -x c - >/dev/null 2>&1 || need+=(systemtap-sdt-dev)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v taskset >/dev/null || need+=(util-linux)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "tsbpf: missing packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
