Feature: Automated failover succeeds in more than 95 % of runs
  Objective: automated failover (health checks and the aggregator detect, the orchestrator decides
  and fails over, nobody clicks) succeeds in more than 95 % of runs. A run succeeds when every check
  of its region-outage experiment passes: RTO < 15 min, RPO < 1 min per store, no stale DNS past the
  TTL, error budget, replication lag, failback < 30 min, and the experiment completed.

  How many runs here: one region-outage run (fault, automated failover, read-back, failback) takes
  about 20 s on the fast lab. N = 2, both the runs this test session already makes and the other
  features judge, in the order they ran: the Chaos Toolkit experiment (`chaos run`) and the drill
  runner (`drharness drill run`), two entry points over the same fault, aggregator, orchestrator and
  checkers. Two runs can refute the objective (one failure in two is 50 %) but cannot demonstrate
  it: with no failure at all, the one-sided 95 % Wilson lower bound exceeds 95 % only after 52
  consecutive successes. That demonstration comes from the archive of drills (monthly drills and CI
  runs), judged by the same checker in `drharness report --history`.

  Scenario: Two automated region-outage failovers in a row both succeed
    Given the two-region stack is healthy with us-east-1 as the writer
    When this session's "region-outage" experiment run and drill run are counted as 2 runs in a row
    Then each run's outcome is recorded in the runs history
    And the success-rate checker does not refute "more than 95 %" over the 2 runs
    And the report says 52 consecutive successes are needed to demonstrate 95 % at 95 % confidence
    And the archived runs summarised by "drharness report --history" get the same success-rate verdict
