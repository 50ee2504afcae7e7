#!/usr/bin/env bash
# Install what tcpscope's tests and benchmarks need on a fresh Debian machine.
#
#   bash scripts/install-deps.sh          # what the tests need
#   bash scripts/install-deps.sh bench    # the same (kept for the benchmark scripts)
#
# Building needs only cargo: tcpscope has no C dependency. The printer's
# tests compare with stored tcpdump output; the peers' privileged tests
# capture with tcpdump in a network namespace (unshare, ip), and the
# benchmarks run tcpdump itself. nftables drops chosen packets inside a
# namespace, to hold handshakes half open. tshark reads the annotated
# pcapng files back (frame.comment); man-db checks the man pages; headless
# chromium renders `tcpscope report`'s page in the tests. The Parquet
# records are queried in the tests by DuckDB and by Apache Spark in local
# mode (pyspark, on a Java runtime), and the Zeek log by zat, Zeek's log
# reader for Python; editcap (with tshark) cuts captures into rotated sets.
# g++ builds libFuzzer for the fuzz targets (scripts/fuzz.sh).
set -euo pipefail
python_packages=(duckdb==2.0.1 pyspark==4.3.0 zat==0.4.9)
install_python() {
    if ! python3 -c "import duckdb, pyspark, zat" 2>/dev/null; then
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${python_packages[@]}"
    fi
}
want=(iproute2 util-linux python3 python3-pip tcpdump nftables man-db tshark chromium default-jre-headless g++)
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    install_python
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: needs root to install: ${missing[*]} (run with sudo)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_python
