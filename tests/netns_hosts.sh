#!/usr/bin/env bash
# netns_hosts.sh - several "hosts" on this one machine for multi-node tests:
# each host is a Linux network namespace with its own address, /etc/hosts and
# host name (a UTS namespace per process started on it), joined to the others
# by a bridge that lives in a namespace of its own.  Nothing is added to the
# machine's own network: the hosts reach each other, not the machine and not
# the outside.  Processes on different hosts can talk only over TCP; they
# share the file system (a shared file system, as on a cluster).
#
# Run as root:
#   netns_hosts.sh up N               make hosts 1..N (default 3)
#   netns_hosts.sh names              print the host names, one a line
#   netns_hosts.sh exec HOST CMD...   run CMD on HOST
#   netns_hosts.sh hide HOST PATH     processes started on HOST from now on see
#                                     an empty PATH (a directory that is not on
#                                     that host's file system)
#   netns_hosts.sh kill HOST          SIGKILL every process on HOST
#   netns_hosts.sh down               kill what runs on the hosts, remove them
#                                     (and Open MPI's /dev/shm/vader_segment.HOST.*
#                                     files that killed ranks leave behind)
# and, for Open MPI, the launcher that `up` writes:
#   mpirun --mca plm_rsh_agent "$(netns_hosts.sh agent-path)" --host h1,h2 ...
# where the agent takes `[options] HOST COMMAND-WORDS...` like ssh does (the
# words are joined and run by /bin/sh on HOST).  Run mpirun itself on a host
# (`netns_hosts.sh exec h1 mpirun ...`): the machine cannot reach the hosts.
#
# Environment knobs (the same values for up, exec, down):
#   NETNS_PREFIX=hpmn      namespaces are PREFIX-HOST and PREFIX-sw (the bridge);
#                          state in /run/hptune-netns/PREFIX
#   NETNS_SUBNET=10.213.47 the hosts' /24: host i is SUBNET.(10+i); private to
#                          the namespaces, so it cannot clash with the machine's
#                          network, but pick another if yours uses it
#   NETNS_HOSTBASE=mnh     host names BASE1..BASEN (no dots: Open MPI cuts host
#                          names at the first dot when it decides what is local)
#
# Every step is bounded (no waits); `down` is idempotent and safe after a
# failed `up`.  Callers put `down` in an EXIT trap.
set -uo pipefail

PREFIX=${NETNS_PREFIX:-hpmn}
SUBNET=${NETNS_SUBNET:-10.213.47}
HOSTBASE=${NETNS_HOSTBASE:-mnh}
STATE=/run/hptune-netns/$PREFIX
SELF=$(readlink -f "${BASH_SOURCE[0]}")

die() { echo "netns_hosts: $*" >&2; exit 1; }

