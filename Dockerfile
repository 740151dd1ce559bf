# Sluice: one static binary on a small non-root image.
#
#   docker build -t sluice .
#   docker run --rm -p 8080:8080 -v sluice-data:/var/lib/sluice sluice
#
# The build stage compiles with CGO disabled, so the binary needs no C
# library; the runtime stage is Alpine (about 8 MB) for a shell and wget,
# which the health check uses. The web editor's bundle (web/ui/dist) is
# committed and embedded: the build needs neither Node nor npm.

FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sluice ./cmd/sluice

FROM alpine:3.22
RUN adduser -D -H -u 10001 -s /sbin/nologin sluice \
 && mkdir -p /var/lib/sluice \
 && chown sluice:sluice /var/lib/sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
USER 10001:10001
WORKDIR /var/lib/sluice
# The server keeps its secret key, its checkpoints (unless they are in the
# PostgreSQL catalog), the embedded catalog (without a PostgreSQL URL) and
# the files of file sinks here: mount a volume.
ENV SLUICE_DATA_DIR=/var/lib/sluice
VOLUME ["/var/lib/sluice"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD wget -qO /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["sluice"]
CMD ["server", "-listen", ":8080"]
