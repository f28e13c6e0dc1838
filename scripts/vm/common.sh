# Shared settings for the visl guest scripts. Sourced, not run.
# The cache lives outside the checkout so CI builds the kernel once per machine.
VM_CACHE_ROOT="${V4L2RVA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/v4l2-request-va}"
VM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$VM_DIR/../.." && pwd)"
KERNEL_SRC_PKG="${KERNEL_SRC_PKG:-linux-source-6.12}"
KERNEL_SRC_TARBALL="/usr/src/${KERNEL_SRC_PKG}.tar.xz"

# Version of the Debian kernel source package, e.g. 6.12.117-1~deb12u1.
kernel_src_version() {
    dpkg-query -W -f='${Version}' "$KERNEL_SRC_PKG" 2>/dev/null
}

# Hash of the test-kernel patches (scripts/vm/patches/*.patch, applied in name order).
kernel_patches_hash() {
    cat "$VM_DIR"/patches/*.patch 2>/dev/null | sha256sum | cut -c1-12
}

# Cache key: source package version + hash of the config fragment and the patches.
kernel_cache_dir() {
    local ver hash
    ver="$(kernel_src_version)"
    [ -n "$ver" ] || { echo "error: package $KERNEL_SRC_PKG is not installed" >&2; return 1; }
    hash="$(cat "$VM_DIR/kernel.config" "$VM_DIR"/patches/*.patch 2>/dev/null | sha256sum | cut -c1-16)"
    echo "$VM_CACHE_ROOT/kernel-${ver//[^A-Za-z0-9.+-]/_}-$hash"
}

# uAPI headers (for v4l2r's bindgen) depend on the source version only.
uapi_cache_dir() {
    local ver
    ver="$(kernel_src_version)"
    [ -n "$ver" ] || { echo "error: package $KERNEL_SRC_PKG is not installed" >&2; return 1; }
    echo "$VM_CACHE_ROOT/uapi-${ver//[^A-Za-z0-9.+-]/_}"
}
