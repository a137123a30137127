#!/usr/bin/env bash
# Install the Debian packages the service needs, only those that are missing.
#   install-system-deps.sh run   - PostgreSQL + PostGIS, CJK fonts, Pango, python3-venv
#   install-system-deps.sh test  - the above plus Chromium, chromedriver, GDAL tools
# Runs apt-get as root, or through `sudo -n` for a normal user.
set -euo pipefail
mode=${1:-run}

missing=()
pg_has_postgis() { compgen -G "/usr/share/postgresql/*/extension/postgis.control" >/dev/null; }
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || ! pg_has_postgis; then
  missing+=(postgresql postgresql-contrib "__POSTGIS__")
fi
fc-list :lang=zh 2>/dev/null | grep -qi "noto.*cjk" || missing+=(fonts-noto-cjk)
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
# WeasyPrint (附件6 PDF) loads Pango through its C library.
pkg_ok libpangoft2-1.0-0 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
if [ "$mode" = test ]; then
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  command -v node >/dev/null || missing+=(nodejs)  # the map's JavaScript unit tests (node --test)
  command -v ogrinfo >/dev/null || missing+=(gdal-bin)
  command -v pdftoppm >/dev/null || missing+=(poppler-utils)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "需要安装系统软件包：${missing[*]}" >&2
  echo "请以 root 运行：apt-get install -y ${missing[*]//__POSTGIS__/postgis}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo ">> apt-get update" >&2
"${SUDO[@]}" apt-get update -qq
# PostGIS for the newest PostgreSQL the archive has (15 on bookworm).
if [[ " ${missing[*]} " == *" __POSTGIS__ "* ]]; then
  postgis=$(apt-cache search --names-only '^postgresql-[0-9]+-postgis-3$' | awk '{print $1}' | sort -V | tail -n1)
  missing=("${missing[@]/__POSTGIS__/${postgis:-postgis}}")
fi
echo ">> apt-get install ${missing[*]}" >&2
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
