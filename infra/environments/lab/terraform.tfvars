# Local lab: the production timings (interval 30, threshold 3, TTL 60) so that `terraform apply`
# against the lab stores the same health check and record settings as production. The lab's
# `fast` profile shortens the probing itself, not these stored values.
# lab_endpoint_us_east_1 / lab_endpoint_us_west_2 come from the running lab (-var or TF_VAR_*).

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

aurora_replica_lag_alarm_threshold_ms           = 5000
dynamodb_replication_latency_alarm_threshold_ms = 5000
s3_replication_latency_alarm_threshold_s        = 900

# moto accepts a replica block but never creates the replica (the apply would hang); the lab's
# replicator does the replication between the two regional tables instead.
create_dynamodb_replica = false
s3_force_destroy        = true

lambda_app_zip     = "../../../build/lambda/drharness-app.zip"
lambda_harness_zip = "../../../build/lambda/drharness-harness.zip"

create_drill_scheduler = false
