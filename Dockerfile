# gg on Debian 12 with the official Swift toolchain image, set up by the same script as a machine.
#   docker build -t gg .
#   docker run --rm -p 8500:8500 gg                       # gg-serve on 0.0.0.0:8500
#   docker run --rm -i gg pipelines/run.sh - < urls.txt > results.ndjson
FROM swift:6.0-bookworm
WORKDIR /opt/gg
COPY . .
RUN scripts/setup && rm -rf .build/release/*.build .build/checkouts
ENV PATH=/opt/gg/.build/release:$PATH GG_WORK_DIR=/var/lib/gg/work GG_CACHE_DIR=/var/cache/gg GG_LISTEN=0.0.0.0:8500
VOLUME ["/var/lib/gg/work", "/var/cache/gg"]
EXPOSE 8500
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fs http://127.0.0.1:8500/health || exit 1
CMD ["gg-serve"]
