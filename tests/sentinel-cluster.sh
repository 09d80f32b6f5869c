# Shared by tests/sentinel.sh and tests/gateway.sh (sourced, not a suite): one Redis
# primary, one replica and three sentinels on free loopback ports, without persistence.
# The caller defines log, WORK and the PIDS array (killed by its trap).
#
#   sentinel_cluster SERVICE   → P1 (primary port), P2 (replica port), R1, R2 (their pids),
#                                SPORTS (sentinel ports), SENTINEL_URL; returns 1 if the
#                                sentinels do not converge
#   master_port SERVICE        → the port the first sentinel names as primary
#   settled_topology SERVICE   → waits (≤ 20 s) until the sentinels name a primary that says
#                                it is one and the other server is its replica with the link
#                                up, the same for 1 s; sets PRIMARY, REPLICA; returns 1 if not
#   kill_primary SERVICE       → SIGKILLs the primary, waits for the sentinels to promote
#                                the replica, starts the old primary again as a replica of
#                                the new one; sets T_KILL_MS, FAILOVER_MS; returns 1 when
#                                no failover happens within 30 s

cl_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cl_wait_port() { # port pid
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
cl_start_redis() { # port [replicaof-port]
    local extra=()
    [ -n "${2:-}" ] && extra=(--replicaof 127.0.0.1 "$2")
    redis-server --bind 127.0.0.1 --port "$1" --save '' --appendonly no --repl-diskless-sync-delay 0 \
        --dir "$WORK" --logfile "$WORK/redis-$1.log" "${extra[@]}" >/dev/null 2>&1 &
    echo $!
}

sentinel_cluster() {
    local service="$1" i sp info
    P1=$(cl_free_port); P2=$(cl_free_port)
    R1=$(cl_start_redis "$P1"); PIDS+=("$R1")
    R2=$(cl_start_redis "$P2" "$P1"); PIDS+=("$R2")
    cl_wait_port "$P1" "$R1" && cl_wait_port "$P2" "$R2" || return 1
    SPORTS=()
    for i in 1 2 3; do
        sp=$(cl_free_port); SPORTS+=("$sp")
        cat >"$WORK/sentinel-$i.conf" <<CONF
bind 127.0.0.1
port $sp
daemonize no
dir $WORK
logfile $WORK/sentinel-$i.log
sentinel monitor $service 127.0.0.1 $P1 2
sentinel down-after-milliseconds $service 2000
sentinel failover-timeout $service 10000
sentinel parallel-syncs $service 1
CONF
        redis-sentinel "$WORK/sentinel-$i.conf" >/dev/null 2>&1 &
        PIDS+=($!)
        cl_wait_port "$sp" "$!" || return 1
    done
    SENTINEL_URL="redis+sentinel://127.0.0.1:${SPORTS[0]},127.0.0.1:${SPORTS[1]},127.0.0.1:${SPORTS[2]}/$service"
    for _ in $(seq 1 150); do
        info=$(redis-cli -p "${SPORTS[0]}" sentinel master "$service" 2>/dev/null | tr '\n' ' ')
        if [[ "$info" == *"num-slaves 1 "* && "$info" == *"num-other-sentinels 2 "* ]]; then
            return 0
        fi
        sleep 0.2
    done
    log "sentinels did not converge: $info"
    return 1
}

master_port() { redis-cli -p "${SPORTS[0]}" sentinel get-master-addr-by-name "$1" 2>/dev/null | sed -n 2p; }

kill_primary() {
    local service="$1" m="" new=""
    kill -9 "$R1"
    T_KILL_MS=$(date +%s%3N)
    for _ in $(seq 1 300); do
        m=$(master_port "$service")
        [ -n "$m" ] && [ "$m" != "$P1" ] && { new=$m; break; }
        sleep 0.1
    done
    FAILOVER_MS=$(( $(date +%s%3N) - T_KILL_MS ))
    [ "$new" = "$P2" ] || return 1
    R1=$(cl_start_redis "$P1" "$P2"); PIDS+=("$R1")
    cl_wait_port "$P1" "$R1"
}

# A loaded machine can make a sentinel miss the new primary's pings for a moment and fail
# back (seen in CI: a second switch-master 2 s after the first). The harness checks the
# topology the sentinels settle on rather than assuming the first one.
settled_topology() {
    local service="$1" m other stable=0
    PRIMARY=""; REPLICA=""
    for _ in $(seq 1 100); do
        m=$(master_port "$service")
        if [ "$m" = "$P1" ]; then other=$P2; elif [ "$m" = "$P2" ]; then other=$P1; else other=""; fi
        if [ -n "$other" ] \
            && redis-cli -p "$m" role 2>/dev/null | head -1 | grep -qx master \
            && redis-cli -p "$other" info replication 2>/dev/null | tr -d '\r' | grep -qx "master_port:$m" \
            && redis-cli -p "$other" info replication 2>/dev/null | tr -d '\r' | grep -qx "master_link_status:up"; then
            if [ "$m" = "$PRIMARY" ]; then
                stable=$((stable + 1))
                [ "$stable" -ge 5 ] && return 0
            else
                PRIMARY=$m; REPLICA=$other; stable=1
            fi
        else
            PRIMARY=""; REPLICA=""; stable=0
        fi
        sleep 0.2
    done
    return 1
}
