# xray-search in a container: build on Debian 12, run on Debian 12 slim.
#
#   docker build -t xray-search .
#   docker run --rm -p 8080:8080 -v "$PWD/index:/index:ro" xray-search
#
# docs/DEPLOYMENT.md has the whole story (models, datasets, indexing inside the container).
# The runtime package list is checked against the binary's shared libraries by
# scripts/check-docker-libs.sh; keep the two in step.

# ---- build -------------------------------------------------------------------------------------
FROM debian:12 AS build
WORKDIR /src
# The dependency script first, so that its layer is cached while the sources change.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --no-browser --no-peer --no-train && rm -rf /var/lib/apt/lists/*
COPY . .
# Runs on any x86-64: the AVX2 kernels are chosen at run time where the CPU has them
# (src/kernels/vector_ops.h). Extra CMake options: --build-arg XRS_CMAKE_FLAGS=...
ARG XRS_CMAKE_FLAGS=""
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DXRS_BUILD_TESTS=OFF -DXRS_BUILD_BENCH=OFF ${XRS_CMAKE_FLAGS} \
    && cmake --build /build --target xray-search xray-search-decoder \
    && strip /build/apps/xray-search /build/apps/xray-search-decoder

# ---- runtime -----------------------------------------------------------------------------------
FROM debian:12-slim AS runtime
# Shared libraries of the binary (scripts/check-docker-libs.sh), plus ca-certificates for
# `model fetch` / `dataset fetch` over https and curl for the HEALTHCHECK.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libcurl4 libsqlite3-0 libopenblas0-pthread libdnnl2 libutf8proc2 libgomp1 libpng16-16 zlib1g \
        libturbojpeg0 libgdcm3.0 libssl3 libcpp-httplib0.11 libstdc++6 libgcc-s1 \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/apps/xray-search /usr/local/bin/xray-search
# The image decoder worker (docs/IMAGING.md, "Containing the codecs"): xray-search looks for it
# next to itself. Its libraries are a subset of xray-search's.
COPY --from=build /build/apps/xray-search-decoder /usr/local/bin/xray-search-decoder
# The model `index`, `embed` and `bench` use when --model is not given.
ENV XRAY_MODEL=/models/ViT-B-32
RUN useradd --system --uid 10001 --create-home --home-dir /home/xray xray \
    && mkdir -p /models /data /index \
    && chown xray:xray /models /data /index
USER xray
WORKDIR /home/xray
VOLUME ["/models", "/data", "/index"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/api/health || exit 1
ENTRYPOINT ["xray-search"]
# Beyond loopback `serve` needs tokens (set XRAY_API_TOKEN or mount a --tokens file) and TLS or
# --insecure-http: this default is for a TLS-terminating proxy in front (docs/SECURITY.md).
CMD ["serve", "--index", "/index", "--host", "0.0.0.0", "--port", "8080", "--insecure-http"]
