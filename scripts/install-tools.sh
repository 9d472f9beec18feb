#!/usr/bin/env bash
# Installs, on a fresh Debian machine, everything the build and the tests need
# and that is not already present at the pinned version. Idempotent: a second
# run does nothing but check.
#   build         what building needs (`make build`, `make run`, the Dockerfile)
#                 except the wasm-bindgen CLI, which has its own step:
#   wasm-bindgen  the CLI at the version of the crate in Cargo.lock
#   all           `build`, plus what the browser tests need (`make test`)
# Nothing here downloads a binary from outside the package registries
# (Debian, crates.io, npm), because this network offers no other.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${VISITA_TOOLS:-$HOME/.cache/visita/tools}"
BINARYEN_VERSION=132          # npm binaryen: Debian's wasm-opt 108 breaks hydration
PLAYWRIGHT_LOCK="$ROOT/end2end/package-lock.json"
# What building needs; browser tests add Chromium.
BUILD_PACKAGES=(pkg-config libssl-dev clang brotli make)
TEST_PACKAGES=(chromium)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need_rust() {
    if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
        echo "Visita needs Rust through rustup (https://rustup.rs); install it, then run make again." >&2
        exit 1
    fi
}

# Node.js runs npm's wasm-opt and the browser tests; Debian's own will do
# when the machine has none.
node_packages() {
    command -v node >/dev/null && command -v npm >/dev/null || echo nodejs npm
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

install_wasm_target() {
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        say "adding the wasm32-unknown-unknown Rust target"
        rustup target add wasm32-unknown-unknown
    fi
}

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in
# Cargo.lock, or the generated JS does not match the WASM.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

install_wasm_bindgen() {
    local version dir
    version="$(wasm_bindgen_version)"
    dir="$TOOLS/wasm-bindgen-$version"
    if [ -x "$dir/bin/wasm-bindgen" ]; then return; fi
    say "building wasm-bindgen-cli $version (about 4 minutes, once)"
    # `cargo install wasm-bindgen-cli --locked` fails here: its lockfile pins a
    # webpki-roots release the registry does not serve. Unpack the published
    # crate, move that one dependency back, install from the path.
    local work crate
    work="$(mktemp -d)"
    cargo info "wasm-bindgen-cli@$version" >/dev/null 2>&1 || true
    crate="$(ls "$HOME"/.cargo/registry/cache/*/"wasm-bindgen-cli-$version.crate" | head -1)"
    tar xzf "$crate" -C "$work"
    (
        cd "$work/wasm-bindgen-cli-$version"
        cargo update -q -p webpki-roots --precise 1.0.10 2>/dev/null || true
        CARGO_TARGET_DIR="$work/target" cargo install -q --path . --locked --root "$dir"
    )
    rm -rf "$work"
}

install_binaryen() {
    local dir="$TOOLS/binaryen-$BINARYEN_VERSION"
    if [ -x "$dir/node_modules/.bin/wasm-opt" ]; then return; fi
    say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "binaryen@$BINARYEN_VERSION" >/dev/null)
}

install_end2end() {
    local stamp="$ROOT/end2end/node_modules/.visita-lock"
    if [ -f "$stamp" ] && cmp -s "$stamp" "$PLAYWRIGHT_LOCK"; then return; fi
    say "installing end-to-end test packages (playwright-core, no browser download)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund >/dev/null)
    cp "$PLAYWRIGHT_LOCK" "$stamp"
}

case "${1:-all}" in
    build)
        need_rust
        # shellcheck disable=SC2046
        install_debian_packages "${BUILD_PACKAGES[@]}" $(node_packages)
        install_wasm_target
        install_binaryen
        ;;
    wasm-bindgen)
        # Separate so that `make build` can compile it while the server builds.
        install_wasm_bindgen
        ;;
    all)
        need_rust
        # shellcheck disable=SC2046
        install_debian_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" $(node_packages)
        install_wasm_target
        install_binaryen
        install_end2end
        ;;
    print-path)
        # The PATH prefix under which the build finds the pinned tools.
        echo "$TOOLS/wasm-bindgen-$(wasm_bindgen_version)/bin:$TOOLS/binaryen-$BINARYEN_VERSION/node_modules/.bin"
        ;;
    *) echo "usage: $0 [build|wasm-bindgen|all|print-path]" >&2; exit 64 ;;
esac
