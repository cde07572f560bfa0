# Local lab: the production timings (interval 30, threshold 3, TTL 60) so that `terraform apply`
# against the lab stores the same health check and record settings as production. The lab's
# `fast` profile shortens the probing and the answered TTL, not these stored values.
# lab_endpoint_us_east_1 / lab_endpoint_us_west_2 / aurora_port / lab_aggregator_period_s come from
# the running lab: `drharness lab up --provision terraform` writes them to lab.auto.tfvars.json.

environment      = "lab"
name_prefix      = "drharness"
primary_region   = "us-east-1"
secondary_region = "us-west-2"

rto_target_seconds      = 900
rpo_target_seconds      = 60
failback_target_seconds = 1800

domain_name                    = "drharness.lab"
record_name                    = "app.drharness.lab"
health_check_request_interval  = 30
health_check_failure_threshold = 3
dns_ttl                        = 60
aggregator_schedule_expression = "rate(1 minute)"

# No ACM in the lab; the lab's DNS answers the record with the regional gateway hosts.
create_app_custom_domain = false

aurora_instance_class       = "db.r6g.large"
aurora_instances_per_region = 1
# The lab's PostgreSQL pair serves the application from its `postgres` database.
aurora_database_name = "postgres"

aurora_replica_lag_alarm_threshold_ms           = 5000
dynamodb_replication_latency_alarm_threshold_ms = 5000
s3_replication_latency_alarm_threshold_s        = 900

# A real global table: the lab's gateway creates the replica the `replica` block asks for (moto
# alone never would) and the lab's replicator replicates between the two regional tables.
create_dynamodb_replica = true
s3_force_destroy        = true

# Deletion protection stays on, as in production: `drharness lab down` throws the whole lab away
# (moto's state with it), so nothing here is ever destroyed through Terraform.

lambda_app_zip     = "../../../build/lambda/drharness-app.zip"
lambda_harness_zip = "../../../build/lambda/drharness-harness.zip"

create_drill_scheduler = false
