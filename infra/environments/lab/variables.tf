# Inputs of this environment. Names and meanings are the module's (see
# infra/modules/multi-region/README.md); the module validates the values.

variable "environment" {
  description = "Environment name, used in default tags."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
}

variable "primary_region" {
  description = "Region holding the writer in steady state."
  type        = string
}

variable "secondary_region" {
  description = "Disaster-recovery region."
  type        = string
}

variable "allowed_account_ids" {
  description = "Accounts this environment may be applied to (also enforced by the providers)."
  type        = list(string)
  default     = []
}

variable "domain_name" {
  description = "Public hosted zone of the failover record."
  type        = string
}

variable "record_name" {
  description = "Fully qualified failover record name."
  type        = string
}

variable "create_hosted_zone" {
  description = "Create the hosted zone (false: use hosted_zone_id)."
  type        = bool
  default     = true
}

variable "hosted_zone_id" {
  description = "Existing hosted zone id when create_hosted_zone = false."
  type        = string
  default     = null
}

variable "create_app_custom_domain" {
  description = "Custom domain (record_name) with ACM certificates on each regional HTTP API."
  type        = bool
  default     = true
}

variable "health_check_request_interval" {
  description = "Route 53 health check interval (10 or 30 s)."
  type        = number
}

variable "health_check_failure_threshold" {
  description = "Route 53 health check failure threshold (1-10)."
  type        = number
}

variable "dns_ttl" {
  description = "TTL of the failover records (30-60 s)."
  type        = number
}

variable "aggregator_schedule_expression" {
  description = "Schedule of the health check aggregator."
  type        = string
}

variable "rto_target_seconds" {
  description = "Recovery time objective (s)."
  type        = number
}

variable "rpo_target_seconds" {
  description = "Recovery point objective (s)."
  type        = number
}

variable "failback_target_seconds" {
  description = "Failback time objective (s)."
  type        = number
}

variable "aurora_instance_class" {
  description = "Aurora instance class (both regions)."
  type        = string
}

variable "aurora_instances_per_region" {
  description = "Aurora instances per regional cluster."
  type        = number
}

variable "aurora_engine_version" {
  description = "Aurora PostgreSQL engine version."
  type        = string
  default     = "16.4"
}

variable "lab_aggregator_period_s" {
  description = "How often the lab fires the aggregator schedule (the fast profile shortens aggregator_schedule_expression, as it shortens health check probing); set by `drharness lab up --provision terraform`."
  type        = number
  default     = 60
}

variable "aurora_database_name" {
  description = "Application database of the global cluster (the lab's PostgreSQL pair serves it)."
  type        = string
  default     = "orders"
}

variable "aurora_port" {
  description = "Port of both regional cluster endpoints: the lab's PostgreSQL proxy port (set by `drharness lab up --provision terraform`)."
  type        = number
  default     = 5432
}

variable "aurora_deletion_protection" {
  description = "Deletion protection on the Aurora clusters."
  type        = bool
  default     = true
}

variable "aurora_replica_lag_alarm_threshold_ms" {
  description = "Aurora global replication lag alarm threshold (ms)."
  type        = number
}

variable "dynamodb_replication_latency_alarm_threshold_ms" {
  description = "DynamoDB replication latency alarm threshold (ms)."
  type        = number
}

variable "s3_replication_latency_alarm_threshold_s" {
  description = "S3 replication latency alarm threshold (s)."
  type        = number
}

variable "create_dynamodb_replica" {
  description = "Create the DynamoDB replica in the secondary region."
  type        = bool
  default     = true
}

variable "dynamodb_deletion_protection" {
  description = "Deletion protection on the DynamoDB table."
  type        = bool
  default     = true
}

variable "s3_force_destroy" {
  description = "Allow destroying non-empty buckets."
  type        = bool
  default     = false
}

variable "primary_network" {
  description = "Subnets and security groups in the primary region (null = none)."
  type = object({
    subnet_ids                = list(string)
    lambda_security_group_ids = list(string)
    db_security_group_ids     = list(string)
  })
  default = null
}

variable "secondary_network" {
  description = "Subnets and security groups in the secondary region (null = none)."
  type = object({
    subnet_ids                = list(string)
    lambda_security_group_ids = list(string)
    db_security_group_ids     = list(string)
  })
  default = null
}

variable "lambda_app_zip" {
  description = "Path of the regional app zip (infra/scripts/build-lambda-zips.sh)."
  type        = string
}

variable "lambda_harness_zip" {
  description = "Path of the orchestrator/aggregator zip (infra/scripts/build-lambda-zips.sh)."
  type        = string
}

variable "lambda_layer_zip" {
  description = "Path of the dependencies layer zip (null = none)."
  type        = string
  default     = null
}

variable "create_drill_scheduler" {
  description = "Create the scheduled drill (CodeBuild + EventBridge Scheduler)."
  type        = bool
  default     = false
}

variable "drill_schedule_expression" {
  description = "Schedule of the drill."
  type        = string
  default     = "cron(0 10 ? * 3#1 *)"
}

variable "drill_env_dir" {
  description = "Environment directory the drill reads."
  type        = string
  default     = "infra/environments/staging"
}

variable "drill_source_location" {
  description = "Clone URL of the drharness repository for the drill."
  type        = string
  default     = null
}

variable "drill_report_bucket_name" {
  description = "Bucket for drill reports (null = logs only)."
  type        = string
  default     = null
}

variable "terraform_state_bucket" {
  description = "State bucket the drill runner may read (null = none)."
  type        = string
  default     = null
}

variable "terraform_state_key" {
  description = "State key of drill_env_dir."
  type        = string
  default     = null
}

variable "cloudfront_web_acl_arn" {
  description = "WAFv2 web ACL for the distribution (null = none)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the stack's log groups."
  type        = number
  default     = 365
}
