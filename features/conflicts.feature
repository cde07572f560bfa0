Feature: DynamoDB global table conflict resolution
  Concurrent writes to one key in both regions converge to the last writer in both regions.

  Scenario Outline: Conflicting writes converge to the last writer (<first> then <second>)
    Given the two-region stack is healthy with us-east-1 as the writer
    When <first> and then <second> write the same key while replication is paused
    And replication resumes
    Then both regions hold the value written by <second>

    Examples:
      | first     | second    |
      | us-east-1 | us-west-2 |
      | us-west-2 | us-east-1 |
