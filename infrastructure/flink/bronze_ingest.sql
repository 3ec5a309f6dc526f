-- Continuous bronze ingestion (compose profile "flink"): every message on the events topic is
-- appended to lakehouse.rva.bronze_raw as it arrives. Use this INSTEAD of the Dagster bronze_raw
-- asset, never beside it: Dagster replaces whole store-day partitions, Flink only appends.
-- S3 credentials come from the container environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).

SET 'execution.checkpointing.interval' = '30s';
SET 'pipeline.name' = 'rva-bronze-ingest';

CREATE CATALOG lakehouse WITH (
  'type' = 'iceberg',
  'catalog-type' = 'rest',
  'uri' = 'http://iceberg-rest:8181',
  'warehouse' = 's3://warehouse/',
  'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO',
  's3.endpoint' = 'http://minio:9000',
  's3.path-style-access' = 'true'
);

CREATE DATABASE IF NOT EXISTS lakehouse.rva;

-- Same columns and partition spec as the table the Python bronze writer creates.
CREATE TABLE IF NOT EXISTS lakehouse.rva.bronze_raw (
  event_id STRING,
  store_id STRING,
  camera_id STRING,
  event_ts TIMESTAMP_LTZ(6),
  event_date DATE,
  payload STRING,
  pulsar_message_id STRING,
  pulsar_publish_ts TIMESTAMP_LTZ(3),
  producer_name STRING,
  ingested_at TIMESTAMP_LTZ(6),
  dagster_run_id STRING,
  source_partition STRING
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
  'service-url' = 'pulsar://pulsar:6650',
  'admin-url' = 'http://pulsar:8080',
  -- The pipeline role's token; the flink-sql container fills it in from PULSAR_AUTH_TOKEN.
  'pulsar.client.authPluginClassName' = 'org.apache.pulsar.client.impl.auth.AuthenticationToken',
  'pulsar.client.authParams' = 'token:@PULSAR_AUTH_TOKEN@',
  'source.subscription-name' = 'flink-bronze',
  'source.start.message-id' = 'earliest',
  'format' = 'raw'
);

INSERT INTO lakehouse.rva.bronze_raw
SELECT
  JSON_VALUE(payload, '$.event_id'),
  JSON_VALUE(payload, '$.store_id'),
  JSON_VALUE(payload, '$.camera_id'),
  TO_TIMESTAMP_LTZ(UNIX_TIMESTAMP(SUBSTRING(JSON_VALUE(payload, '$.ts') FROM 1 FOR 19), 'yyyy-MM-dd''T''HH:mm:ss') * 1000, 3),
  CAST(SUBSTRING(COALESCE(properties['partition'], JSON_VALUE(payload, '$.ts')) FROM 1 FOR 10) AS DATE),
  payload,
  TO_BASE64(message_id),
  publish_time,
  producer_name,
  CURRENT_TIMESTAMP,
  properties['run_id'],
  properties['partition']
FROM pulsar_events;
