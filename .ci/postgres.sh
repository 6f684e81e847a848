# Sourced by .ci/run: make a PostgreSQL server available to the store tests and export its URL.
# Installs Debian's postgresql when missing, starts a cluster on 127.0.0.1, creates a role and a database.
# Idempotent: safe to source again while the cluster runs.
E5_PG_PORT="${E5_PG_PORT:-5432}"
E5_PG_DB="${E5_PG_DB:-e5_test}"
E5_PG_USER="${E5_PG_USER:-e5}"
E5_PG_PASSWORD="${E5_PG_PASSWORD:-e5}"
_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
_as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "postgres.sh: installing Debian's postgresql" >&2
    _sudo apt-get update -qq
    _sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

_pg_version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -x "$_pg_version main" >/dev/null; then
    _sudo pg_createcluster "$_pg_version" main --port "$E5_PG_PORT" >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$_pg_version" '$1 == v && $2 == "main" {print $4}' | grep -x online >/dev/null; then
    _sudo pg_ctlcluster "$_pg_version" main start -o "-c listen_addresses=127.0.0.1 -c port=$E5_PG_PORT"
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$E5_PG_PORT" && break; sleep 1; done

_as_postgres "psql -q -p $E5_PG_PORT -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$E5_PG_USER'\" | grep 1 >/dev/null \
    || psql -q -p $E5_PG_PORT -c \"CREATE ROLE $E5_PG_USER LOGIN PASSWORD '$E5_PG_PASSWORD'\""
_as_postgres "psql -q -p $E5_PG_PORT -tAc \"SELECT 1 FROM pg_database WHERE datname='$E5_PG_DB'\" | grep 1 >/dev/null \
    || createdb -p $E5_PG_PORT -O $E5_PG_USER $E5_PG_DB"

export E5_TEST_POSTGRES_URL="postgresql+psycopg://$E5_PG_USER:$E5_PG_PASSWORD@127.0.0.1:$E5_PG_PORT/$E5_PG_DB"
echo "postgres.sh: E5_TEST_POSTGRES_URL=$E5_TEST_POSTGRES_URL" >&2
