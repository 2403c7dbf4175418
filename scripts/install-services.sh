#!/usr/bin/env bash
# Make the machine ready for tests that start real PostgreSQL and Redis servers
# (tests/services.py) and drive Chromium. Safe to run any number of times.
#
#   - installs redis-server and chromium with apt-get when they are missing;
#   - checks that PostgreSQL's server binaries (initdb, pg_ctl, createdb) are on
#     PATH or under /usr/lib/postgresql/*/bin (it does not install PostgreSQL:
#     Debian's package also starts a system-wide cluster, which tests do not want);
#   - creates the `postgres` OS user when missing (initdb refuses to run as root,
#     so the tests run the cluster as that user).
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-services: apt-get not found; install $* with your package manager" >&2
        exit 1
    fi
    if [ "$APT_UPDATED" -eq 0 ]; then
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

find_pg_binary() {
    local name=$1 found
    if found=$(command -v "$name" 2>/dev/null); then
        echo "$found"
        return 0
    fi
    found=$(ls -1d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$found" ] && echo "$found"
}

# Redis
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    echo "install-services: installing redis-server"
    apt_install redis-server
    # Debian starts a system-wide instance; the tests start their own.
fi
echo "install-services: redis-server: $(command -v redis-server || echo /usr/bin/redis-server)"

# Chromium, for the inbox's browser test (tests/server/test_browser.py drives it with
# Playwright through executable_path; Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1; then
    echo "install-services: installing chromium"
    apt_install chromium
fi
echo "install-services: chromium: $(command -v chromium)"

# PostgreSQL
for name in initdb pg_ctl createdb; do
    if ! path=$(find_pg_binary "$name"); then
        echo "install-services: PostgreSQL's $name was not found on PATH or under" \
            "/usr/lib/postgresql/*/bin. Install the server, e.g. apt-get install -y postgresql" >&2
        exit 1
    fi
    echo "install-services: $name: $path"
done

# The OS user PostgreSQL runs as when the tests run as root.
if ! id -u postgres >/dev/null 2>&1; then
    echo "install-services: creating the postgres OS user"
    $SUDO useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
if [ "$(id -u)" -eq 0 ] && ! command -v runuser >/dev/null 2>&1; then
    echo "install-services: runuser (util-linux) is needed to run PostgreSQL as postgres" >&2
    exit 1
fi
echo "install-services: ready"
