#!/usr/bin/env bash
# Install what tests/test_slurm.py and tests/test_postgres_sweep.py need: Slurm (slurmctld,
# slurmd, its client commands) with munge, and PostgreSQL, from Debian's packages. Only as root
# on a system with apt-get; nothing is started (the tests start and stop their own daemons in
# temporary folders), and no service is left running. Never fails: whatever cannot be installed
# makes those tests skip, saying why.
set -u
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install_services: not root or no apt-get; the Slurm and PostgreSQL tests will skip"
    exit 0
fi
need=()
command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ] \
    || need+=(slurmctld slurmd slurm-client munge)
# ip: the local cluster brings up loopback in its own network namespace
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || need+=(postgresql)
if [ ${#need[@]} = 0 ]; then
    exit 0
fi
echo "install_services: apt-get install ${need[*]}"
# keep the packages' own services from starting (munged, slurmd, a PostgreSQL cluster on :5432)
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { timeout 300 apt-get update -q >/dev/null \
        && timeout 600 apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
then
    echo "install_services: apt-get failed; the Slurm and PostgreSQL tests will skip"
fi
if [ "$own_policy" = 1 ]; then
    rm -f "$policy"
fi
exit 0
