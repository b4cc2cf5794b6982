#!/usr/bin/env bash
# The logic of the setup action (action.yml): put a released plat on PATH, verified against the
# release's SHA256SUMS and cached in the runner's tool cache, then log in when asked.
#
# Inputs (environment; action.yml maps its inputs to these):
#   PLAT_SETUP_VERSION    `latest` (default), `1.2.3` or `v1.2.3`
#   PLAT_SETUP_RELEASES   releases URL, default $GITHUB_SERVER_URL/$GITHUB_ACTION_REPOSITORY/releases;
#                         `<url>/latest` must redirect to `<url>/tag/<tag>` and assets live
#                         under `<url>/download/<tag>/` (GitHub's layout; the tests serve a fake)
#   PLAT_SETUP_SERVER     plat server URL to log in to (optional)
#   PLAT_SETUP_LOGIN      `none` (default), `oidc` (GitHub's ID token; the job needs
#                         `permissions: id-token: write`) or `token`
#   PLAT_SETUP_TOKEN      the token for `login: token`
# From the runner: RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_PATH,
# GITHUB_ENV, GITHUB_OUTPUT.
# Writes the outputs `version` and `path`. Fails (exit 1, with an ::error:: line) on an unknown
# platform, a missing release or a checksum mismatch; nothing is cached then.
set -euo pipefail

# On stderr, which the runner also reads for workflow commands: fail is called inside $(…) too.
fail() {
  echo "::error title=plat setup::$*" >&2
  exit 1
}

need() {
  [[ -n "${!1:-}" ]] || fail "$1 is not set (this script runs inside a GitHub Actions job)"
}

# The release asset for this runner (names as release.yml uploads them).
target_for_runner() {
  case "${RUNNER_OS}/${RUNNER_ARCH}" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) fail "no plat release is built for ${RUNNER_OS}/${RUNNER_ARCH}; build it from source with \`cargo install --locked --git <this repository>\`" ;;
  esac
}

resolve_tag() {
  local version="$1" releases="$2" url
  case "$version" in
    "" | latest)
      url="$(curl -fsSL --retry 3 -o /dev/null -w '%{url_effective}' "$releases/latest")" ||
        fail "cannot find the latest release at $releases/latest"
      version="${url##*/}"
      [[ "$url" == */tag/* && -n "$version" ]] || fail "$releases/latest did not lead to a release tag (got $url)"
      ;;
  esac
  [[ "$version" == v* ]] || version="v$version"
  [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || fail "'$version' is not a release version (use latest, 1.2.3 or v1.2.3)"
  echo "$version"
}

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

install_plat() {
  local target tag releases archive dir work expected actual exe=plat
  releases="${PLAT_SETUP_RELEASES:-${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_ACTION_REPOSITORY:-}/releases}"
  releases="${releases%/}"
  target="$(target_for_runner)"
  tag="$(resolve_tag "${PLAT_SETUP_VERSION:-latest}" "$releases")"
  archive="plat-$tag-$target.tar.gz"
  if [[ "$RUNNER_OS" == Windows ]]; then
    archive="plat-$tag-$target.zip"
    exe=plat.exe
  fi
  # @actions/tool-cache's layout: <tool>/<version>/<arch>, complete once <arch>.complete exists.
  local arch
  arch="$(tr '[:upper:]' '[:lower:]' <<<"$RUNNER_ARCH")"
  dir="$RUNNER_TOOL_CACHE/plat/${tag#v}/$arch"
  if [[ -f "$dir.complete" && -x "$dir/$exe" ]]; then
    echo "plat $tag found in the tool cache ($dir)" >&2
  else
    work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/plat-setup.XXXXXX")"
    curl -fsSL --retry 3 -o "$work/$archive" "$releases/download/$tag/$archive" ||
      fail "cannot download $archive of plat $tag from $releases/download/$tag/"
    curl -fsSL --retry 3 -o "$work/SHA256SUMS" "$releases/download/$tag/SHA256SUMS" ||
      fail "cannot download SHA256SUMS of plat $tag"
    expected="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1 }' "$work/SHA256SUMS")"
    [[ -n "$expected" ]] || fail "SHA256SUMS of plat $tag has no line for $archive"
    actual="$(sha256_of "$work/$archive")"
    [[ "$actual" == "$expected" ]] ||
      fail "checksum mismatch for $archive: SHA256SUMS says $expected, the download is $actual; not installed"
    mkdir -p "$work/unpacked"
    if [[ "$archive" == *.zip ]]; then
      unzip -q "$work/$archive" -d "$work/unpacked"
    else
      tar -xzf "$work/$archive" -C "$work/unpacked"
    fi
    local found
    found="$(find "$work/unpacked" -maxdepth 2 -type f -name "$exe" | head -n 1)"
    [[ -n "$found" ]] || fail "$archive holds no $exe"
    rm -rf "$dir" "$dir.complete"
    mkdir -p "$dir"
    mv "$found" "$dir/$exe"
    chmod 0755 "$dir/$exe"
    touch "$dir.complete"
    rm -rf "$work"
    echo "plat $tag installed in $dir (sha256 $actual)" >&2
  fi
  echo "$dir" >>"$GITHUB_PATH"
  export PATH="$dir:$PATH"
  {
    echo "version=${tag#v}"
    echo "path=$dir/$exe"
  } >>"$GITHUB_OUTPUT"
  "$dir/$exe" --version >&2
}

login() {
  local mode="${PLAT_SETUP_LOGIN:-none}" server="${PLAT_SETUP_SERVER:-}"
  case "$mode" in
    none) return 0 ;;
    token | oidc) [[ -n "$server" ]] || fail "login: $mode needs the server input" ;;
    *) fail "unknown login '$mode' (use oidc, token or none)" ;;
  esac
  if [[ "$mode" == token ]]; then
    [[ -n "${PLAT_SETUP_TOKEN:-}" ]] || fail "login: token needs the token input (e.g. token: \${{ secrets.PLAT_TOKEN }})"
    echo "::add-mask::$PLAT_SETUP_TOKEN"
    # Later steps get the token through PLAT_TOKEN; nothing is written to disk but GITHUB_ENV.
    local delimiter="PLAT_TOKEN_$RANDOM$RANDOM"
    printf 'PLAT_TOKEN<<%s\n%s\n%s\n' "$delimiter" "$PLAT_SETUP_TOKEN" "$delimiter" >>"$GITHUB_ENV"
    plat context add ci --server "$server" --use >&2
    return 0
  fi
  [[ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ]] ||
    fail "login: oidc needs the job to have \`permissions: id-token: write\` (ACTIONS_ID_TOKEN_REQUEST_URL is not set; fork pull requests never get it)"
  plat login --help 2>/dev/null | grep -q -- --github-actions ||
    fail "login: oidc needs a plat whose \`plat login\` has --github-actions; this one has not: use login: token"
  plat login --github-actions --server "$server" >&2
}

need RUNNER_OS
need RUNNER_ARCH
need RUNNER_TOOL_CACHE
need GITHUB_PATH
need GITHUB_OUTPUT
install_plat
login
