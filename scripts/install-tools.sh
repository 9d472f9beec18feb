#!/usr/bin/env bash
# Installs, on a fresh Debian machine, everything the build and the tests need
# and that is not already present at the pinned version. Idempotent: a second
# run does nothing but check.
#   build         what building needs (`make build`, `make run`, the Dockerfile)
#                 except the wasm-bindgen CLI, which has its own step:
#   wasm-bindgen  the CLI at the version of the crate in Cargo.lock
#   all           `build`, plus what the browser tests need (`make test`)
#   fuzz          cargo-fuzz (`make fuzz`)
# Nothing here downloads a binary from outside the package registries
# (Debian, crates.io, npm), because this network offers no other.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${VISITA_TOOLS:-$HOME/.cache/visita/tools}"
BINARYEN_VERSION=132          # npm binaryen: Debian's wasm-opt 108 breaks hydration
CARGO_FUZZ_VERSION=0.13.2     # `make fuzz`
PLAYWRIGHT_LOCK="$ROOT/end2end/package-lock.json"
# What building needs; browser tests add Chromium.
BUILD_PACKAGES=(pkg-config libssl-dev libxml2-dev libxmlsec1-dev clang brotli make)
TEST_PACKAGES=(chromium poppler-utils openssl slapd ldap-utils xmlsec1)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need_rust() {
    if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
        echo "Visita needs Rust through rustup (https://rustup.rs); install it, then run make again." >&2
        exit 1
    fi
    # The `minimal` rustup profile has no rustfmt (make test) or clippy (make lint).
    for component in rustfmt clippy; do
        if ! rustup component list --installed | grep -q "^$component"; then
            say "adding the $component Rust component"
            rustup component add "$component"
        fi
    done
}

# Node.js 20 or later runs npm's wasm-opt and playwright-core. Debian 12's own
# nodejs is 18, so it cannot stand in; say so plainly instead.
need_node() {
    local major
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
    if [ "$major" -lt 20 ] || ! command -v npm >/dev/null; then
        echo "Visita's build needs Node.js 20 or later with npm (found: $(node --version 2>/dev/null || echo none)); install it, then run make again." >&2
        exit 1
    fi
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "Installing Debian packages needs root: run make as root, or install sudo." >&2
        exit 1
    fi
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
    # Outside any workspace: in the Dockerfile the members are not copied yet.
    (cd "$work" && cargo info "wasm-bindgen-cli@$version" >/dev/null 2>&1) || true
    crate="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"wasm-bindgen-cli-$version.crate" 2>/dev/null | head -1 || true)"
    if [ -z "$crate" ]; then
        echo "could not fetch wasm-bindgen-cli $version from crates.io (is the registry reachable?)" >&2
        exit 1
    fi
    tar xzf "$crate" -C "$work"
    (
        cd "$work/wasm-bindgen-cli-$version"
        cargo update -q -p webpki-roots --precise 1.0.10 2>/dev/null || true
        CARGO_TARGET_DIR="$work/target" cargo install -q --path . --locked --root "$dir"
    )
    rm -rf "$work"
}

install_cargo_fuzz() {
    local dir="$TOOLS/cargo-fuzz-$CARGO_FUZZ_VERSION"
    if [ -x "$dir/bin/cargo-fuzz" ]; then return; fi
    say "building cargo-fuzz $CARGO_FUZZ_VERSION (about 1 minute, once)"
    cargo install -q cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$dir"
}

install_binaryen() {
    local dir="$TOOLS/binaryen-$BINARYEN_VERSION"
    if [ -x "$dir/node_modules/.bin/wasm-opt" ]; then return; fi
    say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "binaryen@$BINARYEN_VERSION" >/dev/null)
}

# A real SMTP server (aiosmtpd) for the email tests and schemathesis for the
# API's, in their own virtualenv;
# the stamp is the requirements file it was made from.
install_python_tools() {
    local dir="$TOOLS/python" requirements="$ROOT/end2end/requirements.txt"
    if [ -x "$dir/bin/python" ] && cmp -s "$dir/.visita-requirements" "$requirements"; then return; fi
    say "installing the test's Python packages (aiosmtpd, schemathesis, fhir.resources)"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/.visita-requirements"
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
        need_node
        install_debian_packages "${BUILD_PACKAGES[@]}"
        install_wasm_target
        install_binaryen
        ;;
    wasm-bindgen)
        # Separate so that `make build` can compile it while the server builds.
        install_wasm_bindgen
        ;;
    all)
        need_rust
        need_node
        install_debian_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        install_wasm_target
        install_binaryen
        install_end2end
        install_python_tools
        ;;
    fuzz)
        need_rust
        install_cargo_fuzz
        ;;
    bench)
        # Janus (videoroom plugin) is what bench/sfu.mjs compares the SFU with.
        install_debian_packages janus
        ;;
    print-path)
        # The PATH prefix under which the build finds the pinned tools.
        echo "$TOOLS/wasm-bindgen-$(wasm_bindgen_version)/bin:$TOOLS/binaryen-$BINARYEN_VERSION/node_modules/.bin:$TOOLS/cargo-fuzz-$CARGO_FUZZ_VERSION/bin"
        ;;
    *) echo "usage: $0 [build|wasm-bindgen|all|fuzz|bench|print-path]" >&2; exit 64 ;;
esac
