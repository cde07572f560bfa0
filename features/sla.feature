Feature: Drills spend little of the error budget
  With a 99.95 % monthly SLA the error budget is 21.6 minutes. A drill's downtime is charged to it.

  Scenario: A region-outage drill consumes less than a tenth of the monthly error budget
    Given the two-region stack is healthy with us-east-1 as the writer
    When the "region-outage" drill runs
    Then the drill's downtime uses less than 10 % of the 21.6 minute monthly error budget
