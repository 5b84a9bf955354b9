#!/bin/bash
# install.sh: installs klipper-pin from this checkout in front of klippy,
# as Klipper's add-ons install (Shake&Tune, crowsnest): as the printer's
# user, with sudo only where it must. It installs the build dependencies,
# builds and self-tests klipper-pin (scripts/klipper-pin-rebuild), copies
# the shipped config to ~/printer_data/config/klipper-pin.conf unless one
# is there, wraps klipper.service's ExecStart (`klipper-pin systemd
# install`), links the Klipper module into ~/klipper/klippy/extras/ (or
# klippy/plugins/, as on Kalico), and adds [update_manager klipper-pin]
# to moonraker.conf unless that section is there. `install.sh --uninstall`
# undoes each step it took, and only those. It logs to
# ~/printer_data/logs/klipper-pin.log.
#
# Where the running launcher lives, and why. Moonraker updates this
# checkout with `git pull` and restarts klipper; it runs no build step, and
# refuses to update a checkout whose tracked files were changed (`git
# describe --dirty`; untracked files do not count, but could block a pull
# that adds them). So nothing is built or installed in /usr/local, and
# nothing tracked is ever written:
#
#   CLONE/deploy/                 ignored by .gitignore, owned by the user
#     builds/DATE-SOURCES/        one build (make BUILD=...), its SOURCES
#     current -> builds/...       what ExecStart runs: current/klipper-pin,
#                                 its shim beside it
#     failed                      the sources that last failed to build
#     install.state, moonraker.added   what install.sh did, for --uninstall
#
# The drop-in runs `ExecStartPre=-CLONE/scripts/klipper-pin-rebuild` as
# the unit's User before every start: when the sources' fingerprint
# differs from current's, it builds into a new folder, runs the self-test
# (--version, check of the shipped config, a program run under the shim)
# and only then swaps `current` with one rename. The user owns every file
# involved, so no root is needed on update; a failed build leaves
# `current` as it was (the "-" lets klippy start anyway) and says why in
# the journal and the log. deploy/ sits inside the clone rather than in
# $HOME so that the rebuild finds it from its own path whatever the
# unit's environment; a hard recovery by Moonraker (a fresh clone)
# removes it, and the next start builds it again.
#
# Usage: install.sh [--uninstall] [--unit NAME] [--root DIR]
#   --unit NAME  the Klipper unit (default klipper)
#   --root DIR   the system tree the unit lives in (default /): for tests
#                and staging; `klipper-pin systemd` gets the same --root
# Environment: KLIPPER_PIN_DATA (default ~/printer_data), KLIPPER_PATH
# (default ~/klipper). The tests put stand-ins for sudo, apt-get,
# dpkg-query and systemctl first on PATH; nothing else is test-only.
set -eu
export LC_ALL=C

clone=$(cd "$(dirname "$(readlink -f "$0")")" && pwd -P)
deploy=$clone/deploy
state=$deploy/install.state
data=${KLIPPER_PIN_DATA:-$HOME/printer_data}
klipper=${KLIPPER_PATH:-$HOME/klipper}
config=$data/config/klipper-pin.conf
moonraker_conf=$data/config/moonraker.conf
log=$data/logs/klipper-pin.log
unit=klipper
root=/
mode=install
# What the build needs (debian-packages lists the tests' too). gcc, make,
# binutils and libc6-dev are Klipper's own needs as well (klippy builds
# c_helper.so with gcc): --uninstall never removes them.
BUILD_PACKAGES="gcc make libc6-dev binutils libinih-dev"
KLIPPER_PACKAGES="gcc make libc6-dev binutils"

while [ $# -gt 0 ]; do
	case $1 in
	--uninstall) mode=uninstall ;;
	--unit)
		unit=${2:?--unit needs a name}
		shift
		;;
	--root)
		root=${2:?--root needs a directory}
		shift
		;;
	-h | --help)
		sed -n '/^# Usage:/,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		echo "install.sh: unknown option '$1' (see install.sh --help)" >&2
		exit 2
		;;
	esac
	shift
