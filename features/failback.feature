Feature: Failback to us-east-1
  After an outage, us-east-1 is re-seeded as a secondary and traffic returns to it in a planned
  switchover: under 30 minutes, nothing lost, both regions holding the same data. The failback is
  the region-outage experiment's rollback, measured by the clients: from its first step until
  writes through the failover name are healthy in us-east-1 again.

  Scenario: Failback after a region outage
    Given the two-region stack is healthy with us-east-1 as the writer
    When the "failback" experiment runs
    Then clients see healthy writes in us-east-1 again less than 30 minutes after the failback starts
    And us-east-1 is the writer again
    And both regions hold the same orders
