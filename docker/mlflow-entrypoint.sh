#!/bin/sh
# Entrypoint of the compose `mlflow` service: MLflow's tracking server behind its basic-auth app.
#
# It refuses to start without credentials (no default password ships), writes the auth app's ini from
# the environment into a private file, and refuses a command that would serve MLflow without auth.
#   MLFLOW_ADMIN_USERNAME, MLFLOW_ADMIN_PASSWORD  the admin created on first start (password >= 12 chars)
#   MLFLOW_AUTH_DATABASE_URI                      where the auth app keeps users and permissions
#   MLFLOW_FLASK_SERVER_SECRET_KEY                CSRF secret of the auth app (same on every replica)
#   MLFLOW_AUTH_DEFAULT_PERMISSION                what a signed-in user may do by default (READ)
#   MLFLOW_AUTH_CACHE_TTL_SECONDS                 how long a checked password is trusted (60; 0: never)
#   MLFLOW_AUTH_CONFIG_DIR                        where the ini is written (default /tmp/mlflow-auth)
set -eu

die() {
    echo "mlflow-entrypoint: $*; refusing to start (copy .env.example to .env and fill it in)" >&2
    exit 64
}

for name in MLFLOW_ADMIN_USERNAME MLFLOW_ADMIN_PASSWORD MLFLOW_AUTH_DATABASE_URI MLFLOW_FLASK_SERVER_SECRET_KEY; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || die "$name is not set"
done
# MLflow itself rejects a shorter admin password, but only after it has connected to the database.
[ "${#MLFLOW_ADMIN_PASSWORD}" -ge 12 ] || die "MLFLOW_ADMIN_PASSWORD must be at least 12 characters"

# `mlflow server` without `--app-name basic-auth` would serve every run to anyone who can reach it.
# The command serves MLflow when an argument is the mlflow program (any path: /usr/local/bin/mlflow,
# `python -m mlflow`) and a later one is `server`, whatever options sit between (`--env-file x`), or
# when one argument holds such a command line (`sh -c "mlflow server …"`).
serves=false
after_mlflow=false
for arg in "$@"; do
    case "$arg" in
        mlflow | */mlflow) after_mlflow=true ;;
        server) if $after_mlflow; then serves=true; fi ;;
        *mlflow*[[:space:]]server | *mlflow*[[:space:]]server[[:space:]]*) serves=true ;;
    esac
done
if $serves; then
    case " $* " in
        *" --app-name basic-auth "* | *" --app-name=basic-auth "*) ;;
        *) die "the mlflow server command lacks --app-name basic-auth" ;;
    esac
fi

# Without the cache every request hashes the password again (PBKDF2, tens of milliseconds of CPU by
# design): a sweep's tracking then costs the server more than the sweep. A password changed through
# the API is seen at once by the worker that changed it and by the others within the TTL.
ttl="${MLFLOW_AUTH_CACHE_TTL_SECONDS:-60}"
case "$ttl" in
    '' | *[!0-9]*) die "MLFLOW_AUTH_CACHE_TTL_SECONDS must be a whole number of seconds, not '$ttl'" ;;
esac

# configparser reads '%' as interpolation, and a URL-encoded database password contains '%'.
ini_escape() { printf '%s' "$1" | sed 's/%/%%/g'; }

umask 077
conf_dir="${MLFLOW_AUTH_CONFIG_DIR:-/tmp/mlflow-auth}"
mkdir -p "$conf_dir"
export MLFLOW_AUTH_CONFIG_PATH="$conf_dir/basic_auth.ini"
cat > "$MLFLOW_AUTH_CONFIG_PATH" <<INI
[mlflow]
default_permission = $(ini_escape "${MLFLOW_AUTH_DEFAULT_PERMISSION:-READ}")
database_uri = $(ini_escape "$MLFLOW_AUTH_DATABASE_URI")
admin_username = $(ini_escape "$MLFLOW_ADMIN_USERNAME")
admin_password = $(ini_escape "$MLFLOW_ADMIN_PASSWORD")
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = $ttl
INI

exec "$@"
