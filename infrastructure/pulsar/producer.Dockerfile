# The NDJSON -> Pulsar producer: `retail-assets publish` and nothing else.
#   docker build -f infrastructure/pulsar/producer.Dockerfile -t retail/pulsar-producer .
#   docker run --rm --network=retail-video-analytics_retail-net -v "$PWD:/data" \
#       -e PULSAR_AUTH_TOKEN retail/pulsar-producer \
#       --service-url pulsar://pulsar-broker:6650 --topic persistent://retail/metadata/events
# Without a FILE argument it publishes detections_output.ndjson from its working directory /data
# (mount the folder holding it there); pass a path, s3://bucket/key or - to publish another.
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

# The NDJSON and its dead letters live in the working directory; mount a volume here.
WORKDIR /data
ENV RVA_PUBLISH_FILE=detections_output.ndjson
ENTRYPOINT ["retail-assets", "publish"]
