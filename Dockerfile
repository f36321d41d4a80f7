# The flaredns image: the static binary, a CA bundle and an empty state directory, FROM scratch
# (no shell, no package manager, nothing else to patch). scripts/release prepares the build
# context (target/oci-context/: flaredns, ca-certificates.crt, state/) and builds it with
#   podman build --timestamp "$SOURCE_DATE_EPOCH" -f Dockerfile target/oci-context
# Configuration: /etc/flaredns/config.toml when mounted, else the environment alone
# (FLAREDNS_RECORDS, FLAREDNS_<SECTION>_<KEY>, CLOUDFLARE_API_TOKEN or
# CLOUDFLARE_API_TOKEN_FILE); see docs/configuration.md.
FROM scratch

COPY flaredns /usr/bin/flaredns
# TLS trust comes from the system store; this is its usual path (SSL_CERT_FILE names another).
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The state directory belongs to the user the daemon runs as, so memory and status.json
# (and with them `status --check`) work without a volume's help.
COPY --chown=65532:65532 state/ /var/lib/flaredns/

ENV STATE_DIRECTORY=/var/lib/flaredns
USER 65532:65532
VOLUME ["/var/lib/flaredns"]
# Docker-format images keep this; an OCI archive has no health-check field, so orchestrators
# call `flaredns status --check` themselves (podman exec, a Kubernetes exec probe).
HEALTHCHECK --interval=1m --timeout=10s --start-period=2m CMD ["/usr/bin/flaredns", "status", "--check"]
ENTRYPOINT ["/usr/bin/flaredns"]
