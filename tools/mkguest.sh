#!/usr/bin/env bash
# mkguest.sh: build the default guest from Debian 12's own i386 packages: Debian's 686 kernel
# (a bzImage, non-PAE; or its 686-pae kernel) and an initramfs with a static busybox, the modules the PIIX IDE disk and
# ext4 need, and an /init that starts a shell on the serial console.
#
#   tools/mkguest.sh [--out DIR] [--flavour F] [--refresh] [--force]
#
#   --out DIR   where the guest goes (default: $BT386_GUEST_DIR, or build/guest)
#   --flavour F the kernel: 686 (default), 686-pae (PAE paging; e.g. --out build/guest-pae)
#               or rt-686-pae (PAE with PREEMPT_RT)
#   --refresh   look for a newer kernel in the archive even if one was downloaded before
#   --force     rebuild the initramfs even if it is up to date
#
# It leaves in DIR: vmlinuz, initramfs.cpio.gz, guest.txt (what went in), and its work files
# debs/, extract/, rootfs/. Running it again reuses what is there: no network is needed once
# the packages are downloaded. Packages are downloaded with apt-get download and unpacked with
# dpkg-deb -x; nothing is installed on this machine except the i386 package lists (dpkg
# --add-architecture i386) and cpio, if missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${BT386_GUEST_DIR:-$repo/build/guest}
refresh=0
force=0
flavour=686
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --flavour) flavour=${2:?--flavour needs 686 or 686-pae}; shift 2 ;;
    --refresh) refresh=1; shift ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mkguest: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$flavour" in
  686|686-pae|rt-686-pae) ;;
  *) echo "mkguest: unknown kernel flavour $flavour (686, 686-pae or rt-686-pae)" >&2; exit 2 ;;
esac

# The modules the guest loads at boot; modules.dep supplies what they depend on.
# crc32c_generic is ext4's and jbd2's soft dependency (checksums), which modules.dep omits.
wanted_modules=(ata_piix sd_mod crc32c_generic ext4)
# Applets /init and the boot check rely on.
needed_applets=(sh mount mkdir modprobe setsid cttyhack uname poweroff cat echo)

