# The NDJSON -> Pulsar producer: `retail-assets publish` and nothing else.
#   docker build -f infrastructure/pulsar/producer.Dockerfile -t rva-producer .
#   docker run --rm --network <compose network> -v "$PWD/out:/data" rva-producer \
#       --service-url pulsar://pulsar-broker:6650 --topic persistent://retail/metadata/events /data/video.ndjson
# The publish command needs only the Pulsar client, pyarrow, boto3 and jsonschema, so the package
# is installed without its dependencies (torch, ultralytics, Dagster, ...) and those four are
# installed alone, with the same version ranges as pyproject.toml.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/rva
COPY pyproject.toml README.md ./
COPY retail_assets ./retail_assets
RUN pip install --no-deps . \
 && pip install "pulsar-client>=3.5,<4" "pyarrow>=17" "boto3>=1.34" "jsonschema>=4.20" \
 && retail-assets publish --help > /dev/null

# Dead letters default to the working directory; mount a volume here to keep them.
WORKDIR /data
ENTRYPOINT ["retail-assets", "publish"]
