#!/usr/bin/env bash
# CePing 测评票决 — one script, two commands (see README.md):
#   ./run.sh demo   install everything, seed a demo meeting on SQLite, serve it on the LAN
#   ./run.sh test   install everything, run the whole test suite on SQLite and PostgreSQL
# Works on a fresh Debian 12 / Ubuntu 22.04+ machine; uses sudo for apt-get when not root.
set -euo pipefail
cd "$(dirname "$0")"

PORT="${PORT:-8000}"
VENV=".venv"
BASE_PACKAGES=(python3 python3-venv python3-pip python3-dev fonts-wqy-microhei libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils libicu-dev pkg-config g++)
TEST_PACKAGES=(chromium)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "Installing system packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

python_env() {
  local requirements="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating the virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(basename "$requirements")"
  if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    say "Installing Python packages from $requirements"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}

cmd_demo() {
  apt_install "${BASE_PACKAGES[@]}"
  python_env requirements.txt
  export CEPING_DEMO=1 PORT
  local flask=("$VENV/bin/flask" --app wsgi)
  say "Migrating the database (SQLite in instance/)"
  "${flask[@]}" db upgrade >/dev/null
  local pwfile="instance/demo-admin-password"
  if [ ! -f "$pwfile" ]; then
    "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(9))' > "$pwfile"
    chmod 600 "$pwfile"
  fi
  "${flask[@]}" create-admin admin --password-stdin < "$pwfile" >/dev/null
  "${flask[@]}" demo --if-empty
  echo
  echo "组织者登录：用户名 admin  密码 $(cat "$pwfile")"
  echo "（手机须与本机连在同一 Wi-Fi；二维码地址可用 PUBLIC_BASE_URL=http://地址:端口 指定）"
  echo
  say "Serving on port $PORT (Ctrl-C to stop)"
  exec "$VENV/bin/gunicorn" -c gunicorn.conf.py -b "0.0.0.0:$PORT" wsgi:app
}

postgres_url() {
  echo "${CEPING_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
}

postgres_reachable() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as error:
    print(f"PostgreSQL unreachable: {error}", file=sys.stderr)
    sys.exit(1)
PY
}

cmd_test() {
  apt_install "${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  python_env requirements-dev.txt
  local status=0
  # -n auto: one pytest worker per core (pytest-xdist); each worker has its own databases.
  say "Test suite on SQLite"
  CEPING_TEST_DATABASE_URL= "$VENV/bin/python" -m pytest -n auto "$@" || status=$?
  local url
  url="$(postgres_url)"
  if postgres_reachable "$url"; then
    say "Test suite on PostgreSQL ($url)"
    CEPING_TEST_DATABASE_URL="$url" "$VENV/bin/python" -m pytest -n auto "$@" || status=$?
  elif [ "${CI:-}" = "true" ]; then
    echo "CI=true and PostgreSQL is unreachable at $url: failing." >&2
    status=1
  else
    echo "PostgreSQL is unreachable at $url: the PostgreSQL run is SKIPPED on this machine." >&2
    echo "Start one (see docs/deploy.md) or set CEPING_TEST_DATABASE_URL, then run ./run.sh test again." >&2
  fi
  return $status
}

case "${1:-}" in
  demo) shift; cmd_demo "$@" ;;
  test) shift; cmd_test "$@" ;;
  *) echo "usage: ./run.sh demo | ./run.sh test [pytest args]" >&2; exit 2 ;;
esac
