#!/usr/bin/env bash
# Put tcpscope on PATH with its shell completions and man pages.
#
#   bash scripts/install.sh              # as root: under /usr/local; else under ~/.local
#   PREFIX=/opt/tcpscope bash scripts/install.sh
#
# Installs PREFIX/bin/tcpscope (cargo install, reusing this checkout's
# build in target/), completions for bash, zsh and fish under PREFIX/share,
# and the man pages (tcpscope(1), tcpscope-read(1) ...) under
# PREFIX/share/man/man1. Capture, trace and the labs' kernel view need root:
# run them with sudo (sudo keeps PATH's /usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    prefix=${PREFIX:-/usr/local}
else
    prefix=${PREFIX:-$HOME/.local}
fi
cargo install --quiet --locked --force --path crates/cli --root "$prefix" --target-dir target
bin="$prefix/bin/tcpscope"
share="$prefix/share"
mkdir -p "$share/bash-completion/completions" "$share/zsh/site-functions" \
    "$share/fish/vendor_completions.d" "$share/man/man1"
"$bin" completions bash > "$share/bash-completion/completions/tcpscope"
"$bin" completions zsh > "$share/zsh/site-functions/_tcpscope"
"$bin" completions fish > "$share/fish/vendor_completions.d/tcpscope.fish"
"$bin" man --dir "$share/man/man1"
echo "installed $("$bin" --version) as $bin"
echo "  completions: $share/bash-completion/completions/tcpscope, $share/zsh/site-functions/_tcpscope, $share/fish/vendor_completions.d/tcpscope.fish"
echo "  man pages:   $share/man/man1/tcpscope.1 and tcpscope-*.1 (man tcpscope-ss)"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "add it to PATH: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
