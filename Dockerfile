# gg in a container: gg-serve on 0.0.0.0:8500 by default, or any gg tool and pipelines/run.sh as the command.
#   docker build -t gg .                       # multi-stage: builds on the official Swift image
#   docker run --rm -p 8500:8500 gg            # or: docker compose up -d
#   docker run --rm -i gg pipelines/run.sh - < urls.txt > results.ndjson
# Without a registry, scripts/docker-smoke builds the same runtime image from Dockerfile.runtime with
# podman, a Debian base made by debootstrap, and binaries built here with --static-swift-stdlib.
FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/setup --deps && swift build -c release --static-swift-stdlib \
 && mkdir -p /out/bin /out/.whisper \
 && cp .build/release/gg-fetch .build/release/gg-scenes .build/release/gg-ocr .build/release/gg-transcribe \
       .build/release/gg-assemble .build/release/gg-serve /out/bin/ \
 && cp -r .whisper/lib /out/.whisper/lib && mkdir -p /out/.whisper/models \
 && cp .whisper/models/ggml-base-q8_0.bin .whisper/models/ggml-tiny.en-q8_0.bin /out/.whisper/models/ \
 && cp -r pipelines /out/pipelines && cp scripts/install-runtime scripts/setup-resolvers /out/

FROM debian:bookworm-slim
COPY --from=build /out/install-runtime /out/setup-resolvers /tmp/
RUN /tmp/install-runtime && GG_TOOLS_DIR=/opt/gg/.tools /tmp/setup-resolvers && rm /tmp/install-runtime /tmp/setup-resolvers \
 && useradd --system --uid 10001 --create-home --home-dir /home/gg gg \
 && mkdir -p /var/lib/gg/work /var/cache/gg && chown gg:gg /var/lib/gg/work /var/cache/gg
COPY --from=build /out/bin /opt/gg/bin
COPY --from=build /out/.whisper /opt/gg/.whisper
COPY --from=build /out/pipelines /opt/gg/pipelines
ENV PATH=/opt/gg/bin:/opt/gg/pipelines:$PATH GG_WORK_DIR=/var/lib/gg/work GG_CACHE_DIR=/var/cache/gg GG_LISTEN=0.0.0.0:8500
USER gg
WORKDIR /opt/gg
VOLUME ["/var/lib/gg/work", "/var/cache/gg"]
EXPOSE 8500
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fs http://127.0.0.1:8500/health || exit 1
CMD ["gg-serve"]
