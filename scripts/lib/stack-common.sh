# shellcheck shell=bash disable=SC2034
# Shared definitions of the local stack: paths, the port map, messages, pid files,
# bounded waits. Sourced by scripts/stack and scripts/stack-test.

STACK_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$STACK_LIB/../.." && pwd)"
STATE="${NFOPS_STACK_DIR:-$REPO/target/stack}"
# A stack remembers its port base (written by `up`), so `status`, `stop` and
# `start` reach the same ports without repeating NFOPS_STACK_PORT_BASE.
if [[ -n "${NFOPS_STACK_PORT_BASE:-}" ]]; then
  PORT_BASE="$NFOPS_STACK_PORT_BASE"
elif [[ -f "$STATE/port-base" ]]; then
  PORT_BASE="$(<"$STATE/port-base")"
else
  PORT_BASE=17000
fi
[[ "$PORT_BASE" =~ ^[0-9]+$ ]] && ((PORT_BASE >= 1024 && PORT_BASE <= 65000)) || {
  echo "stack: port base '$PORT_BASE' is not a number from 1024 to 65000 (NFOPS_STACK_PORT_BASE or $STATE/port-base)" >&2
  exit 2
}
ASSETS_STACK="$REPO/assets/stack"
ASSETS_PLATFORM="$REPO/assets/platform"
DEFAULT_SEED=1
DEPLOY_USER=deploy
DEPLOY_HOME=/var/lib/deploy
SAFE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ENVS=(production staging)
HOSTS=(prod-app-1 prod-app-2 stg-app-1)
declare -A HOST_ENV=([prod-app-1]=production [prod-app-2]=production [stg-app-1]=staging)
declare -A HOST_SLOT=([prod-app-1]=100 [prod-app-2]=110 [stg-app-1]=120)
declare -A WORKER_HOST=([production]=prod-app-1 [staging]=stg-app-1)
declare -A ENV_RELEASE=([production]=v1 [staging]=v2)
declare -A ENV_LABEL=([production]=Production [staging]=Staging)
declare -A ENV_REDIS_DB=([production]=0 [staging]=1)
declare -A ENV_SERVER_ID=([production]=1 [staging]=2 [production-replica]=3)
declare -A ENV_DB_HOST=([production]=prod-db-1 [staging]=stg-db-1)
RELEASES=(v1 v2 v3-broken)
BUCKETS=(nf-staging-assets nf-production-assets nf-backups nf-backups-offsite)

# Fixed offsets from the port base. A host block holds the cluster's shared HTTP
# port (+0), one metrics port per cluster instance (+1..+8) and the worker's (+9).
declare -A OFFSET=(
  [nginx-production]=0 [nginx-staging]=1
  [mariadb-production]=10 [mariadb-staging]=11 [mariadb-production-replica]=12
  [redis]=20 [s3]=30
  [prometheus]=40 [node-exporter]=41
  [mysqld-exporter-production]=42 [mysqld-exporter-staging]=43
  [sshd]=50
)
# Start order; `down` goes backwards.
SERVICES=(mariadb-production mariadb-staging mariadb-production-replica redis s3 node-exporter
  mysqld-exporter-production mysqld-exporter-staging sshd
  pm2-prod-app-1 pm2-prod-app-2 pm2-stg-app-1 nginx-production nginx-staging prometheus)

