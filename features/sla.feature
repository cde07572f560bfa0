Feature: Drills spend little of the error budget
  With a 99.95 % monthly SLA the error budget is 21.6 minutes. The client-visible downtime of a
  drill (failed or timed-out writes through the failover name) is charged to it.

  Scenario Outline: A <scenario> run consumes less than <pct> % of the monthly error budget
    Given the two-region stack is healthy with us-east-1 as the writer
    When the "<scenario>" experiment runs
    Then its downtime uses less than <pct> % of the 21.6 minute monthly error budget

    Examples:
      | scenario           | pct |
      | region-outage      | 10  |
      | planned-switchover | 10  |
