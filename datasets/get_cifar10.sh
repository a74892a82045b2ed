#!/usr/bin/env bash
# get_cifar10.sh - put the CIFAR-10 binary version at datasets/cifar-10-binary.tar.gz.
#
# Sources, first match wins:
#   1. $CIFAR10_TARBALL            a tarball you already have (copied)
#   2. ../shared/datasets/cifar10/cifar-10-binary.tar.gz next to the repository
#                                  (a local copy; symlinked, not checked against the
#                                  official md5: it was decoded from a JPEG copy)
#   3. https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz with curl or wget,
#      verified against the official md5 before it is kept
# Idempotent: an existing datasets/cifar-10-binary.tar.gz is left alone.
# Then: hptune prepare --from datasets/cifar-10-binary.tar.gz --out datasets/cifar10.h5
set -euo pipefail

URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
OFFICIAL_MD5=c32a1d4ab5d03f1284b67883e8d87530

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target="$repo_root/datasets/cifar-10-binary.tar.gz"
shared="$repo_root/../shared/datasets/cifar10/cifar-10-binary.tar.gz"

die() { echo "get_cifar10.sh: error: $*" >&2; exit 1; }

md5_of() {
    if command -v md5sum >/dev/null 2>&1; then md5sum "$1" | cut -d' ' -f1
    elif command -v md5 >/dev/null 2>&1; then md5 -q "$1"
    else die "neither md5sum nor md5 is installed; cannot verify the download"
    fi
}

if [ -e "$target" ]; then
    echo "get_cifar10.sh: $target already exists; nothing to do (delete it to fetch again)"
    exit 0
fi
mkdir -p "$repo_root/datasets"

if [ -n "${CIFAR10_TARBALL:-}" ]; then
    [ -f "$CIFAR10_TARBALL" ] || die "CIFAR10_TARBALL=$CIFAR10_TARBALL is not a readable file"
    cp "$CIFAR10_TARBALL" "$target.part.$$" || { rm -f "$target.part.$$"; die "cannot copy $CIFAR10_TARBALL"; }
    mv "$target.part.$$" "$target"
    echo "get_cifar10.sh: source: \$CIFAR10_TARBALL ($CIFAR10_TARBALL), copied to $target"
    exit 0
fi

if [ -f "$shared" ]; then
    shared_abs="$(cd "$(dirname "$shared")" && pwd)/$(basename "$shared")"
    ln -s "$shared_abs" "$target"
    echo "get_cifar10.sh: source: local shared copy $shared_abs (symlinked as $target;" \
         "JPEG-derived, so its md5 differs from the official one and is not checked)"
    exit 0
fi

partial="$target.part.$$"
trap 'rm -f "$partial"' EXIT
echo "get_cifar10.sh: source: downloading $URL"
if command -v curl >/dev/null 2>&1; then
    curl -fL --retry 3 --connect-timeout 30 -o "$partial" "$URL" \
        || die "download failed (curl); check the network, or set CIFAR10_TARBALL=/path/to/cifar-10-binary.tar.gz"
elif command -v wget >/dev/null 2>&1; then
    wget -q --tries=3 --timeout=30 -O "$partial" "$URL" \
        || die "download failed (wget); check the network, or set CIFAR10_TARBALL=/path/to/cifar-10-binary.tar.gz"
else
    die "neither curl nor wget is installed; install one, or set CIFAR10_TARBALL=/path/to/cifar-10-binary.tar.gz"
fi
actual=$(md5_of "$partial")
if [ "$actual" != "$OFFICIAL_MD5" ]; then
    die "md5 of the download is $actual, expected $OFFICIAL_MD5; refusing it (try again later)"
fi
mv "$partial" "$target"
echo "get_cifar10.sh: downloaded and verified (md5 $OFFICIAL_MD5): $target"
