# Registries for the pull tests, started by the test in its own directory:
# Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a TLS
# certificate made here, one instance with htpasswd basic auth and one
# anonymous, filled with skopeo from OCI layouts registry_fixtures.py builds.
#
# Needs: $REG_WORK (a private directory), CLEANUP_PIDS (an array whose
# processes the caller's exit trap kills). Sets REG_CA (the CA certificate),
# REG_AUTH / REG_ANON (HOST:PORT), REG_USER / REG_PASS.

REG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# A test that cannot run here skips (ctest's SKIP_RETURN_CODE 77).
registry_require_tools() {
	local t
	for t in docker-registry skopeo htpasswd openssl zstd python3; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "SKIP: $t not installed (ci/setup.sh installs it)" >&2
			exit 77
		fi
	done
	[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing" >&2; exit 77; }
}

# A CA and a server certificate for 127.0.0.1 signed by it.
registry_make_certs() {
	local d=$REG_WORK/tls
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=capsid-test-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
	REG_CA=$d/ca.crt
	# skopeo's --dest-cert-dir wants the CA as a *.crt of its own directory.
	mkdir -p "$d/skopeo"
	cp "$d/ca.crt" "$d/skopeo/ca.crt"
}

# registry_start NAME PORT auth|anon|plain: a docker-registry of its own.
registry_start() {
	local name=$1 port=$2 mode=$3 dir=$REG_WORK/$1
	mkdir -p "$dir/storage"
	{
		echo "version: 0.1"
		echo "log: {level: error, accesslog: {disabled: true}}"
		echo "storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}"
		echo "http:"
		echo "  addr: 127.0.0.1:$port"
		echo "  secret: capsid-test-$name"
		if [ "$mode" != plain ]; then
			echo "  tls: {certificate: $REG_WORK/tls/server.crt, key: $REG_WORK/tls/server.key}"
		fi
		if [ "$mode" = auth ]; then
			echo "auth: {htpasswd: {realm: capsid-test, path: $REG_WORK/htpasswd}}"
		fi
		if [ "$mode" = token ]; then
			echo "auth: {token: {realm: 'https://127.0.0.1:$REG_TOKEN_PORT/token', service: capsid-test,"
			echo "  issuer: capsid-test-issuer, rootcertbundle: $REG_WORK/tls/token.crt}}"
		fi
	} >"$dir/config.yml"
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	CLEANUP_PIDS+=($!)
	local i scheme=https
	[ "$mode" = plain ] && scheme=http
	for i in $(seq 1 100); do
		if curl -s -o /dev/null --cacert "$REG_WORK/tls/ca.crt" "$scheme://127.0.0.1:$port/v2/"; then
			return 0
		fi
		sleep 0.1
	done
	cat "$dir/log" >&2
	echo "FAIL: docker-registry $name did not start" >&2
	exit 1
}

# registry_push LAYOUT DEST(HOST:PORT/REPO:TAG) [creds] [tls|plain]
registry_push() {
	local src=$1 dest=$2 creds=${3:-} tls=${4:-tls}
	local args=(--quiet --all)
	if [ "$tls" = tls ]; then
		args+=(--dest-cert-dir "$REG_WORK/tls/skopeo")
	else
		args+=(--dest-tls-verify=false)
	fi
	[ -n "$creds" ] && args+=(--dest-creds "$creds")
	skopeo copy "${args[@]}" "oci:$src:v1" "docker://$dest" >"$REG_WORK/skopeo.log" 2>&1 || {
		cat "$REG_WORK/skopeo.log" >&2
		echo "FAIL: skopeo copy $src $dest" >&2
		exit 1
	}
}

# registry_start_token PORT TOKEN_PORT: a docker-registry in `auth: token`
# mode (the bearer flow of Docker Hub, ACR, MCR) and its token service
# (token_server.py: JWTs signed with a key made here), filled like the others.
registry_start_token() {
	REG_TOKEN_PORT=$2
	local d=$REG_WORK/tls
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=capsid-token-signer \
		-keyout "$d/token.key" -out "$d/token.crt" 2>/dev/null
	python3 "$REG_LIB_DIR/token_server.py" "$2" "$d/server.crt" "$d/server.key" "$d/token.crt" "$d/token.key" \
		capsid-test-issuer "$REG_USER" "$REG_PASS" 2>"$REG_WORK/token.log" &
	CLEANUP_PIDS+=($!)
	local i
	for i in $(seq 1 100); do
		curl -s -o /dev/null --cacert "$d/ca.crt" "https://127.0.0.1:$2/token" && break
		sleep 0.1
	done
	registry_start token "$1" token
	REG_TOKEN=127.0.0.1:$1
	registry_push "$REG_WORK/fixtures/app" "$REG_TOKEN/test/app:v1" "$REG_USER:$REG_PASS"
}

# Everything the tests use: certificates, two registries, two images in each.
registry_setup() {
	registry_require_tools
	mkdir -p "$REG_WORK"
	REG_USER=capsid-user
	# A password of this run's own: tests running side by side (ctest -j)
	# look for theirs in every process's arguments.
	REG_PASS="s3cret-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	registry_make_certs
	htpasswd -Bbc "$REG_WORK/htpasswd" "$REG_USER" "$REG_PASS" 2>/dev/null
	python3 "$REG_LIB_DIR/registry_fixtures.py" "$REG_WORK/fixtures" \
		--random-bytes "${REG_RANDOM_BYTES:-1048576}" --random-layers "${REG_RANDOM_LAYERS:-1}" >"$REG_WORK/fixtures.json"
	REG_AUTH=127.0.0.1:5001
	REG_ANON=127.0.0.1:5002
	registry_start auth 5001 auth
	registry_start anon 5002 anon
	registry_push "$REG_WORK/fixtures/app" "$REG_AUTH/test/app:v1" "$REG_USER:$REG_PASS"
	registry_push "$REG_WORK/fixtures/multi" "$REG_AUTH/test/multi:v1" "$REG_USER:$REG_PASS"
	registry_push "$REG_WORK/fixtures/app" "$REG_ANON/test/app:v1"
	registry_push "$REG_WORK/fixtures/multi" "$REG_ANON/test/multi:v1"
}