done
unit=${unit%.service}

say() {
	echo "[klipper-pin] $*"
	if [ -d "$data/logs" ]; then
		printf '%s install.sh: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$log"
	fi
}

die() {
	echo "[klipper-pin] error: $*" >&2
	if [ -d "$data/logs" ]; then
		printf '%s install.sh: error: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$log"
	fi
	exit 1
}

# state KEY: the value install.sh recorded for KEY, if any.
state_get() {
	[ -f "$state" ] || return 0
	sed -n "s/^$1 //p" "$state" | tail -n 1
}

state_set() {
	mkdir -p "$deploy"
	touch "$state"
	# In place, so that installing again writes the same file.
	awk -v key="$1" -v value="$2" '
		$1 == key { print key " " value; done = 1; next }
		{ print }
		END { if (!done) print key " " value }' "$state" >"$state.new"
	mv -f "$state.new" "$state"
}

preflight() {
	if [ "$(id -u)" -eq 0 ]; then
		die "do not run install.sh as root: run it as the printer's user (it uses sudo where it must)"
	fi
	local dir found=
	for dir in etc/systemd/system run/systemd/system lib/systemd/system usr/lib/systemd/system; do
		if [ -f "${root%/}/$dir/$unit.service" ]; then
			found=${root%/}/$dir/$unit.service
			break
		fi
	done
	[ -n "$found" ] || die "no $unit.service under ${root}: install Klipper first (KIAUH), or name the unit with --unit"
	say "found $found"
	command -v git >/dev/null || die "git is not installed"
}

# ---- install ----------------------------------------------------------------

install_packages() {
	local pkg missing=
	for pkg in $BUILD_PACKAGES; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
			missing="$missing $pkg"
		fi
	done
	if [ -z "$missing" ]; then
		say "build dependencies are installed ($BUILD_PACKAGES)"
		return
	fi
	say "installing build dependencies:$missing"
	sudo apt-get update || die "apt-get update failed"
	# shellcheck disable=SC2086 # a list of package names
	sudo apt-get install -y --no-install-recommends $missing || die "apt-get install$missing failed"
	state_set packages-installed "$(echo "$(state_get packages-installed) $missing" | xargs -n 1 | sort -u | xargs)"
}

build() {
	say "building and testing klipper-pin (log: $log)"
	"$clone/scripts/klipper-pin-rebuild" --force ||
		die "the build failed (see $log); nothing was changed in klipper.service"
	say "running build: $("$deploy/current/klipper-pin" --version)"
}

copy_config() {
	if [ -e "$config" ]; then
		say "keeping your $config"
		return
	fi
	mkdir -p "$(dirname "$config")"
	cp "$clone/config/klipper-pin.conf" "$config.new"
	chmod 644 "$config.new"
	mv -f "$config.new" "$config"
	state_set config-created "$(sha256sum <"$config" | cut -d' ' -f1)"
	say "copied the shipped config to $config"
}

install_unit() {
	say "wrapping $unit.service's ExecStart with $deploy/current/klipper-pin"
	sudo "$deploy/current/klipper-pin" systemd install --unit "$unit" \
		--config "$config" --user "$(id -un)" \
		--launcher "$deploy/current/klipper-pin" --source "$clone" \
		--root "$root" || die "klipper-pin systemd install failed"
	state_set unit "$unit"
	sudo systemctl daemon-reload || die "systemctl daemon-reload failed"
}

module_dir() {
	if [ -d "$klipper/klippy/plugins" ]; then
		echo "$klipper/klippy/plugins"
	else
		echo "$klipper/klippy/extras"
	fi
}

