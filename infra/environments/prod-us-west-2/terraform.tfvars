# Production: us-east-1 primary, us-west-2 disaster recovery.
# One "name = value" per line for the values the harness reads (src/drharness/lab/config.py).

environment      = "prod"
name_prefix      = "drharness-prod"
primary_region   = "us-east-1"
secondary_region = "us-west-2"

# Replace with the production account id before the first apply.
allowed_account_ids = ["111111111111"]

# Recovery objectives (seconds)
rto_target_seconds      = 900
rpo_target_seconds      = 60
failback_target_seconds = 1800

# DNS failover: detection floor = 30 s x 3 = 90 s, then up to 60 s of resolver caching
domain_name                    = "drharness.example.com"
record_name                    = "app.drharness.example.com"
health_check_request_interval  = 30
health_check_failure_threshold = 3
dns_ttl                        = 60
aggregator_schedule_expression = "rate(1 minute)"

# Aurora Global Database: the secondary is sized like the primary so it can take the full load
aurora_instance_class       = "db.r6g.large"
aurora_instances_per_region = 2
aurora_engine_version       = "16.4"

# Alarm thresholds (well inside the RPO of 60 s)
aurora_replica_lag_alarm_threshold_ms           = 5000
dynamodb_replication_latency_alarm_threshold_ms = 5000
s3_replication_latency_alarm_threshold_s        = 60

# Existing private subnets (two AZs per region, tagged drharness:stack=drharness-prod and
# drharness:fis-target=region-outage) and security groups. Replace with the real ids.
primary_network = {
  subnet_ids                = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
  lambda_security_group_ids = ["sg-0aaaaaaaaaaaaaaa1"]
  db_security_group_ids     = ["sg-0aaaaaaaaaaaaaaa2"]
}
secondary_network = {
  subnet_ids                = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]
  lambda_security_group_ids = ["sg-0bbbbbbbbbbbbbbb1"]
  db_security_group_ids     = ["sg-0bbbbbbbbbbbbbbb2"]
}

# Built by infra/scripts/build-lambda-zips.sh (paths relative to this directory)
lambda_app_zip     = "../../../build/lambda/drharness-app.zip"
lambda_harness_zip = "../../../build/lambda/drharness-harness.zip"

# Production is drilled on game days by hand; the monthly automated drill runs against staging.
create_drill_scheduler = false
