# Sourced by scripts/start and scripts/test: `apt_install_missing PKG...` installs the Debian packages given
# (with sudo when not root) in one apt-get run, if any; callers pass only the ones they found missing.
apt_install_missing() {
    [ $# -gt 0 ] || return 0
    local sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    echo "==> installing $*"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "$@" >/dev/null
}

# The packages the build itself needs (liblz4 for the CLZ4 system library target), when missing.
missing_build_packages() {
    command -v pkg-config >/dev/null 2>&1 || echo pkg-config
    pkg-config --exists liblz4 2>/dev/null || echo liblz4-dev
}