link_module() {
	local source=$clone/klippy/extras/klipper_pin.py dir target
	[ -f "$source" ] || die "this checkout has no klippy/extras/klipper_pin.py"
	[ -d "$klipper/klippy" ] || die "no Klipper at $klipper (set KLIPPER_PATH)"
	dir=$(module_dir)
	target=$dir/klipper_pin.py
	if [ -L "$target" ] && [ "$(readlink "$target")" = "$source" ]; then
		say "the Klipper module is linked already: $target"
		return
	fi
	if [ -e "$target" ] || [ -L "$target" ]; then
		die "$target exists and is not klipper-pin's link: move it away first"
	fi
	mkdir -p "$dir"
	ln -s "$source" "$target"
	state_set module-link "$target"
	say "linked the Klipper module: $target -> $source"
}

# The section as Moonraker reads it, between two markers --uninstall finds.
moonraker_section() {
	local path=$clone origin branch
	# Written as Moonraker's own examples are: ~/klipper-pin.
	# shellcheck disable=SC2088 # a literal tilde, for moonraker.conf
	case $path in "$HOME"/*) path="~/${path#"$HOME"/}" ;; esac
	origin=$(git -C "$clone" remote get-url origin 2>/dev/null) || origin=https://github.com/klipper-pin/klipper-pin.git
	branch=$(git -C "$clone" symbolic-ref --short -q HEAD 2>/dev/null) || branch=main
	cat <<EOF
# klipper-pin: added by install.sh; \`install.sh --uninstall\` removes it
[update_manager klipper-pin]
type: git_repo
path: $path
origin: $origin
primary_branch: $branch
# Moonraker installs what this file lists when an update adds a package.
system_dependencies: scripts/system-dependencies.json
# klipper's restart rebuilds klipper-pin (the unit's ExecStartPre).
managed_services: klipper
# klipper-pin: end
EOF
}

add_moonraker_section() {
	if [ ! -f "$moonraker_conf" ]; then
		say "no $moonraker_conf: add the [update_manager klipper-pin] section of the README yourself"
		return
	fi
	if grep -q '^\[update_manager klipper-pin\]' "$moonraker_conf"; then
		say "keeping the [update_manager klipper-pin] section of $moonraker_conf"
		return
	fi
	mkdir -p "$deploy"
	{
		# A blank line before the section, and a newline first where the
		# file does not end with one.
		if [ -s "$moonraker_conf" ] && [ -n "$(tail -c 1 "$moonraker_conf")" ]; then
			echo
		fi
		echo
		moonraker_section
	} >"$deploy/moonraker.added"
	cat "$deploy/moonraker.added" >>"$moonraker_conf"
	state_set moonraker-added "$moonraker_conf"
	say "added [update_manager klipper-pin] to $moonraker_conf"
}

# klipper-pin on PATH (for `klipper-pin status`): a link to current's, so
# that every update is the one the command runs too. Something else there
# (a `make install`) is left alone.
command_link() {
	echo "${root%/}/usr/local/bin/klipper-pin"
}

link_command() {
	local link
	link=$(command_link)
	if [ -L "$link" ] && [ "$(readlink "$link")" = "$deploy/current/klipper-pin" ]; then
		say "klipper-pin is on PATH already: $link"
		return
	fi
	if [ -e "$link" ] || [ -L "$link" ]; then
		say "keeping $link (not install.sh's; run $deploy/current/klipper-pin, or remove it and install again)"
		return
	fi
	[ -d "$(dirname "$link")" ] || {
		say "no $(dirname "$link"): klipper-pin is $deploy/current/klipper-pin"
		return
	}
	sudo ln -s "$deploy/current/klipper-pin" "$link" || die "cannot link $link"
	state_set command-link "$link"
	say "linked $link -> $deploy/current/klipper-pin"
}

# Removes the link recorded under state key $1 if it still points to $2,
# running rm under $3 (sudo, or nothing): a link someone changed stays.
remove_recorded_link() {
	local link
	link=$(state_get "$1")
	[ -n "$link" ] || return 0
	if [ -L "$link" ] && [ "$(readlink "$link")" = "$2" ]; then
		${3:-} rm -f "$link"
		say "removed the link $link"
	fi
}

unlink_command() {
	remove_recorded_link command-link "$deploy/current/klipper-pin" sudo
}

restart_klipper() {
	say "restarting $unit"
	sudo systemctl restart "$unit" || die "systemctl restart $unit failed"
}

do_install() {
	preflight
	install_packages
	build
	copy_config
	install_unit
	link_command
	link_module
	add_moonraker_section
	restart_klipper
	say "installed. Check your config as klippy's user with:"
	say "  klipper-pin check --config $config"
	say "and see where each thread runs: klipper-pin status"
}

# ---- uninstall --------------------------------------------------------------

remove_moonraker_section() {
	local file added
	file=$(state_get moonraker-added)
	[ -n "$file" ] && [ -f "$file" ] || return 0
	added=$deploy/moonraker.added
	local size extra
	size=$(stat -c %s "$file")
	extra=$(stat -c %s "$added" 2>/dev/null || echo 0)
	if [ "$extra" -gt 0 ] && [ "$size" -ge "$extra" ] &&
		tail -c "$extra" "$file" | cmp -s - "$added"; then
		# The section is still the file's end, as added: cut it off.
		truncate -s $((size - extra)) "$file"
	elif grep -q '^# klipper-pin: added by install.sh' "$file"; then
		# Edited after: drop the lines between the markers.
		sed '/^# klipper-pin: added by install.sh/,/^# klipper-pin: end$/d' "$file" >"$file.new"
		cat "$file.new" >"$file"
		rm -f "$file.new"
	else
		say "the [update_manager klipper-pin] section of $file was changed: remove it yourself"
		return 0
	fi
	say "removed [update_manager klipper-pin] from $file"
}

unlink_module() {
	remove_recorded_link module-link "$clone/klippy/extras/klipper_pin.py"
}

remove_unit() {
	local name
	name=$(state_get unit)
	[ -n "$name" ] || return 0
	[ -x "$deploy/current/klipper-pin" ] ||
		die "no build of klipper-pin to run 'systemd remove' with: run scripts/klipper-pin-rebuild, then install.sh --uninstall again"
	say "restoring $name.service's own ExecStart"
	sudo "$deploy/current/klipper-pin" systemd remove --unit "$name" --root "$root" ||
		die "klipper-pin systemd remove failed"
	sudo systemctl daemon-reload || die "systemctl daemon-reload failed"
	sudo systemctl restart "$name" || die "systemctl restart $name failed"
}

remove_config() {
	local created
	created=$(state_get config-created)
	[ -n "$created" ] && [ -f "$config" ] || return 0
	if [ "$(sha256sum <"$config" | cut -d' ' -f1)" = "$created" ]; then
		rm -f "$config"
		say "removed $config (as install.sh copied it)"
	else
		say "keeping $config: you edited it"
	fi
}

remove_packages() {
	local pkg remove=
	for pkg in $(state_get packages-installed); do
		case " $KLIPPER_PACKAGES " in
		*" $pkg "*) say "keeping $pkg (Klipper needs it too)" ;;
		*) remove="$remove $pkg" ;;
		esac
	done
	[ -n "$remove" ] || return 0
	say "removing the packages install.sh installed:$remove"
	# shellcheck disable=SC2086 # a list of package names
	sudo apt-get remove -y $remove || say "apt-get remove$remove failed: remove them yourself"
}

do_uninstall() {
	preflight
	[ -f "$state" ] || die "klipper-pin is not installed from $clone (no $state)"
	remove_moonraker_section
	unlink_module
	unlink_command
	remove_unit
	remove_config
	remove_packages
	rm -rf "$deploy"
	say "uninstalled; the log stays: $log"
}

if [ "$mode" = install ]; then do_install; else do_uninstall; fi
