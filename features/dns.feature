Feature: Route 53 health checks and DNS failover
  The failover name follows the health checks: detection takes request interval x failure
  threshold (production: 30 s x 3 = 90 s, TTL 60 s; the fast lab: 1 s x 2, TTL 1 s, read from the
  lab's profile), and clients honour the record's TTL.

  Scenario: The failover name answers the primary with the configured TTL
    Given the two-region stack is healthy with us-east-1 as the writer
    Then the failover name answers us-east-1 with the configured TTL

  Scenario: An unhealthy primary moves the failover name within the detection window
    Given the two-region stack is healthy with us-east-1 as the writer
    When the us-east-1 application becomes unreachable
    Then the failover name answers us-west-2 within interval x threshold plus one interval