port_of() { # SERVICE -> its main port
  local svc="$1"
  if [[ "$svc" == pm2-* ]]; then echo $((PORT_BASE + HOST_SLOT[${svc#pm2-}])); else echo $((PORT_BASE + OFFSET[$svc])); fi
}
nginx_tls_port() { echo $(( $(port_of "nginx-$1") + 2 )); } # ENV -> its HTTPS port (+2, +3)
host_http_port() { echo $((PORT_BASE + HOST_SLOT[$1])); }
host_metrics_base() { echo $((PORT_BASE + HOST_SLOT[$1] + 1)); }
host_worker_port() { echo $((PORT_BASE + HOST_SLOT[$1] + 9)); }
env_hosts() { local h; for h in "${HOSTS[@]}"; do [[ "${HOST_ENV[$h]}" == "$1" ]] && echo "$h"; done; return 0; }
is_worker_host() { [[ "${WORKER_HOST[${HOST_ENV[$1]}]}" == "$1" ]]; }
ports_of() { # every port a service listens on (checked for conflicts before a start)
  local svc="$1"
  if [[ "$svc" == pm2-* ]]; then
    local h="${svc#pm2-}"
    echo "$(host_http_port "$h") $(host_metrics_base "$h") $(( $(host_metrics_base "$h") + 1 ))"
    is_worker_host "$h" && host_worker_port "$h"
    return 0
  fi
  [[ "$svc" == nginx-* ]] && nginx_tls_port "${svc#nginx-}"
  port_of "$svc"
}

# --- messages -----------------------------------------------------------------------
if [[ -t 1 ]]; then C_OK=$'\e[32m'; C_BAD=$'\e[31m'; C_DIM=$'\e[2m'; C_OFF=$'\e[0m'; else C_OK=; C_BAD=; C_DIM=; C_OFF=; fi
say() { printf 'stack: %s\n' "$*"; }
note() { printf '%sstack: %s%s\n' "$C_DIM" "$*" "$C_OFF"; }
warn() { printf '%sstack: warning: %s%s\n' "$C_BAD" "$*" "$C_OFF" >&2; }
die() { # die WHAT [HINT]
  printf '%sstack: error: %s%s\n' "$C_BAD" "$1" "$C_OFF" >&2
  [[ $# -gt 1 ]] && printf 'stack: hint: %s\n' "$2" >&2
  exit 1
}

# --- pid files: "PID STARTTIME", so a recycled pid is never taken for ours ----------
pidfile() { echo "$STATE/run/$1.pid"; }
proc_starttime() { local s; s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1; s="${s##*) }"; awk '{print $20}' <<<"$s"; }
pid_record() { # NAME PID
  local t; t="$(proc_starttime "$2")" || die "process $2 of $1 exited right after its start" "see $STATE/logs/$1.log"
  mkdir -p "$STATE/run"
  echo "$2 $t" >"$(pidfile "$1")"
}
pid_alive() { # NAME -> prints the pid when our recorded process still runs
  local f pid t now
  f="$(pidfile "$1")"
  [[ -s "$f" ]] || return 1
  read -r pid t <"$f" || return 1
  now="$(proc_starttime "$pid")" || return 1
  [[ "$now" == "$t" ]] || return 1
  echo "$pid"
}
spawn() { # NAME CMD... : starts CMD in its own session, logs to logs/NAME.log
  local name="$1"; shift
  mkdir -p "$STATE/logs"
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  pid_record "$name" "$!"
}
kill_recorded() { # NAME [TIMEOUT_S]: TERM, wait, then KILL; removes the pid file
  local name="$1" timeout="${2:-20}" pid i
  pid="$(pid_alive "$name")" || { rm -f "$(pidfile "$name")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_alive "$name" >/dev/null || break
    sleep 0.1
  done
  if pid_alive "$name" >/dev/null; then
    warn "$name (pid $pid) did not stop within ${timeout}s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$(pidfile "$name")"
}

# --- ports ----------------------------------------------------------------------------
port_listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
port_owner() { ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1 || true; }
check_ports_free() { # SERVICE: every port of a service we are about to start must be free
  local svc="$1" p
  for p in $(ports_of "$svc"); do
    if port_listening "$p"; then
      die "port $p (service $svc) is already in use by another process: $(port_owner "$p")" \
        "stop that process, or move the whole stack with NFOPS_STACK_PORT_BASE=<base> (now $PORT_BASE)"
    fi
  done
}

# --- bounded waits ------------------------------------------------------------------
wait_for() { # DESCRIPTION TIMEOUT_S CMD... : polls CMD every 0.1 s
  local what="$1" timeout="$2" start now; shift 2
  start=$(date +%s%N)
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    now=$(date +%s%N)
    if (((now - start) / 1000000 >= timeout * 1000)); then return 1; fi
    sleep 0.1
  done
}
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }

# --- secrets and credentials ------------------------------------------------------------
gen_secret() { head -c 24 /dev/urandom | base64 | tr -d '\n/+=' | head -c 28; }
secret_file() { echo "$STATE/secrets/$1"; }
cred_file() { echo "$STATE/credentials/$1"; }
write_private() { # PATH VALUE : mode 0600, no trailing newline, atomic
  local path="$1" tmp
  mkdir -p "$(dirname "$path")"
  tmp="$(mktemp "$path.XXXXXX")"
  chmod 0600 "$tmp"
  printf '%s' "$2" >"$tmp"
  mv -f "$tmp" "$path"
}
ensure_secret() { # PATH : prints the secret at PATH, generating it the first time
  local path="$1"
  [[ -s "$path" ]] || write_private "$path" "$(gen_secret)"
  cat "$path"
}
db_ops_password() { ensure_secret "$(cred_file "stack/$1/db")"; }
db_app_password() { ensure_secret "$(secret_file "$1-app-db")"; }
db_exporter_password() { ensure_secret "$(secret_file "$1-exporter-db")"; }
redis_password() { ensure_secret "$(cred_file stack/redis)"; }
# ENV's payment provider key: test mode on staging, live on production (a random stand-in).
payment_key() { local mode=test; [[ $1 == production ]] && mode=live; echo "sk_${mode}_$(ensure_secret "$(secret_file "$1-payment-key")")"; }
email_provider() { if [[ $1 == production ]]; then echo smtp; else echo sandbox; fi; }

# --- templates: @NAME@ placeholders replaced from the given NAME=VALUE pairs ---------
render() { # TEMPLATE OUT NAME=VALUE...
  local tpl="$1" out="$2" pair text; shift 2
  text="$(cat "$tpl")"
  for pair in "$@"; do text="${text//@${pair%%=*}@/${pair#*=}}"; done
  if grep -q '@[A-Z_]*@' <<<"$text"; then die "template $tpl left a placeholder unfilled: $(grep -o '@[A-Z_]*@' <<<"$text" | head -1)"; fi
  printf '%s\n' "$text" >"$out"
}

# --- MariaDB as root over the instance's private socket ------------------------------
mdb_dir() { echo "$STATE/mariadb-$1"; }
mdb_sock() { echo "$(mdb_dir "$1")/run/mysqld.sock"; }
mdb_root() { # ENV [mariadb args...] : root over the socket (unix_socket auth, OS root only)
  local env="$1"; shift
  mariadb --no-defaults --protocol=socket -S "$(mdb_sock "$env")" -u root --default-character-set=utf8mb4 "$@"
}
