Feature: Replication lag stays inside each store's promise
  Aurora Global Database replicates in about a second, DynamoDB global tables well under a minute,
  S3 Replication Time Control within 15 minutes. Lag is measured during the region-outage run by
  marker writes (written in one region, timed until visible in the other) and judged in steady
  state (outside the fault and the recovery that follows it).

  Scenario Outline: <store> replication lag p99 stays under <threshold_ms> ms
    Given the two-region stack is healthy with us-east-1 as the writer
    When the "region-outage" experiment runs
    Then the <store> replication lag was measured
    And the <store> replication lag p99 is under <threshold_ms> ms

    Examples:
      | store    | threshold_ms |
      | aurora   | 1000         |
      | dynamodb | 60000        |
      | s3       | 900000       |
