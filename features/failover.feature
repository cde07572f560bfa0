Feature: Automated failover when us-east-1 is lost
  As an SRE I need proof that losing the primary region is survivable within our objectives:
  RTO under 15 minutes and RPO under 1 minute, measured from the client side through DNS.

  Background:
    Given the two-region stack is healthy with us-east-1 as the writer

  Scenario: A region outage is detected and failed over within the RTO
    When the "region-outage" drill runs
    Then the drill passes
    And clients see healthy writes in us-west-2 within 15 minutes of the fault
    And the recovery is reported per phase beside the profile's floor
    And each failover phase stays within its budget
      | phase            | budget_s |
      | detection        | 300      |
      | decision         | 300      |
      | aurora_promotion | 300      |
      | dns              | 180      |
      | warmup           | 60       |
      | validation       | 60       |

  Scenario Outline: Writes lost in an unplanned failover stay under the RPO for <store>
    When the "region-outage" drill runs
    Then acknowledged <store> writes were made during the drill
    And the <store> RPO is under 60 seconds

    Examples:
      | store    |
      | aurora   |
      | dynamodb |
      | s3       |

  Scenario: The failover path does not depend on us-east-1 control planes
    When the "control-plane-impairment" drill runs
    Then the drill passes
    And no orchestrator step called an API in us-east-1 that failed the failover
