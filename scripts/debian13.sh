#!/usr/bin/env bash
# scripts/debian13.sh [--prepare | --shell | --no-test | --exec 'COMMAND' | ctest args...]
#
# Platform 2: Debian 13 (trixie), LibTorch 2.6, gcc 14, on this Debian 12 machine. As root:
#   1. debootstrap a minimal trixie root under .platforms/debian13/root (git-ignored), once;
#   2. install the project's package set (scripts/debian13-packages.txt) in it with apt-get; this
#      step reruns only when that list changes (a stamp holds its sha256);
#   3. copy the checkout into the root (sources only: no build/, no .git), build the release preset
#      there (the build folder stays in the root, so a warm run is incremental) and run the whole
#      ctest suite plus `bpninja check --require-ledger` in both dtypes.
# The mirror is read from apt's own sources on this machine; no host is written in the repository.
# `--prepare` stops after steps 1 and 2 (CI runs it in the background, while the Debian 12 suite
# builds, so the download overlaps the compile); `--shell` opens a shell in the root instead of testing; `--no-test` stops after the build;
# `--exec 'COMMAND'` runs COMMAND in the root's checkout after the build. To record the ledger for
# Debian 13, run `bpninja check --record-ledger` there with --exec and copy tests/golden/exactness.json
# back from .platforms/debian13/root/work/backprop-ninja/ (docs/platforms.md, "Platforms").
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"
log() { echo "debian13: $*" >&2; }
die() { echo "debian13: $*" >&2; exit 2; }

mode=test
case "${1:-}" in
  --prepare) mode=prepare; shift ;;
  --shell) mode=shell; shift ;;
  --no-test) mode=build; shift ;;
  --exec) mode=exec; exec_cmd="${2:?--exec needs a command}"; shift 2 ;;
esac

[ "$(id -u)" -eq 0 ] || die "debootstrap and chroot need root: run as root (CI does) or with sudo"
suite=trixie
platform=.platforms/debian13
chroot_dir="$root_dir/$platform/root"
pkg_list="$root_dir/scripts/debian13-packages.txt"

# The Debian mirror apt already uses here: the first deb URI of the main archive (deb822 or one-line format).
mirror_uri() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk 'tolower($1)=="uris:" {print $2}' /etc/apt/sources.list.d/*.sources | grep -v -- '-security' | head -n1 || true)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list |
          grep -v -- '-security' | head -n1 || true)
  fi
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}: configure apt first"
  echo "${uri%/}"
}

host_install() {  # host packages this script needs
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} on the host"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

mounted=()
cleanup() {
  local m
  for ((i=${#mounted[@]}-1; i>=0; i--)); do m="${mounted[$i]}"; umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {  # bind-mount $1 at $2 (inside the root) for the duration of this script
  mkdir -p "$2"
  mountpoint -q "$2" || { mount --bind "$1" "$2"; mounted+=("$2"); }
}
in_root() { chroot "$chroot_dir" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# 1. The base system, once.
mirror=$(mirror_uri)
if [ ! -f "$chroot_dir/.bpninja-base-ok" ]; then
  host_install debootstrap debian-archive-keyring
  log "debootstrap $suite from $mirror into $platform/root (a few minutes, once)"
  rm -rf "$chroot_dir"
  mkdir -p "$chroot_dir"
  debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$suite" "$chroot_dir" "$mirror" >&2
  touch "$chroot_dir/.bpninja-base-ok"
fi
echo "deb $mirror $suite main" > "$chroot_dir/etc/apt/sources.list"
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf" 2>/dev/null || true

bind /proc "$chroot_dir/proc"
bind /dev "$chroot_dir/dev"
bind /sys "$chroot_dir/sys"

# 2. The project's packages, whenever the list changes.
want=$(sha256sum "$pkg_list" | cut -d' ' -f1)
have=$(cat "$chroot_dir/.bpninja-packages.sha256" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$pkg_list" | tr -s ' \t' '\n' | sed '/^$/d')
  log "installing ${#pkgs[@]} packages in the root: ${pkgs[*]}"
  in_root apt-get update -q >&2
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
  in_root apt-get clean
  echo "$want" > "$chroot_dir/.bpninja-packages.sha256"
fi
if [ "$mode" = prepare ]; then log "the root is ready (packages: $want)"; exit 0; fi

# 3. The checkout, copied in (sources and data only; the root's own build folder is kept).
scripts/setup.sh --no-build >/dev/null  # the data set (and host packages); nothing is built on the host here
src="$chroot_dir/work/backprop-ninja"
# Only the files whose content changed are written (with a fresh mtime): tar restores the host's mtimes,
# which can be older than the root's last build, and ninja would then skip a changed file.
stage="$chroot_dir/work/.incoming"
rm -rf "$stage"
mkdir -p "$src" "$stage"
tar -C "$root_dir" --exclude=./build --exclude=./.platforms --exclude=./.git --exclude=./runs --exclude=./out -cf - . |
  tar -C "$stage" -xf -
(cd "$src" && find . -path ./build -prune -o -type f -print) | while IFS= read -r f; do
  [ -e "$stage/$f" ] || rm -f "$src/$f"
done
(cd "$stage" && find . -type f -print) | while IFS= read -r f; do
  if ! cmp -s "$stage/$f" "$src/$f"; then
    mkdir -p "$(dirname "$src/$f")"
    cp "$stage/$f" "$src/$f"
  fi
done
rm -rf "$stage"

if [ "$mode" = shell ]; then in_root bash -c "cd /work/backprop-ninja && exec bash -i"; exit $?; fi

log "building (release preset, no benchmarks: the suite does not run them) inside the root"
in_root bash -c 'cd /work/backprop-ninja && cmake --preset release -DBPNINJA_REQUIRE_PYTHON_ROUNDTRIP=ON -DBPNINJA_BUILD_BENCH=OFF >&2 && cmake --build --preset release >&2'
[ "$mode" = build ] && exit 0
if [ "$mode" = exec ]; then in_root bash -c "cd /work/backprop-ninja && $exec_cmd"; exit $?; fi

log "ctest inside the root"
in_root bash -c 'cd /work/backprop-ninja && ctest --preset release "$@"' ctest "$@"
for dtype in float32 float64; do
  log "bpninja check --dtype $dtype --require-ledger"
  in_root bash -c "cd /work/backprop-ninja && build/release/src/bpninja check --dtype $dtype --require-ledger" >&2
done
log "Debian 13 suite passed"
