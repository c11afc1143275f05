# Builds the quiver CLI in a Swift image and runs it on a slim Debian with only the C libraries it links.
FROM swift:6.3-bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        pkg-config libpq-dev libcurl4-openssl-dev libopenblas-dev liblapacke-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Migrations ./Migrations
RUN swift build -c release --product quiver --static-swift-stdlib && cp .build/release/quiver /usr/local/bin/quiver

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ca-certificates libpq5 libcurl4 libopenblas0-pthread liblapacke && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/quiver /usr/local/bin/quiver
ENTRYPOINT ["quiver"]
