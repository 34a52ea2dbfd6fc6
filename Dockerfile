# syntax=docker/dockerfile:1
#
# gatehouse: a static binary on an empty base image, running as a non-root
# numeric user, with a read-only root filesystem in mind.
#
#   docker build -t gatehouse \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run -d --name gatehouse --read-only \
#     -p 8080:8080 -p 8443:8443 \
#     -v "$PWD/config:/etc/gatehouse:ro" -v gatehouse-state:/var/lib/gatehouse \
#     gatehouse
#
# See docs/operations.md, section "Docker".

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not in the build context (.dockerignore): the version and VCS
# revision come from these arguments and are printed by "gatehouse version".
ARG VERSION=""
ARG REVISION=""
RUN CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/etc/gatehouse /out/var/lib/gatehouse

FROM scratch
# CA certificates: upstreams over HTTPS, OIDC discovery, the ACME directory.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# The configuration (mount it read-only) and the state: the ACME account key
# and certificates (set tls.acme.cache_dir = "/var/lib/gatehouse/acme").
COPY --from=build --chown=65532:65532 /out/etc/gatehouse /etc/gatehouse
COPY --from=build --chown=65532:65532 /out/var/lib/gatehouse /var/lib/gatehouse
VOLUME ["/etc/gatehouse", "/var/lib/gatehouse"]
USER 65532:65532
# listen (":8080" by default) and tls_listen (":8443" by default). The admin
# listener stays on 127.0.0.1:9901 inside the container: not published.
EXPOSE 8080 8443
# There is no shell or curl in the image: the binary checks itself, in the
# container's network namespace, where the loopback admin listener answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/gatehouse", "healthcheck", "--url", "http://127.0.0.1:9901/healthz"]
# SIGTERM: /readyz turns 503 for shutdown_delay, then requests in flight get
# shutdown_timeout; give "docker stop -t" (or Kubernetes'
# terminationGracePeriodSeconds) more than the two together. Logs are JSON on
# stderr; -e GATEHOUSE_LOG_FORMAT=text for key=value lines.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["run", "--config", "/etc/gatehouse"]
