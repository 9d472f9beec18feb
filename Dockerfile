# Visita in a container. The build stage runs exactly what `make build`
# runs, with the same pinned tools (scripts/install-tools.sh build); keep the
# two in step. The runtime stage is the binary, the site, and a volume.

FROM node:20-bookworm-slim AS node

FROM rust:1.95-bookworm AS build
# Node.js 20 for npm's wasm-opt (binaryen@132); Debian 12's node is older.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /src
ENV VISITA_TOOLS=/opt/visita-tools
# Tools first: this layer changes only when the pins change.
COPY scripts/install-tools.sh scripts/
COPY Cargo.toml Cargo.lock ./
RUN scripts/install-tools.sh build && scripts/install-tools.sh wasm-bindgen
COPY . .
RUN make build

FROM debian:bookworm-slim
RUN apt-get update \
    # libxml2 and xmlsec check SAML signatures (samael links them).
    && apt-get install -y --no-install-recommends ca-certificates libssl3 libxml2 libxmlsec1 libxmlsec1-openssl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/visita --shell /usr/sbin/nologin visita \
    && mkdir -p /var/lib/visita \
    && chown visita:visita /var/lib/visita
COPY --from=build /src/target/release/visita /usr/local/bin/visita
COPY --from=build /src/target/site /usr/share/visita/site
ENV VISITA_ADDR=0.0.0.0:3000 \
    VISITA_DATA_DIR=/var/lib/visita \
    VISITA_SITE_DIR=/usr/share/visita/site
USER visita
VOLUME /var/lib/visita
# HTTP, the built-in TURN server, the SFU's media ports (VISITA_MEDIA_PORTS).
EXPOSE 3000 3478/udp 3478/tcp 50000-50199/udp
ENTRYPOINT ["visita"]
CMD ["serve"]
