# Staging: same shape and timings as production, smaller database; the monthly automated drill
# runs here (first Tuesday 10:00 UTC).

environment      = "staging"
name_prefix      = "drharness-stg"
primary_region   = "us-east-1"
secondary_region = "us-west-2"

# Replace with the staging account id before the first apply.
allowed_account_ids = ["222222222222"]

rto_target_seconds      = 900
rpo_target_seconds      = 60
failback_target_seconds = 1800

domain_name                    = "staging.drharness.example.com"
record_name                    = "app.staging.drharness.example.com"
health_check_request_interval  = 30
health_check_failure_threshold = 3
dns_ttl                        = 60
aggregator_schedule_expression = "rate(1 minute)"

aurora_instance_class       = "db.r6g.large"
aurora_instances_per_region = 1
aurora_engine_version       = "16.4"

aurora_replica_lag_alarm_threshold_ms           = 5000
dynamodb_replication_latency_alarm_threshold_ms = 5000
s3_replication_latency_alarm_threshold_s        = 60

s3_force_destroy   = true
log_retention_days = 365

primary_network = {
  subnet_ids                = ["subnet-0cccccccccccccc01", "subnet-0cccccccccccccc02"]
  lambda_security_group_ids = ["sg-0cccccccccccccc01"]
  db_security_group_ids     = ["sg-0cccccccccccccc02"]
}
secondary_network = {
  subnet_ids                = ["subnet-0dddddddddddddd01", "subnet-0dddddddddddddd02"]
  lambda_security_group_ids = ["sg-0dddddddddddddd01"]
  db_security_group_ids     = ["sg-0dddddddddddddd02"]
}

lambda_app_zip     = "../../../build/lambda/drharness-app.zip"
lambda_harness_zip = "../../../build/lambda/drharness-harness.zip"

# Monthly drill: EventBridge Scheduler (us-west-2) -> CodeBuild ->
#   drharness drill run --target aws --env infra/environments/staging
create_drill_scheduler    = true
drill_schedule_expression = "cron(0 10 ? * 3#1 *)"
drill_env_dir             = "infra/environments/staging"
drill_source_location     = "https://github.com/example-org/drharness.git"
terraform_state_bucket    = "drharness-tfstate-staging"
terraform_state_key       = "staging/terraform.tfstate"
