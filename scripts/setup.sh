#!/usr/bin/env bash
# Installs what a fresh Debian machine with the .NET 10 SDK lacks for Chain. Idempotent; quiet when
# everything is already there. Needs root (or sudo) only when something must be installed.
set -euo pipefail

need=()
# OpenCL: the ICD loader (libOpenCL.so.1) and PoCL, an OpenCL implementation on the CPU, so the OpenCL
# accelerator plugin and its tests run on a machine without a GPU.
for pkg in ocl-icd-libopencl1 pocl-opencl-icd; do
  dpkg -s "$pkg" 2>/dev/null | grep -q "^Status: install ok installed" || need+=("$pkg")
done

if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "Installing Debian packages: ${need[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "The .NET 10 SDK is required (dotnet was not found on PATH)." >&2
  exit 1
fi