step=0
steps=6
progress() { step=$((step + 1)); echo "mkguest: [$step/$steps] $*"; }
die() { echo "mkguest: error: $*" >&2; exit 1; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

mkdir -p "$out"
out=$(cd "$out" && pwd)
debs=$out/debs
mkdir -p "$debs" "$out/extract"

newest_deb() { { ls -1 "$debs"/$1 2>/dev/null || true; } | sort -V | tail -n 1; }

network_errors="could not resolve|temporary failure|network is unreachable|could not connect|connection (refused|timed out)|unable to connect"
apt_updated=0
apt_update() {
  [ "$apt_updated" -eq 0 ] || return 0
  apt_updated=1
  echo "mkguest:   apt-get update"
  local log status=0
  log=$(mktemp)
  $sudo apt-get update >"$log" 2>&1 || status=$?
  if grep -qiE "$network_errors" "$log" && ! grep -qE "^(Hit|Get):" "$log"; then
    # apt-get update may even succeed with nothing fetched; the old lists may still do.
    echo "mkguest:   warning: cannot reach the Debian package archive (no network?); going on with the package lists this machine has" >&2
  elif [ "$status" -ne 0 ]; then
    # One failed index (a mirror in sync) is common; what matters is whether the packages are found.
    echo "mkguest:   warning: apt-get update reported errors; going on with the lists it has:" >&2
    grep -E "^E:" "$log" | head -n 3 | sed 's/^/mkguest:     /' >&2 || true
  fi
  rm -f "$log"
}

ensure_i386() {
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    echo "mkguest:   dpkg --add-architecture i386"
    $sudo dpkg --add-architecture i386
    apt_updated=0
    apt_update
  fi
}

# The newest linux-image-6.1.0-N-FLAVOUR (not -dbg or -unsigned) in the package lists.
find_kernel_package() {
  apt-cache search --names-only "^linux-image-6\\.1\\.0-[0-9]+-$flavour\$" 2>/dev/null |
    awk '{print $1}' | sort -V | tail -n 1
}

download() { # package:arch
  local log
  log=$(mktemp)
  # apt-get download writes to the current folder; as root it warns about _apt's sandbox.
  if ! (cd "$debs" && apt-get download "$1" >"$log" 2>&1); then
    grep -E "^E:" "$log" | head -n 3 | sed 's/^/mkguest:     /' >&2 || cat "$log" >&2
    if grep -qiE "$network_errors" "$log"; then
      rm -f "$log"
      die "cannot reach the Debian package archive to download $1 (no network?); once the packages are in $debs no network is needed"
    fi
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# ---- 1. the packages ----
progress "packages: Debian's $flavour kernel and busybox-static (i386)"
kernel_deb=$(newest_deb "linux-image-6.1.0-*-${flavour}_*_i386.deb")
busybox_deb=$(newest_deb 'busybox-static_*_i386.deb')
if [ -z "$kernel_deb" ] || [ -z "$busybox_deb" ] || [ "$refresh" -eq 1 ]; then
  command -v apt-get >/dev/null || die "apt-get not found: mkguest.sh needs Debian 12 (or a Debian-based system)"
  ensure_i386
  [ "$refresh" -eq 0 ] || apt_update
  pkg=$(find_kernel_package)
  if [ -z "$pkg" ]; then
    apt_update
    pkg=$(find_kernel_package)
  fi
  [ -n "$pkg" ] || die "package not found: no linux-image-6.1.0-*-$flavour in the i386 package lists (is this Debian 12 with bookworm in the apt sources?)"
  if [ -z "$(newest_deb "${pkg}_*_i386.deb")" ]; then
    echo "mkguest:   downloading $pkg:i386 (about 50 MB)"
    download "$pkg:i386" || { apt_update; download "$pkg:i386"; } ||
      die "cannot download $pkg:i386 (no network, or the package lists are out of date)"
  else
    echo "mkguest:   $pkg: already downloaded"
  fi
  kernel_deb=$(newest_deb "${pkg}_*_i386.deb")
  if [ -z "$busybox_deb" ] || [ "$refresh" -eq 1 ]; then
    echo "mkguest:   downloading busybox-static:i386"
    download busybox-static:i386 || { apt_update; download busybox-static:i386; } ||
      die "package not found or not downloadable: busybox-static:i386"
    busybox_deb=$(newest_deb 'busybox-static_*_i386.deb')
  fi
else
  echo "mkguest:   using $(basename "$kernel_deb") and $(basename "$busybox_deb") (--refresh looks for newer)"
fi
[ -s "$kernel_deb" ] && [ -s "$busybox_deb" ] || die "the downloaded packages are missing from $debs"

# ---- 2. unpack ----
progress "unpacking"
unpack() { # deb -> prints the folder
  local name dir
  name=$(basename "$1" .deb)
  dir=$out/extract/$name
  if [ ! -f "$dir.done" ] || [ "$1" -nt "$dir.done" ]; then
    echo "mkguest:   dpkg-deb -x $(basename "$1")" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb -x "$1" "$dir" || die "cannot unpack $1 (a damaged download? delete it and run again)"
    touch "$dir.done"
  else
    echo "mkguest:   $(basename "$1"): already unpacked" >&2
  fi
  echo "$dir"
}
kdir=$(unpack "$kernel_deb")
bdir=$(unpack "$busybox_deb")

vmlinuz_src=$(ls -1 "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$vmlinuz_src" ] || die "no boot/vmlinuz-* in $(basename "$kernel_deb")"
kver=${vmlinuz_src##*/vmlinuz-}
moddir=$kdir/lib/modules/$kver
[ -d "$moddir/kernel" ] || die "no lib/modules/$kver/kernel in $(basename "$kernel_deb")"
# The package ships no modules.dep (its postinst runs depmod): make it, once, from the
# package's own modules and System.map.
if [ ! -f "$moddir/modules.dep" ] || [ "$kdir.done" -nt "$moddir/modules.dep" ]; then
  depmod=$(PATH=$PATH:/sbin:/usr/sbin command -v depmod || true)
  if [ -z "$depmod" ]; then
    echo "mkguest:   installing kmod (for depmod)"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends kmod >/dev/null 2>&1 ||
      die "depmod is missing and could not be installed (apt-get install kmod)"
    depmod=$(PATH=$PATH:/sbin:/usr/sbin command -v depmod)
  fi
  echo "mkguest:   depmod $kver"
  "$depmod" -b "$kdir" -F "$kdir/boot/System.map-$kver" "$kver" ||
    die "depmod failed for the modules of $(basename "$kernel_deb")"
fi
[ -f "$moddir/modules.dep" ] || die "depmod made no lib/modules/$kver/modules.dep"
busybox=$bdir/bin/busybox
[ -x "$busybox" ] || die "no bin/busybox in $(basename "$busybox_deb")"

# ---- 3. the kernel ----
progress "kernel $kver"
if [ ! -f "$out/vmlinuz" ] || ! cmp -s "$vmlinuz_src" "$out/vmlinuz"; then
  cp "$vmlinuz_src" "$out/vmlinuz.tmp"
  mv "$out/vmlinuz.tmp" "$out/vmlinuz"
  echo "mkguest:   $out/vmlinuz"
else
  echo "mkguest:   vmlinuz: up to date"
fi

# ---- 4. modules ----
progress "modules: ${wanted_modules[*]} and their dependencies"
# modules.dep lines are "kernel/path/name.ko: dep.ko dep.ko"; module names treat - and _ alike.
declare -A dep_line=()
declare -A path_of=()
while IFS= read -r line; do
  path=${line%%:*}
  base=${path##*/}
  name=${base%%.ko*}
  name=${name//-/_}
  dep_line[$name]=${line#*:}
  path_of[$name]=$path
done <"$moddir/modules.dep"

declare -A include=()
builtin=()
add_module() {
  local name=${1//-/_} d dn
  [ -z "${include[$name]:-}" ] || return 0
  if [ -z "${path_of[$name]:-}" ]; then
    if grep -qE "/${name//_/[-_]}\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
      builtin+=("$name")
      return 0
    fi
    die "module $name is neither in modules.dep nor built into kernel $kver"
  fi
  include[$name]=${path_of[$name]}
  for d in ${dep_line[$name]}; do
    dn=${d##*/}
    dn=${dn%%.ko*}
    add_module "$dn"
  done
}
for mod in "${wanted_modules[@]}"; do add_module "$mod"; done
mapfile -t modules < <(printf '%s\n' "${!include[@]}" | sort)
echo "mkguest:   ${#modules[@]} modules: ${modules[*]}"
[ ${#builtin[@]} -eq 0 ] || echo "mkguest:   built into the kernel: ${builtin[*]}"

# busybox's applets: its applet_names table is the sorted, NUL-separated list "[", "[[",
# "acpid", ... (the binary is i386 and cannot run here to ask it).
mapfile -t applets < <(perl -0777 -ne '
  /\0\[\0\[\[\0((?:[a-z0-9_.-]+\0)+)/ or exit 1;
  print "[\n[[\n"; my $prev = "";
  for (split /\0/, $1) { last if $_ le $prev; print "$_\n"; $prev = $_ }' "$busybox") ||
  die "cannot find the applet list in $busybox"
# (A word match, not "printf | grep -q": under pipefail, grep -q leaving early makes printf's
# SIGPIPE fail the test now and then.)
for a in "${needed_applets[@]}"; do
  [[ " ${applets[*]} " == *" $a "* ]] || die "busybox-static has no $a applet"
done

# ---- 5. the initramfs tree ----
initramfs=$out/initramfs.cpio.gz
progress "initramfs tree (busybox with ${#applets[@]} applets)"
stamp_inputs=("$0" "$kernel_deb" "$busybox_deb")
up_to_date=1
[ -f "$initramfs" ] && [ "$force" -eq 0 ] || up_to_date=0
for f in "${stamp_inputs[@]}"; do
  if [ "$up_to_date" -eq 1 ] && [ "$f" -nt "$initramfs" ]; then up_to_date=0; fi
done
if [ "$up_to_date" -eq 1 ]; then
  echo "mkguest:   up to date (--force rebuilds it)"
else
  root=$out/rootfs
  rm -rf "$root"
  mkdir -p "$root"/{bin,dev,proc,sys,tmp,root,etc,mnt,run} "$root/lib/modules/$kver" "$root/usr"
  ln -s bin "$root/sbin"
  ln -s ../bin "$root/usr/bin"
  ln -s ../bin "$root/usr/sbin"
  cp "$busybox" "$root/bin/busybox"
  for a in "${applets[@]}"; do
    [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
  done
  # The kernel opens /dev/console before it starts /init; /init also reopens it after
  # mounting devtmpfs, so the node is only needed when this runs as root.
  if [ "$(id -u)" -eq 0 ]; then
    mknod -m 600 "$root/dev/console" c 5 1
    mknod -m 666 "$root/dev/null" c 1 3
  fi
  for mod in "${modules[@]}"; do
    mkdir -p "$root/lib/modules/$kver/$(dirname "${include[$mod]}")"
    cp "$moddir/${include[$mod]}" "$root/lib/modules/$kver/${include[$mod]}"
  done
  # modules.dep and modules.alias cut down to the modules present, so modprobe finds nothing
  # that is not there.
  printf '%s\n' "${include[@]}" | sort >"$out/modules.list"
  awk -F: 'NR == FNR { have[$1] = 1; next } have[$1]' "$out/modules.list" \
    "$moddir/modules.dep" >"$root/lib/modules/$kver/modules.dep"
  awk 'NR == FNR { n = $0; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n);
                   have[n] = 1; next }
       { n = $3; gsub(/-/, "_", n) } have[n]' "$out/modules.list" \
    "$moddir/modules.alias" >"$root/lib/modules/$kver/modules.alias"
  for f in modules.builtin modules.order; do
    [ ! -f "$moddir/$f" ] || cp "$moddir/$f" "$root/lib/modules/$kver/$f"
  done
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
  echo "root:x:0:" >"$root/etc/group"
  echo "bt386-guest" >"$root/etc/hostname"
  cat >"$root/init" <<EOF
#!/bin/sh
# /init of bt386's default guest (made by tools/mkguest.sh).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=\${TERM:-vt100}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1
hostname -F /etc/hostname
for m in ${wanted_modules[*]}; do
  modprobe \$m || echo "init: modprobe \$m failed"
done
echo
echo "bt386 guest: Linux \$(uname -r) on \$(uname -m), busybox, $kver modules: ${wanted_modules[*]}"
echo "Type poweroff -f to stop."
echo
export PS1='\\h:\\w# '
while :; do
  # setsid + cttyhack: a new session whose controlling terminal is the console (ttyS0 with
  # console=ttyS0), so job control and Ctrl-C work.
  setsid cttyhack sh
  echo "init: the shell ended; starting another"
done
EOF
  chmod 755 "$root/init"

  # ---- 6. the archive ----
  progress "initramfs.cpio.gz (newc, gzip)"
  command -v cpio >/dev/null || {
    echo "mkguest:   installing cpio"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends cpio >/dev/null 2>&1 ||
      die "cpio is missing and could not be installed (apt-get install cpio)"
  }
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
     cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -9n >"$initramfs.tmp"
  mv "$initramfs.tmp" "$initramfs"
  {
    echo "kernel: $kver ($(basename "$kernel_deb"))"
    echo "busybox: $(basename "$busybox_deb") (${#applets[@]} applets)"
    echo "modules: ${modules[*]}"
    [ ${#builtin[@]} -eq 0 ] || echo "built in: ${builtin[*]}"
  } >"$out/guest.txt"
fi
[ "$step" -eq "$steps" ] || progress "initramfs.cpio.gz: up to date"

echo "mkguest: done: $out/vmlinuz ($kver) and $out/initramfs.cpio.gz ($(du -k "$initramfs" | cut -f1) KiB)"
echo "mkguest: try: qemu-system-i386 -kernel $out/vmlinuz -initrd $initramfs -append console=ttyS0 -nographic -m 256"
