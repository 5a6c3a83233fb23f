# The App's image: a static binary on an empty base, run as a non-root user.
#   docker build -t modelgate .    (or podman build)
# An offline build can supply the build stage's files itself:
#   podman build --build-context build=DIR .
# where DIR holds /modelgate and /etc/ssl/certs/ca-certificates.crt.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=(devel)
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /modelgate ./cmd/modelgate

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /modelgate /modelgate
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["/modelgate", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/modelgate"]
CMD ["serve"]