[[ $PREFIX =~ ^[A-Za-z0-9_-]{1,20}$ ]] || die "NETNS_PREFIX must be 1-20 letters, digits, - or _"
[[ $HOSTBASE =~ ^[a-z][a-z0-9-]{0,12}$ ]] || die "NETNS_HOSTBASE must be a short dotless lower-case name"
[[ $SUBNET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "NETNS_SUBNET must look like 10.213.47"

hosts() { [[ -s $STATE/hosts ]] && cat "$STATE/hosts"; }
ns_of() { # HOST -> namespace name, if HOST is one of ours
    grep -qxF -- "$1" "$STATE/hosts" 2>/dev/null || die "'$1' is not a host of $PREFIX (see $STATE/hosts)"
    echo "$PREFIX-$1"
}

cmd_up() {
    local n=${1:-3}
    [[ $n =~ ^[1-9]$ ]] || die "up: 1-9 hosts, not '$n'"
    [[ $(id -u) == 0 ]] || die "needs root (ip netns)"
    command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || die "no usable 'ip netns' (iproute2)"
    command -v unshare >/dev/null || die "no unshare (util-linux)"
    [[ -e $STATE ]] && die "$STATE exists: run 'down' first (NETNS_PREFIX=$PREFIX)"
    mkdir -p "$STATE" || die "cannot create $STATE"
    : >"$STATE/hosts"
    local sw=$PREFIX-sw i h ns
    ip netns add "$sw" || die "ip netns add $sw failed"
    ip -n "$sw" link add br0 type bridge || die "cannot create a bridge in $sw"
    ip -n "$sw" link set br0 up
    {
        echo "127.0.0.1 localhost"
        for i in $(seq "$n"); do echo "$SUBNET.$((10 + i)) $HOSTBASE$i"; done
    } >"$STATE/etc-hosts"
    for i in $(seq "$n"); do
        h=$HOSTBASE$i ns=$PREFIX-$h
        ip netns add "$ns" || die "ip netns add $ns failed"
        echo "$h" >>"$STATE/hosts"
        # the veth's two ends are made inside the namespaces: never visible
        # in (or clashing with) the machine's own interface names
        ip link add eth0 netns "$ns" type veth peer name "p$i" netns "$sw" ||
            die "cannot create the veth pair for $h"
        ip -n "$sw" link set "p$i" master br0 up
        ip -n "$ns" addr add "$SUBNET.$((10 + i))/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        # `ip netns exec NS` bind-mounts /etc/netns/NS/hosts over /etc/hosts
        mkdir -p "/etc/netns/$ns" && cp "$STATE/etc-hosts" "/etc/netns/$ns/hosts" ||
            die "cannot write /etc/netns/$ns/hosts"
    done
    cat >"$STATE/agent" <<EOF
#!/bin/sh
# Open MPI's plm_rsh_agent for the $PREFIX hosts: [options] HOST COMMAND-WORDS...
while [ \$# -gt 0 ]; do case \$1 in -*) shift ;; *) break ;; esac; done
host=\$1; shift
NETNS_PREFIX='$PREFIX' NETNS_SUBNET='$SUBNET' NETNS_HOSTBASE='$HOSTBASE' exec '$SELF' exec "\$host" /bin/sh -c "\$*"
EOF
    chmod +x "$STATE/agent"
    echo "netns_hosts: $n host(s) up: $(hosts | tr '\n' ' ')(addresses $SUBNET.11-$((10 + n)), prefix $PREFIX)"
}

cmd_exec() {
    local host=${1:-}; shift || true
    [[ -n $host && $# -gt 0 ]] || die "usage: exec HOST CMD..."
    local ns; ns=$(ns_of "$host") || exit 1
    # A new UTS namespace for the host name, a private mount namespace for
    # the hidden paths; the network namespace is the host's.
    exec ip netns exec "$ns" unshare --uts --mount --propagation private -- \
        /bin/sh -c 'h=$1 hide=$2; shift 2
                    hostname "$h" || exit 1
                    if [ -s "$hide" ]; then
                        while IFS= read -r p; do
                            [ -d "$p" ] && mount -t tmpfs -o size=64k,mode=0755 hidden "$p"
                        done <"$hide"
                    fi
                    exec "$@"' netns-exec "$host" "$STATE/hide-$host" "$@"
}

cmd_hide() {
    local host=${1:-} path=${2:-}
    [[ -n $host && -n $path ]] || die "usage: hide HOST PATH"
    ns_of "$host" >/dev/null || exit 1
    [[ -d $path ]] || die "hide: $path is not a directory"
    readlink -f "$path" >>"$STATE/hide-$host"
}

cmd_kill() {
    local ns; ns=$(ns_of "${1:-}") || exit 1
    local pids; pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [[ -n ${pids// /} ]] && kill -KILL $pids 2>/dev/null
    return 0
}

cmd_down() {
    local h ns pids
    for h in $(hosts) sw; do
        ns=$PREFIX-$h
        ip netns list 2>/dev/null | grep -q "^$ns\b" || continue
        # every process still in the namespace was started through it (by
        # this script's exec): end them before the namespace goes
        pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
        [[ -n ${pids// /} ]] && kill -KILL $pids 2>/dev/null
        for _ in $(seq 50); do [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break; sleep 0.1; done
        ip netns del "$ns" 2>/dev/null || echo "netns_hosts: could not remove namespace $ns" >&2
        rm -rf "/etc/netns/$ns"
        # shared-memory files Open MPI names after the host, left by killed ranks
        [[ $h != sw ]] && rm -f /dev/shm/vader_segment."$h".*
    done
    # a failed `up` may have made namespaces before writing them down
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-\(${HOSTBASE}[0-9]\|sw\)$"); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns"
    done
    rmdir /etc/netns 2>/dev/null
    rm -rf "$STATE"
    return 0
}

case ${1:-} in
    up)         shift; cmd_up "$@" ;;
    down)       cmd_down ;;
    exec)       shift; cmd_exec "$@" ;;
    hide)       shift; cmd_hide "$@" ;;
    kill)       shift; cmd_kill "$@" ;;
    names)      hosts ;;
    agent-path) [[ -x $STATE/agent ]] || die "no hosts up (NETNS_PREFIX=$PREFIX)"; echo "$STATE/agent" ;;
    *)          echo "usage: $0 up [N] | names | exec HOST CMD... | hide HOST PATH | kill HOST | down | agent-path" >&2
                exit 2 ;;
esac
