Feature: Planned switchover loses nothing
  A planned switchover (maintenance, drills) must lose zero acknowledged writes and keep
  customer-facing reads error free.

  Scenario Outline: Zero data loss for <store> on a planned switchover
    Given the two-region stack is healthy with us-east-1 as the writer
    When the "planned-switchover" experiment runs
    Then the experiment completes without deviating from its steady state
    And acknowledged <store> writes were made during the run
    And no acknowledged <store> write was lost

    Examples:
      | store    |
      | aurora   |
      | dynamodb |
      | s3       |

  Scenario: Customer reads through the CDN see no errors during a planned switchover
    Given the two-region stack is healthy with us-east-1 as the writer
    When customers read through the CDN while a planned switchover runs
    Then no customer read failed
