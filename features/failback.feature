Feature: Failback to us-east-1
  After an outage, us-east-1 is re-seeded as a secondary and traffic returns to it in a planned
  switchover: under 30 minutes, nothing lost, both regions holding the same data.

  Scenario: Failback after a region outage
    Given the two-region stack is healthy with us-east-1 as the writer
    When the "failback" drill runs
    Then the failback takes less than 30 minutes
    And us-east-1 is the writer again
    And both regions hold the same orders
