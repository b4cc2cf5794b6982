# syntax=docker/dockerfile:1
# A small runtime image holding plat (static musl binary) on Alpine.
#
#   docker build -t plat .                                     # compiles plat in the image
#   docker build --build-arg TERRAFORM_VERSION=1.14.1 -t plat . # adds Terraform, checksum-verified
#   docker build --build-arg PLAT_FROM=dist .                  # takes dist/<arch>/plat (release.yml)
ARG RUST_VERSION=1.89
ARG ALPINE_VERSION=3.22
ARG PLAT_FROM=source

FROM rust:${RUST_VERSION}-alpine${ALPINE_VERSION} AS plat-source
# perl and make build the vendored OpenSSL; the rest builds libgit2 and libdbus.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev perl make linux-headers
WORKDIR /src
COPY . .
RUN cargo build --locked --release --features static \
    && install -D target/release/plat /out/plat

FROM scratch AS plat-dist
ARG TARGETARCH
COPY dist/${TARGETARCH}/plat /out/plat

# hadolint ignore=DL3006
FROM plat-${PLAT_FROM} AS plat

FROM alpine:${ALPINE_VERSION} AS terraform
ARG TARGETARCH
# Empty: no Terraform in the image (use PLAT_IAC_BIN or mount one).
ARG TERRAFORM_VERSION=""
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
WORKDIR /tmp/terraform
RUN mkdir -p /out \
    && if [ -n "$TERRAFORM_VERSION" ]; then \
         base="https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}"; \
         zip="terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip"; \
         wget -q "$base/$zip" "$base/terraform_${TERRAFORM_VERSION}_SHA256SUMS"; \
         grep " ${zip}\$" "terraform_${TERRAFORM_VERSION}_SHA256SUMS" | sha256sum -c -; \
         unzip -q "$zip" terraform -d /out; \
       fi

FROM alpine:${ALPINE_VERSION}
# hadolint ignore=DL3018
RUN apk add --no-cache ca-certificates \
    && adduser -D -u 10001 plat
COPY --from=plat /out/plat /usr/local/bin/plat
COPY --from=terraform /out/ /usr/local/bin/
USER 10001
WORKDIR /home/plat
ENTRYPOINT ["plat"]
CMD ["--help"]
