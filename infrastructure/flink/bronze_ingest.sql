-- Continuous bronze ingestion, the product's first streaming path: every message on the events
-- topic is appended to <catalog>.rva.bronze_stream as it arrives, with the same columns, types
-- and partition spec as the Dagster bronze (rva.bronze_raw). It writes a table of its own: the
-- Dagster bronze replaces whole videos of a store-day, this job only appends, and the two never
-- write one table.
-- A template: infrastructure/flink/render-job.sh fills in the placeholders between @ signs (endpoints, the
-- pipeline's Pulsar token) for the compose containers and for the local stack alike. S3
-- credentials come from the Flink processes' environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
-- AWS_REGION), never from this file.

SET 'pipeline.name' = 'rva-bronze-ingest';
SET 'execution.checkpointing.interval' = '@CHECKPOINT_INTERVAL@';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
-- Event times are UTC instants; the session zone only matters for the casts below.
SET 'table.local-time-zone' = 'UTC';
-- One reader: a non-partitioned topic at parallelism > 1 is assigned to no reader (FLINK-34629).
SET 'parallelism.default' = '1';

CREATE CATALOG lakehouse WITH (
  'type' = 'iceberg',
  'catalog-type' = 'rest',
  'uri' = '@ICEBERG_REST_URI@',
  'warehouse' = '@ICEBERG_WAREHOUSE@',
  @ICEBERG_AUTH@
  'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO',
  's3.endpoint' = '@S3_ENDPOINT@',
  's3.path-style-access' = 'true'
);

CREATE DATABASE IF NOT EXISTS lakehouse.rva;

-- retail_assets/lakehouse/bronze.py's columns, in its order; all required as there.
CREATE TABLE IF NOT EXISTS lakehouse.rva.bronze_stream (
  event_id STRING NOT NULL,
  store_id STRING NOT NULL,
  camera_id STRING NOT NULL,
  event_ts TIMESTAMP_LTZ(6) NOT NULL,
  event_date DATE NOT NULL,
  payload STRING NOT NULL,
  pulsar_message_id STRING NOT NULL,
  pulsar_publish_ts TIMESTAMP_LTZ(6) NOT NULL,
  producer_name STRING NOT NULL,
  video_key STRING NOT NULL,
  ingested_at TIMESTAMP_LTZ(6) NOT NULL,
  dagster_run_id STRING NOT NULL,
  source_partition STRING NOT NULL
) PARTITIONED BY (store_id, event_date);

-- The raw line as the payload, plus Pulsar's own metadata for lineage.
CREATE TEMPORARY TABLE pulsar_events (
  payload STRING,
  message_id BYTES METADATA FROM 'message_id' VIRTUAL,
  publish_time TIMESTAMP_LTZ(3) METADATA FROM 'publish_time' VIRTUAL,
  producer_name STRING METADATA FROM 'producer_name' VIRTUAL,
  properties MAP<STRING, STRING> METADATA FROM 'properties' VIRTUAL
) WITH (
  'connector' = 'pulsar',
  'topics' = 'persistent://retail/metadata/events',
  'service-url' = '@PULSAR_SERVICE_URL@',
  'pulsar.client.authPluginClassName' = 'org.apache.pulsar.client.impl.auth.AuthenticationToken',
  'pulsar.client.authParams' = 'token:@PULSAR_AUTH_TOKEN@',
  'source.subscription-name' = 'flink-bronze',
  'source.start.message-id' = 'earliest',
  'format' = 'raw'
);

-- The publisher's message properties (retail_assets/streaming/publisher.py) carry the Dagster
-- partition `<YYYY-MM-DD>|<store_id>`, the run id and the video key. `ts` is ISO 8601 UTC with an
-- optional fraction and `Z` or `+00:00` (contracts/detection_event.v1.schema.json).
INSERT INTO lakehouse.rva.bronze_stream
SELECT
  JSON_VALUE(payload, '$.event_id'),
  JSON_VALUE(payload, '$.store_id'),
  JSON_VALUE(payload, '$.camera_id'),
  CAST(CAST(REPLACE(REGEXP_REPLACE(JSON_VALUE(payload, '$.ts'), '(Z|\+00:00)$', ''), 'T', ' ')
    AS TIMESTAMP(6)) AS TIMESTAMP_LTZ(6)),
  CAST(SUBSTRING(properties['rva.partition'] FROM 1 FOR 10) AS DATE),
  payload,
  -- Base64, where the Dagster bronze has hex: Flink SQL has no hex of BYTES. Both encode the
  -- same serialized MessageId (pulsar's MessageId.deserialize reads the decoded bytes).
  TO_BASE64(message_id),
  CAST(publish_time AS TIMESTAMP_LTZ(6)),
  producer_name,
  properties['rva.video_key'],
  CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(6)),
  properties['rva.run_id'],
  properties['rva.partition']
FROM pulsar_events;
