# Starling: the Node and Gateway executables in one image (the entrypoint is Node; the gateway service sets its
# own). Build: docker build -t starling .
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends liblz4-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest first, so that the dependencies are fetched in a layer of their own.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
# SwiftPM checks that every target's folder exists, the test targets' included.
COPY Tests ./Tests
RUN swift build -c release --product Node \
    && swift build -c release --product Gateway \
    && mkdir /out && cp "$(swift build -c release --show-bin-path)/Node" "$(swift build -c release --show-bin-path)/Gateway" /out/

FROM swift:6.3-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends liblz4-1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /data starling
COPY --from=build /out/ /usr/local/bin/
USER starling
WORKDIR /data
# Bind IPv6 and IPv4 (private networks such as Railway's are IPv6).
ENV STARLING_BIND=::
# MQTT, WebSocket, MQTTS, the node's HTTP API, the cluster port, the gateway's HTTP front.
EXPOSE 1883 8083 8883 18083 4370 8080
ENTRYPOINT ["/usr/local/bin/Node"]
