#!/bin/bash
# The official mysql image's environment contract, for Debian's MariaDB: on an empty data
# directory create the system tables, set MYSQL_ROOT_PASSWORD, create MYSQL_DATABASE and
# MYSQL_USER/MYSQL_PASSWORD with all rights on it; then run the server in the foreground.
# Arguments that start with "-" go to the server (the chart passes --datadir=...).
set -euo pipefail
if [ "${1:-}" != "mariadbd" ] && [ "${1:0:1}" != "-" ]; then exec "$@"; fi
[ "${1:-}" = "mariadbd" ] && shift

datadir=/var/lib/mysql
for arg in "$@"; do
  case $arg in --datadir=*) datadir=${arg#--datadir=} ;; esac
done
server=(mariadbd --datadir="$datadir" --bind-address=0.0.0.0 --skip-name-resolve
  --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci)

if [ ! -d "$datadir/mysql" ]; then
  : "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD must be set on an empty data directory}"
  echo "entrypoint: initialising $datadir"
  mkdir -p "$datadir"
  mariadb-install-db --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  socket=/tmp/init.sock
  "${server[@]}" --skip-networking --socket="$socket" "$@" &
  pid=$!
  for _ in $(seq 60); do mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break; sleep 1; done
  # Values go in as SQL string literals: quote ' and \ the way the server reads them.
  quote() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }
  {
    # mariadb-install-db also makes password-less root accounts for 127.0.0.1, ::1 and the
    # host name: only root@localhost and root@% stay, both with the password.
    echo "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', $(quote "root")@$(quote "$(hostname)");"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(quote "$MYSQL_ROOT_PASSWORD");"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(quote "$MYSQL_ROOT_PASSWORD");"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
      echo "CREATE USER $(quote "$MYSQL_USER")@'%' IDENTIFIED BY $(quote "$MYSQL_PASSWORD");"
      [ -n "${MYSQL_DATABASE:-}" ] &&
        echo "GRANT ALL ON \`${MYSQL_DATABASE//\`/\`\`}\`.* TO $(quote "$MYSQL_USER")@'%';"
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket="$socket" -uroot
  MYSQL_PWD=$MYSQL_ROOT_PASSWORD mariadb-admin --socket="$socket" -uroot shutdown
  wait "$pid" || true
  echo "entrypoint: initialised"
fi
exec "${server[@]}" "$@"
