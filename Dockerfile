# syntax=docker/dockerfile:1.7
# TriageEngine: one image for `triage serve` (and every other verb).
#
#   docker build -t triageengine .                      # CPU image (ONNX Runtime's CPU provider)
#   docker build -t triageengine:gpu --target gpu .     # GPU image on a CUDA 13 + cuDNN 9 runtime base
#   docker run -p 8080:8080 -p 11112:11112 -p 2575:2575 -v triage-data:/var/lib/triage \
#              -e TRIAGE_ADMIN_KEY=change-me triageengine
#   docker run --gpus all ... triageengine:gpu          # needs the NVIDIA container toolkit on the host
#
# Ports: 8080 HTTP (REST API, web UI, /metrics, /health), 11112 DICOM (C-STORE/C-ECHO), 2575 HL7 v2 MLLP.
# Keep the package lists in step with scripts/lib.sh and the README's install steps.

ARG DOTNET_VERSION=10.0

# ---- build: restore, test-free publish ---------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props TriageEngine.sln ./
COPY src/ src/
COPY models/ models/
RUN dotnet publish src/TriageEngine.Host/TriageEngine.Host.csproj -c Release -r linux-x64 --self-contained false \
        -p:TreatWarningsAsErrors=true -o /app \
    && rm -rf /app/runtimes/win-* /app/runtimes/osx-* /app/onnxruntime*.dll

# self-contained publish for the GPU image (its CUDA base has no .NET runtime)
FROM build AS build-gpu
RUN dotnet publish src/TriageEngine.Host/TriageEngine.Host.csproj -c Release -r linux-x64 --self-contained true \
        -p:TreatWarningsAsErrors=true -o /app-sc \
    && rm -rf /app-sc/runtimes/win-* /app-sc/runtimes/osx-* /app-sc/onnxruntime*.dll

# ---- runtime (CPU) -------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
# libgtk-3-0: OpenCV's native library (OpenCvSharp4.official.runtime.linux-x64) links it;
# libgomp1: ONNX Runtime's CPU provider; curl: the HEALTHCHECK.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgtk-3-0 libgomp1 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system triage && useradd --system --gid triage --home-dir /var/lib/triage --create-home triage
WORKDIR /opt/triage
COPY --from=build /app ./
ENV TRIAGE_DATAPATH=/var/lib/triage \
    TRIAGE_HTTP__ADDRESS=0.0.0.0 \
    TRIAGE_HTTP__PORT=8080 \
    TRIAGE_DICOM__PORT=11112 \
    TRIAGE_HL7__PORT=2575 \
    DOTNET_gcServer=1 \
    MALLOC_ARENA_MAX=2
USER triage
VOLUME ["/var/lib/triage"]
EXPOSE 8080 11112 2575
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["dotnet", "/opt/triage/triage.dll"]
CMD ["serve"]

# ---- runtime (GPU): CUDA 13 + cuDNN 9, the CUDA execution provider of ONNX Runtime 1.31 -----------
FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 AS gpu
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgtk-3-0 libgomp1 libicu74 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system triage && useradd --system --gid triage --home-dir /var/lib/triage --create-home triage
WORKDIR /opt/triage
COPY --from=build-gpu /app-sc ./
ENV TRIAGE_DATAPATH=/var/lib/triage \
    TRIAGE_HTTP__ADDRESS=0.0.0.0 \
    TRIAGE_HTTP__PORT=8080 \
    TRIAGE_DICOM__PORT=11112 \
    TRIAGE_HL7__PORT=2575 \
    TRIAGE_INFERENCE__PROVIDER=Cuda \
    DOTNET_gcServer=1 \
    MALLOC_ARENA_MAX=2
USER triage
VOLUME ["/var/lib/triage"]
EXPOSE 8080 11112 2575
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["/opt/triage/triage"]
CMD ["serve"]

# the default target is the CPU image
FROM runtime
