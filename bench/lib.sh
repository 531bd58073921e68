# Shared by the bench/* scripts (sourced, not run).

# bench_ensure_packages PKG...: installs the Debian packages that are missing,
# and only those (the reference tools a benchmark compares against), the way
# scripts/ensure-deps installs the rest; a second run does nothing.
bench_ensure_packages() {
  local missing=() p sudo=
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "bench: installing ${missing[*]} (the reference tools)" >&2
  [[ $EUID -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# bench_median FILE: the median of the numbers in FILE, one per line.
bench_median() {
  sort -g "$1" | awk '{v[NR]=$1} END{ if (NR==0) exit 1; if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2 }'
}

# bench_spread FILE: "min–max" of the numbers in FILE, so noise shows.
bench_spread() {
  sort -g "$1" | awk 'NR==1{lo=$1} {hi=$1} END{printf "%s–%s", lo, hi}'
}

# bench_order ROUND NAME...: the names rotated by ROUND, so every contender
# goes first in some round and none always runs on a warmer server.
bench_order() {
  local round=$1; shift
  local n=$# i
  for ((i = 0; i < n; i++)); do
    local k=$(((i + round) % n + 1))
    printf '%s\n' "${!k}"
  done
}
