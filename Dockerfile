# gg on Debian 12 with the official Swift toolchain image, set up by the same script as a machine.
#   docker build -t gg .
#   docker run --rm -i gg pipelines/run.sh - < urls.txt > results.ndjson
FROM swift:6.0-bookworm
WORKDIR /opt/gg
COPY . .
RUN scripts/setup && rm -rf .build/release/*.build .build/checkouts
ENV PATH=/opt/gg/.build/release:$PATH GG_WORK_DIR=/tmp/gg-work
CMD ["pipelines/run.sh", "--help"]
