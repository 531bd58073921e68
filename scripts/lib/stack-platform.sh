# shellcheck shell=bash
# The platform side of the stack: installs, the deploy user and keys, releases and
# host folders, schema and seed data, and the console's config + credentials.

# --- installs (each only when missing) -----------------------------------------------------
APT_UPDATED=0
apt_install() { # PACKAGE...
  # No system daemon may start from a package install; the guard goes away after.
  local guard=0
  [[ -e /usr/sbin/policy-rc.d ]] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; guard=1; }
  if ((APT_UPDATED == 0)); then
    note "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed" "check the Debian package mirror"
    APT_UPDATED=1
  fi
  note "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || {
    ((guard)) && rm -f /usr/sbin/policy-rc.d
    die "apt-get install $* failed" "run it by hand to see why"
  }
  ((guard)) && rm -f /usr/sbin/policy-rc.d
  return 0
}
ensure_deps() {
  [[ $EUID -eq 0 ]] || die "scripts/stack must run as root (it starts sshd and runs PM2 as the deploy user)" "run it with sudo"
  local -A need=(
    [mariadbd]=mariadb-server [mariadb]=mariadb-client [mariadb-install-db]=mariadb-server
    [redis-server]=redis-server [redis-cli]=redis-tools
    [prometheus]=prometheus [prometheus-node-exporter]=prometheus-node-exporter
    [prometheus-mysqld-exporter]=prometheus-mysqld-exporter
    [/usr/sbin/sshd]=openssh-server [ssh]=openssh-client [ssh-keygen]=openssh-client
    [nginx]=nginx [tinyproxy]=tinyproxy [curl]=curl [jq]=jq [python3]=python3 [node]=nodejs [npm]=npm
    [ss]=iproute2 [setsid]=util-linux [runuser]=util-linux [sha256sum]=coreutils [timeout]=coreutils
  )
  local cmd missing=()
  for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}"); done
  # shellcheck disable=SC2046 # package names never contain spaces
  if ((${#missing[@]})); then apt_install $(printf '%s\n' "${missing[@]}" | sort -u); fi
  if ! command -v pm2 >/dev/null 2>&1; then
    note "npm install -g pm2@7"
    npm install -g --no-audit --no-fund pm2@7 >/dev/null || die "npm install -g pm2@7 failed" "check access to the npm registry"
  fi
  ensure_python
  ensure_node_modules
}
ensure_python() { # PY = an interpreter with moto[server] and boto3
  local venv="${NFOPS_STACK_TOOLS:-$REPO/target/stack-tools}/venv" probe='import importlib.util as u, sys; sys.exit(0 if u.find_spec("moto") and u.find_spec("boto3") and u.find_spec("flask") else 1)'
  PY="$(python3 -c 'import sys; print(sys.executable)')"
  "$PY" -c "$probe" 2>/dev/null && return 0
  if [[ -x "$venv/bin/python3" ]] && "$venv/bin/python3" -c "$probe" 2>/dev/null; then PY="$venv/bin/python3"; return 0; fi
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv python3-pip
  note "pip install moto[server] boto3 into $venv"
  python3 -m venv "$venv" || die "could not create a Python venv at $venv"
  "$venv/bin/pip" install -q 'moto[server]==5.2.1' boto3 || die "pip install moto[server] boto3 failed" "check access to PyPI"
  PY="$venv/bin/python3"
}
lock_sum() { sha256sum "$ASSETS_PLATFORM/package-lock.json" | cut -d' ' -f1; }
ensure_node_modules() { # npm ci only when node_modules does not match package-lock.json
  local marker="$ASSETS_PLATFORM/node_modules/.nfops-lock.sha256"
  [[ -f "$marker" && "$(cat "$marker")" == "$(lock_sum)" ]] && return 0
  note "npm ci in assets/platform"
  (cd "$ASSETS_PLATFORM" && npm ci --no-audit --no-fund --omit=dev >/dev/null) || die "npm ci failed in $ASSETS_PLATFORM" "check access to the npm registry"
  lock_sum >"$marker"
}

# --- state folder, deploy user, keys ---------------------------------------------------------
ensure_layout() {
  mkdir -p "$STATE"
  chmod 0755 "$STATE"
  [[ -f "$STATE/.nfops-stack" ]] || echo "state folder of scripts/stack; safe to delete with scripts/stack down --purge" >"$STATE/.nfops-stack"
  mkdir -p "$STATE/run" "$STATE/logs" "$STATE/credentials" "$STATE/secrets" "$STATE/hosts" "$STATE/ssh/authorized_keys" "$STATE/build"
  chmod 0755 "$STATE/run" "$STATE/hosts" "$STATE/ssh" "$STATE/ssh/authorized_keys" "$STATE/build"
  chmod 0700 "$STATE/logs" "$STATE/credentials" "$STATE/secrets"
}
ensure_deploy_user() {
  if ! id -u "$DEPLOY_USER" >/dev/null 2>&1; then
    note "creating system user $DEPLOY_USER (home $DEPLOY_HOME)"
    useradd --system --user-group --home-dir "$DEPLOY_HOME" --create-home --shell /bin/bash "$DEPLOY_USER" ||
      die "useradd $DEPLOY_USER failed"
  fi
  # A locked account ('!' in shadow) is refused by sshd even for keys.
  if [[ "$(getent shadow "$DEPLOY_USER" | cut -d: -f2)" == '!'* ]]; then usermod -p '*' "$DEPLOY_USER"; fi
  # deploy must traverse every folder down to the hosts (nothing more).
  local d="$STATE"
  while [[ "$d" != / ]]; do
    if ! runuser -u "$DEPLOY_USER" -- test -x "$d" 2>/dev/null; then
      note "chmod o+x $d (the deploy user must reach $STATE/hosts)"
      chmod o+x "$d"
    fi
    d="$(dirname "$d")"
  done
}
ensure_ssh_keys() {
  local dir="$STATE/ssh" key pub
  [[ -f "$dir/ssh_host_ed25519_key" ]] || ssh-keygen -q -t ed25519 -N '' -C nfops-stack-host -f "$dir/ssh_host_ed25519_key"
  [[ -f "$dir/deploy_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C deploy@nfops-stack -f "$dir/deploy_ed25519"
  chmod 0600 "$dir/ssh_host_ed25519_key" "$dir/deploy_ed25519"
  pub="$(cat "$dir/deploy_ed25519.pub")"
  printf 'from="127.0.0.1" %s\n' "$pub" >"$dir/authorized_keys/$DEPLOY_USER"
  chmod 0644 "$dir/authorized_keys/$DEPLOY_USER"
  key="$(cat "$dir/deploy_ed25519")"
  [[ -f "$(cred_file stack/ssh/deploy)" && "$(cat "$(cred_file stack/ssh/deploy)")" == "$key" ]] ||
    write_private "$(cred_file stack/ssh/deploy)" "$key"
  printf '[127.0.0.1]:%s %s\n' "$(port_of sshd)" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"
}
# A local certificate authority and one server certificate it signs, for the TLS the stack serves
# (MariaDB, HTTPS) and the clients that must trust it: $STATE/ca/ca.pem (the CA, the only file a
# client needs), server.pem + server.key (for 127.0.0.1 and localhost). Made once; kept across
# `up`; a leaf older than its CA (CA re-made by hand) is re-issued.
ensure_ca() {
  local dir="$STATE/ca"
  mkdir -p "$dir"; chmod 0700 "$dir"
  if [[ ! -f "$dir/ca.pem" || ! -f "$dir/ca.key" ]]; then
    rm -f "$dir/ca.pem" "$dir/ca.key" "$dir/server.pem" "$dir/server.key"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=NewFinity Ops stack CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null || die "stack CA: openssl could not create the CA" "is openssl installed?"
  fi
  if [[ ! -f "$dir/server.pem" || ! -f "$dir/server.key" || "$dir/ca.pem" -nt "$dir/server.pem" ]]; then
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null || die "stack CA: could not create the server key"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 825 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null || die "stack CA: could not sign the server certificate"
    rm -f "$dir/server.csr" "$dir/server.ext"
  fi
  chmod 0600 "$dir/ca.key" "$dir/server.key"; chmod 0644 "$dir/ca.pem" "$dir/server.pem"
  openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null 2>&1 || die "stack CA: server.pem does not verify against ca.pem" "delete $dir and run scripts/stack up again"
}
host_key_fingerprint() { ssh-keygen -lf "$STATE/ssh/ssh_host_ed25519_key.pub" | awk '{print $2}'; }

# --- releases and hosts ----------------------------------------------------------------------
release_checksum() { # DIR: the CHECKSUM listing (verify with: cd DIR && sha256sum -c CHECKSUM)
  (cd "$1" && find . -type f ! -name CHECKSUM -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
build_releases() { # $STATE/build/releases/<id>: the app source + its migrations + RELEASE + CHECKSUM
  local id dir m src="$ASSETS_PLATFORM"
  for id in "${RELEASES[@]}"; do
    dir="$STATE/build/releases/$id"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/migrations"
    cp -r "$src/src/." "$dir.tmp/"
    cp "$src/package.json" "$src/package-lock.json" "$dir.tmp/"
    cp "$src/releases/$id/release.json" "$dir.tmp/"
    for m in $(jq -r '.migrations[]' "$src/releases/$id/release.json"); do
      cp "$src/migrations/$m.sql" "$dir.tmp/migrations/" || die "release $id names migration $m, which assets/platform/migrations lacks"
    done
    printf '%s\n' "$id" >"$dir.tmp/RELEASE"
    release_checksum "$dir.tmp" >"$dir.tmp/CHECKSUM"
    if [[ -f "$dir/CHECKSUM" ]] && cmp -s "$dir/CHECKSUM" "$dir.tmp/CHECKSUM"; then rm -rf "$dir.tmp"; else rm -rf "$dir"; mv "$dir.tmp" "$dir"; fi
  done
  chmod -R a+rX "$STATE/build"
}
write_app_env() { # HOST: shared/host.env (host facts) and shared/.env (the env's, same on each host), 0600, owned by deploy
  local h="$1" env="${HOST_ENV[$1]}" app="$STATE/hosts/$1/app" tmp
  tmp="$(mktemp "$app/shared/host.env.XXXXXX")"
  render "$ASSETS_STACK/app-host.env" "$tmp" HOST="$h" ENV="$env" HTTP_PORT="$(host_http_port "$h")" \
    METRICS_BASE="$(host_metrics_base "$h")" WORKER_PORT="$(host_worker_port "$h")"
  chmod 0600 "$tmp"; chown "$DEPLOY_USER:$DEPLOY_USER" "$tmp"
  if [[ -f "$app/shared/host.env" ]] && cmp -s "$tmp" "$app/shared/host.env"; then rm -f "$tmp"; else mv -f "$tmp" "$app/shared/host.env"; fi
  tmp="$(mktemp "$app/shared/.env.XXXXXX")"
  render "$ASSETS_STACK/app.env" "$tmp" ENV="$env" \
    DB_PORT="$(port_of "mariadb-$env")" DB_PASSWORD="$(db_app_password "$env")" \
    REDIS_PORT="$(port_of redis)" REDIS_DB="${ENV_REDIS_DB[$env]}" REDIS_PASSWORD="$(redis_password)" \
    S3_PORT="$(port_of s3)" S3_ACCESS_KEY="$(cat "$(cred_file stack/s3/access-key)")" \
    S3_SECRET_KEY="$(cat "$(cred_file stack/s3/secret-key)")" \
    PAYMENT_KEY="$(payment_key "$env")" EMAIL_PROVIDER="$(email_provider "$env")"
  chmod 0600 "$tmp"; chown "$DEPLOY_USER:$DEPLOY_USER" "$tmp"
  if [[ -f "$app/shared/.env" ]] && cmp -s "$tmp" "$app/shared/.env"; then rm -f "$tmp"; else mv -f "$tmp" "$app/shared/.env"; ENV_FILE_CHANGED[$env]=1; fi
}
write_app_envs() { local h; for h in "${HOSTS[@]}"; do [[ -d "$STATE/hosts/$h/app/shared" ]] && write_app_env "$h"; done; write_secrets_stores; }
# The console's secrets store ($STATE/secrets-store, not $STATE/secrets): per env, the env's
# .env encrypted with age to <env>.recipients, whose one recipient is the stack's operator
# identity (credential nfops/age-identity). Re-encrypted whenever the stack rewrote that .env,
# so a first `nfops secrets push` is a no-op.
declare -A ENV_FILE_CHANGED=()
age_identity_file() { cred_file nfops/age-identity; }
ensure_age_identity() {
  local f; f="$(age_identity_file)"
  [[ -s "$f" ]] || write_private "$f" "$(age-keygen 2>/dev/null | grep '^AGE-SECRET-KEY-')"
}
# The stack operator's backup signing key (credential nfops/backup-signing-key, an ed25519
# seed as NFOPS-ED25519-SECRET-KEY-<hex>); its public half is a trusted signer of every env.
signing_key_file() { cred_file nfops/backup-signing-key; }
ensure_signing_key() {
  local f; f="$(signing_key_file)"
  [[ -s "$f" ]] || write_private "$f" "NFOPS-ED25519-SECRET-KEY-$(openssl genpkey -algorithm ed25519 -outform DER 2>/dev/null | tail -c 32 | xxd -p -c 64)"
}
signing_public_key() { # ed25519:<hex> of the stack operator's signing key
  local seed; seed="$(sed 's/^NFOPS-ED25519-SECRET-KEY-//' "$(signing_key_file)")"
  # PKCS#8 DER of an ed25519 private key = this fixed 16-byte prefix + the 32-byte seed.
  printf 'ed25519:%s' "$( (printf '302e020100300506032b657004220420' ; printf '%s' "$seed") | xxd -r -p |
    openssl pkey -inform DER -pubout -outform DER 2>/dev/null | tail -c 32 | xxd -p -c 64)"
}
write_secrets_stores() {
  local store="$STATE/secrets-store" env first rec tmp
  ensure_age_identity
  mkdir -p "$store"; chmod 0700 "$store"
  for env in "${ENVS[@]}"; do
    first="$(env_hosts "$env" | head -1)"
    [[ -f "$STATE/hosts/$first/app/shared/.env" ]] || continue
    rec="$store/$env.recipients"
    if [[ ! -s "$rec" ]]; then
      printf '# Recipients of %s.env.age: who can decrypt it.\n\n# nfops local stack operator\n%s\n' "$env" \
        "$(age-keygen -y "$(age_identity_file)")" >"$rec"
    fi
    if [[ ! -f "$store/$env.env.age" || -n "${ENV_FILE_CHANGED[$env]:-}" ]]; then
      tmp="$(mktemp "$store/.$env.env.age.XXXXXX")"
      age -R "$rec" -o "$tmp" "$STATE/hosts/$first/app/shared/.env" || die "encrypting the $env secrets store failed"
      mv -f "$tmp" "$store/$env.env.age"
    fi
  done
}
prepare_host() { # HOST: folders, releases, node_modules, current symlink, .env, ecosystem
  local h="$1" env="${HOST_ENV[$1]}" base="$STATE/hosts/$1" app="$STATE/hosts/$1/app" id worker=""
  mkdir -p "$app/releases" "$app/shared" "$base/pm2"
  chmod 0755 "$base" "$app" "$app/releases" "$base/pm2"; chmod 0700 "$app/shared"
  for id in "${RELEASES[@]}"; do
    if ! cmp -s "$STATE/build/releases/$id/CHECKSUM" "$app/releases/$id/CHECKSUM" 2>/dev/null; then
      rm -rf "$app/releases/$id.tmp"
      cp -r "$STATE/build/releases/$id" "$app/releases/$id.tmp"
      rm -rf "$app/releases/$id"; mv "$app/releases/$id.tmp" "$app/releases/$id"
      chown -R "$DEPLOY_USER:$DEPLOY_USER" "$app/releases/$id"
    fi
  done
  if ! cmp -s "$ASSETS_PLATFORM/node_modules/.nfops-lock.sha256" "$app/node_modules/.nfops-lock.sha256" 2>/dev/null; then
    rm -rf "$app/node_modules"; cp -r "$ASSETS_PLATFORM/node_modules" "$app/node_modules"
    chown -R "$DEPLOY_USER:$DEPLOY_USER" "$app/node_modules"
  fi
  # The first `up` picks the env's release; later the console owns the symlink.
  [[ -L "$app/current" ]] || ln -sfn "releases/${ENV_RELEASE[$env]}" "$app/current"
  write_app_env "$h"
  is_worker_host "$h" && worker="$(sed "s#@APP_DIR@#$app#g" "$ASSETS_STACK/ecosystem-worker.js")"
  render "$ASSETS_STACK/ecosystem.config.js" "$base/ecosystem.config.js" HOST="$h" ENV="$env" APP_DIR="$app" WORKER="$worker"
  chown -h "$DEPLOY_USER:$DEPLOY_USER" "$base" "$app" "$app/releases" "$app/shared" "$app/current" "$base/pm2" "$base/ecosystem.config.js"
}

# --- schema and seed data -------------------------------------------------------------------
env_release_dir() { readlink -f "$STATE/hosts/$(env_hosts "$1" | head -1)/app/current"; }
migrate_env() { # ENV: applies the current release's migrations, as the app does at start
  local env="$1" dir f v applied script
  dir="$(env_release_dir "$env")/migrations"
  [[ -d "$dir" ]] || die "no migrations folder at $dir" "run scripts/stack up first"
  mdb_root "$env" newfinity -e 'CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(64) PRIMARY KEY, applied_at DATETIME NOT NULL)'
  applied="$(mdb_root "$env" newfinity -N -e 'SELECT version FROM schema_migrations')"
  script="SELECT GET_LOCK('nf_migrate', 30) INTO @got;"$'\n'
  for f in "$dir"/*.sql; do
    v="$(basename "$f" .sql)"
    grep -qx "$v" <<<"$applied" && continue
    script+="$(cat "$f")"$'\n'"INSERT IGNORE INTO schema_migrations VALUES ('$v', UTC_TIMESTAMP());"$'\n'
  done
  script+="SELECT RELEASE_LOCK('nf_migrate') INTO @got;"
  mdb_root "$env" newfinity <<<"$script" || die "applying the migrations of $dir to $env failed"
}
env_is_empty() { [[ "$(mdb_root "$1" newfinity -N -e 'SELECT COUNT(*) FROM users' 2>/dev/null || echo 0)" == 0 ]]; }
grow_to_1g() { # ENV: server-side doubling up to ~1 GiB of table data (binlog off for the session)
  local env="$1" target=$((1024 * 1024 * 1024)) size rows need
  tsize() { mdb_root "$env" newfinity -N -e "ANALYZE TABLE audit_events, orders" >/dev/null
    mdb_root "$env" -N -e "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = 'newfinity'"; }
  size="$(tsize)"
  while ((size < target)); do
    rows="$(mdb_root "$env" newfinity -N -e 'SELECT COUNT(*) FROM audit_events')"
    need=$(( rows * (target - size) / size + 1 ))
    ((need > rows)) && need=$rows
    note "seed $env: $((size / 1048576)) MiB, adding $need audit_events rows"
    mdb_root "$env" newfinity -e "SET SESSION sql_log_bin = 0;
      INSERT INTO audit_events (occurred_at, actor_id, action, payload, raw)
        SELECT occurred_at + INTERVAL 1 DAY, actor_id, action, payload, raw FROM audit_events LIMIT $need;
      INSERT INTO orders (user_id, status, quantity, unit_price_cents, currency, items, placed_at, shipped_at)
        SELECT user_id, status, quantity, unit_price_cents, currency, items, placed_at + INTERVAL 1 DAY, shipped_at
        FROM orders WHERE (SELECT COUNT(*) FROM orders) < 1600000 ORDER BY id LIMIT $need;" ||
      die "growing the $env data towards 1 GiB failed"
    size="$(tsize)"
  done
  note "seed $env: $((size / 1048576)) MiB of table data"
}
seed_env() { # ENV SIZE SEED
  local env="$1" size="$2" seed="$3"
  migrate_env "$env"
  "$PY" "$STACK_LIB/stack_seed.py" sql --env "$env" --seed "$seed" --size "$size" | mdb_root "$env" newfinity ||
    die "loading the seed data into $env failed"
  [[ "$size" == 1g ]] && grow_to_1g "$env"
  "$PY" "$STACK_LIB/stack_seed.py" s3 --env "$env" --seed "$seed" --endpoint "$(s3_endpoint)" --creds "$STATE/credentials" >/dev/null ||
    die "putting the seed objects of $env into S3 failed"
}

# --- the console's config and credentials ---------------------------------------------------
toml_str() { local s="${1//\\/\\\\}"; printf '"%s"' "${s//\"/\\\"}"; }
write_config() {
  local out="$STATE/environments.toml" tmp env h first roles fp signer
  fp="$(host_key_fingerprint)"
  ensure_signing_key
  signer="$(signing_public_key)"
  [[ "$signer" =~ ^ed25519:[0-9a-f]{64}$ ]] || die "could not derive the stack's backup signing public key (openssl, xxd)"
  tmp="$(mktemp "$out.XXXXXX")"
  {
    echo "# Written by scripts/stack up for the local stack in $STATE. No secrets here:"
    echo "# credentials are referenced by name (files under $STATE/credentials)."
    echo "version = 1"
    echo
    echo "[secrets]"
    echo 'dir = "secrets-store"             # <env>.env.age + <env>.recipients, next to this file'
    echo
    echo "# How each outside provider's mode shows in an environment's .env (mock first, then test, live)."
    echo "[providers.payments]"
    echo 'label = "Payments"'
    echo 'mock = ["PAYMENT_PROVIDER=mock"]'
    echo 'test = ["PAYMENT_SECRET_KEY=sk_test_*"]'
    echo 'live = ["PAYMENT_SECRET_KEY=sk_live_*"]'
    echo
    echo "[providers.email]"
    echo 'label = "Email"'
    echo 'mock = ["EMAIL_PROVIDER=mock", "EMAIL_PROVIDER=console"]'
    echo 'test = ["EMAIL_PROVIDER=sandbox"]'
    echo 'live = ["EMAIL_PROVIDER=smtp", "EMAIL_PROVIDER=ses"]'
    for env in "${ENVS[@]}"; do
      first="$(env_hosts "$env" | head -1)"
      echo
      echo "[environments.$env]"
      echo "tier = \"$env\""
      echo "label = \"${ENV_LABEL[$env]}\""
      echo "health_url = \"http://127.0.0.1:$(port_of "nginx-$env")/health\""
      for h in $(env_hosts "$env"); do
        roles='["backend"]'; is_worker_host "$h" && roles='["backend", "worker"]'
        echo
        echo "[[environments.$env.hosts]]"
        echo "name = \"$h\""
        echo 'address = "127.0.0.1"'
        echo "port = $(port_of sshd)"
        echo "user = \"$DEPLOY_USER\""
        echo 'ssh_key_credential = "stack/ssh/deploy"'
        echo "host_key = \"$fp\""
        echo "app_dir = $(toml_str "$STATE/hosts/$h/app")"
        echo "pm2_home = $(toml_str "$STATE/hosts/$h/pm2")"
        echo "roles = $roles"
      done
      echo
      echo "[environments.$env.database]"
      echo 'host = "127.0.0.1"'
      echo "port = $(port_of "mariadb-$env")"
      echo 'name = "newfinity"'
      echo 'user = "nf_ops"'
      echo "password_credential = \"stack/$env/db\""
      [[ "$env" == production ]] && echo "via = \"$first\""
      if [[ "$env" == production ]]; then
        echo
        echo "[[environments.$env.database.replicas]]"
        echo "name = \"$REPLICA_HOST\""
        echo 'host = "127.0.0.1"'
        echo "port = $(port_of "mariadb-$REPLICA")"
        echo "via = \"$first\""
        echo 'max_lag_seconds = 30'
      fi
      echo
      echo "[environments.$env.storage]"
      echo "endpoint = \"$(s3_endpoint)\""
      echo 'region = "us-east-1"'
      echo 'path_style = true'
      echo "buckets = [\"nf-$env-assets\"]"
      echo 'access_key_credential = "stack/s3/access-key"'
      echo 'secret_key_credential = "stack/s3/secret-key"'
      echo
      echo "[environments.$env.cache]"
      echo 'host = "127.0.0.1"'
      echo "port = $(port_of redis)"
      echo "db = ${ENV_REDIS_DB[$env]}"
      echo "key_prefix = \"nf:$env:\""
      echo 'password_credential = "stack/redis"'
      [[ "$env" == production ]] && echo "via = \"$first\""
      echo
      echo "[environments.$env.monitoring]"
      echo "prometheus_url = \"http://127.0.0.1:$(port_of prometheus)\""
      echo "selector = \"env=\\\"$env\\\"\""
      echo
      echo "[environments.$env.backup]"
      echo 'keep_daily = 7'
      echo 'keep_weekly = 4'
      echo 'keep_monthly = 6'
      echo 'min_age_days = 30'
      echo 'max_age_days = 180'
      echo
      echo "[environments.$env.backup.signers]"
      echo "stack-operator = \"$signer\""
    done
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$out"
  # Every credential file: 0600, root-only folders.
  find "$STATE/credentials" -type d -exec chmod 0700 {} +
  find "$STATE/credentials" -type f -exec chmod 0600 {} +
}
