# Builds the quiver CLI in a Swift image and runs it on a slim Debian with only the C libraries it links, as an
# unprivileged user. The build context is an allowlist (.dockerignore): Package.swift and the folders below.
FROM swift:6.3-bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        pkg-config libpq-dev libcurl4-openssl-dev libopenblas-dev liblapacke-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
# SwiftPM checks every declared target's folder, test targets included, even when building only one product.
COPY Tests ./Tests
COPY Migrations ./Migrations
RUN swift build -c release --product quiver --static-swift-stdlib && cp .build/release/quiver /usr/local/bin/quiver

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ca-certificates libpq5 libcurl4 libopenblas0-pthread liblapacke && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 quiver \
    && useradd --system --uid 10001 --gid quiver --create-home --home-dir /home/quiver --shell /usr/sbin/nologin quiver
COPY --from=build /usr/local/bin/quiver /usr/local/bin/quiver
# Numeric, so orchestrators that require a non-root user (runAsNonRoot) can verify it. QuiverHome is ~/.quiver.
USER 10001:10001
WORKDIR /home/quiver
ENTRYPOINT ["quiver"]
