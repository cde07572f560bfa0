################################################################################
# General
################################################################################

variable "name_prefix" {
  description = "Prefix of every resource name (global cluster, table, buckets, functions, roles). Lowercase, 2-20 characters, so that derived names stay inside AWS length limits (S3 63, IAM role 64)."
  type        = string
  default     = "drharness"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix)) && !endswith(var.name_prefix, "-")
    error_message = "name_prefix must be 2-20 characters of a-z, 0-9 and '-', start with a letter and not end with '-'."
  }
}

variable "primary_region" {
  description = "Region that holds the writer in steady state (Aurora primary cluster, PRIMARY failover record)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9]$", var.primary_region))
    error_message = "primary_region must be an AWS region name such as us-east-1."
  }
}

variable "secondary_region" {
  description = "Disaster-recovery region (Aurora secondary cluster, DynamoDB replica, S3 replica bucket, SECONDARY failover record). Must differ from primary_region."
  type        = string
  default     = "us-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9]$", var.secondary_region))
    error_message = "secondary_region must be an AWS region name such as us-west-2."
  }

  validation {
    condition     = var.secondary_region != var.primary_region
    error_message = "secondary_region must differ from primary_region."
  }
}

variable "allowed_account_ids" {
  description = "AWS account ids this stack may be applied to (empty = any). The environments also pass it to the provider's allowed_account_ids."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every entry of allowed_account_ids must be a 12-digit AWS account id."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

################################################################################
# Recovery objectives (exported to the harness; the drill judges against them)
################################################################################

variable "rto_target_seconds" {
  description = "Recovery time objective in seconds: fault start to healthy writes in the surviving region."
  type        = number
  default     = 900

  validation {
    condition     = var.rto_target_seconds > 0 && floor(var.rto_target_seconds) == var.rto_target_seconds
    error_message = "rto_target_seconds must be a positive whole number of seconds."
  }
}

variable "rpo_target_seconds" {
  description = "Recovery point objective in seconds: the span of acknowledged writes that may be lost in an unplanned failover."
  type        = number
  default     = 60

  validation {
    condition     = var.rpo_target_seconds > 0 && floor(var.rpo_target_seconds) == var.rpo_target_seconds
    error_message = "rpo_target_seconds must be a positive whole number of seconds."
  }
}

variable "failback_target_seconds" {
  description = "Time objective in seconds for a planned failback to the primary region (zero data loss)."
  type        = number
  default     = 1800

  validation {
    condition     = var.failback_target_seconds > 0 && floor(var.failback_target_seconds) == var.failback_target_seconds
    error_message = "failback_target_seconds must be a positive whole number of seconds."
  }
}

################################################################################
# DNS / Route 53
################################################################################

variable "domain_name" {
  description = "Name of the public hosted zone that holds the failover record (e.g. drharness.example.com)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name without a trailing dot."
  }
}

variable "record_name" {
  description = "Fully qualified failover record name inside domain_name (e.g. app.drharness.example.com). Clients and the harness prober resolve this name."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.record_name))
    error_message = "record_name must be a lowercase fully qualified DNS name without a trailing dot."
  }

  validation {
    condition     = endswith(var.record_name, ".${var.domain_name}")
    error_message = "record_name must be a name inside domain_name (e.g. app.<domain_name>)."
  }
}

variable "create_hosted_zone" {
  description = "Create the public hosted zone for domain_name. Set to false and pass hosted_zone_id to use an existing zone."
  type        = bool
  default     = true
}

variable "hosted_zone_id" {
  description = "Id of an existing public hosted zone for domain_name (used only when create_hosted_zone = false)."
  type        = string
  default     = null

  validation {
    condition     = var.hosted_zone_id == null || can(regex("^Z[A-Z0-9]{1,31}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must look like a Route 53 zone id (Z followed by upper-case letters and digits)."
  }

  validation {
    condition     = var.create_hosted_zone || var.hosted_zone_id != null
    error_message = "hosted_zone_id is required when create_hosted_zone = false."
  }
}

variable "dns_ttl" {
  description = "TTL in seconds of the PRIMARY/SECONDARY failover records. Bounds how long resolvers keep answering the failed region after Route 53 flips."
  type        = number
  default     = 60

  validation {
    condition     = var.dns_ttl >= 30 && var.dns_ttl <= 60 && floor(var.dns_ttl) == var.dns_ttl
    error_message = "dns_ttl must be a whole number between 30 and 60 seconds (failover needs a short TTL; below 30 multiplies resolver load for no gain)."
  }
}

variable "health_check_request_interval" {
  description = "Seconds between two Route 53 health checker probes of each regional /health endpoint. Route 53 accepts only 10 (fast, extra cost) or 30 (standard)."
  type        = number
  default     = 30

  validation {
    condition     = contains([10, 30], var.health_check_request_interval)
    error_message = "health_check_request_interval must be 10 or 30 (the only values Route 53 accepts)."
  }
}

variable "health_check_failure_threshold" {
  description = "Consecutive failed probes before Route 53 marks a region unhealthy (detection floor = interval x threshold)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_failure_threshold >= 1 && var.health_check_failure_threshold <= 10 && floor(var.health_check_failure_threshold) == var.health_check_failure_threshold
    error_message = "health_check_failure_threshold must be a whole number from 1 to 10 (Route 53 limit)."
  }
}

variable "health_check_path" {
  description = "Path of the deep health endpoint of the regional app (DB writable, DynamoDB, S3)."
  type        = string
  default     = "/health"

  validation {
    condition     = startswith(var.health_check_path, "/") && length(var.health_check_path) <= 255
    error_message = "health_check_path must start with '/' and be at most 255 characters (Route 53 limit)."
  }
}

variable "health_check_regions" {
  description = "Route 53 health checker regions (e.g. us-east-1, us-west-1, us-west-2, eu-west-1). Empty = the Route 53 default set."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.health_check_regions) == 0 || length(var.health_check_regions) >= 3
    error_message = "health_check_regions must be empty (AWS default) or list at least 3 checker regions (Route 53 minimum)."
  }
}

variable "create_app_custom_domain" {
  description = "Give each regional HTTP API a custom domain named record_name (ACM certificate per region, DNS-validated in the zone) so that HTTPS through the failover name presents a valid certificate. Off in the local lab, which has no ACM."
  type        = bool
  default     = true
}

################################################################################
# Aurora Global Database
################################################################################

variable "aurora_engine_version" {
  description = "Aurora PostgreSQL engine version; must be a version that supports Aurora Global Database and is offered in both regions."
  type        = string
  default     = "16.4"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+$", var.aurora_engine_version))
    error_message = "aurora_engine_version must look like MAJOR.MINOR, e.g. 16.4."
  }
}

variable "aurora_instance_class" {
  description = "Instance class of every Aurora instance in both regions. Global Database needs a memory-optimized class (db.r*) outside of test stacks."
  type        = string
  default     = "db.r6g.large"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.aurora_instance_class))
    error_message = "aurora_instance_class must look like db.<family>.<size>, e.g. db.r6g.large."
  }
}

variable "aurora_instances_per_region" {
  description = "Number of Aurora instances per regional cluster (the secondary must be able to take the writer role at full load, so both regions get the same count)."
  type        = number
  default     = 2

  validation {
    condition     = var.aurora_instances_per_region >= 1 && var.aurora_instances_per_region <= 16 && floor(var.aurora_instances_per_region) == var.aurora_instances_per_region
    error_message = "aurora_instances_per_region must be a whole number from 1 to 16 (Aurora: 1 writer + up to 15 readers)."
  }
}

variable "aurora_database_name" {
  description = "Name of the application database created in the global cluster."
  type        = string
  default     = "orders"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.aurora_database_name))
    error_message = "aurora_database_name must start with a letter and hold up to 63 lowercase letters, digits or underscores."
  }
}

variable "aurora_master_username" {
  description = "Master user name of the global cluster. Its generated password is written once to Secrets Manager (replicated to the secondary region) and never stored in Terraform state."
  type        = string
  default     = "drharness_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.aurora_master_username)) && !contains(["postgres", "rdsadmin", "admin"], var.aurora_master_username)
    error_message = "aurora_master_username must start with a letter, hold up to 63 lowercase letters, digits or underscores, and not be a reserved name."
  }
}

variable "aurora_master_password_version" {
  description = "Bump to rotate the master password: a new one is generated and written to both the cluster and the secret."
  type        = number
  default     = 1

  validation {
    condition     = var.aurora_master_password_version >= 1 && floor(var.aurora_master_password_version) == var.aurora_master_password_version
    error_message = "aurora_master_password_version must be a positive whole number."
  }
}

variable "aurora_port" {
  description = "PostgreSQL port of both regional clusters."
  type        = number
  default     = 5432

  validation {
    condition     = var.aurora_port >= 1150 && var.aurora_port <= 65535
    error_message = "aurora_port must be between 1150 and 65535 (RDS limit)."
  }
}

variable "aurora_backup_retention_days" {
  description = "Automated backup retention of the regional clusters, in days."
  type        = number
  default     = 7

  validation {
    condition     = var.aurora_backup_retention_days >= 1 && var.aurora_backup_retention_days <= 35
    error_message = "aurora_backup_retention_days must be between 1 and 35 (RDS limit)."
  }
}

variable "aurora_deletion_protection" {
  description = "Deletion protection on the global cluster and both regional clusters."
  type        = bool
  default     = true
}

variable "aurora_replica_lag_alarm_threshold_ms" {
  description = "AuroraGlobalDBReplicationLag (milliseconds, Maximum over 1 minute) above which the lag alarm fires. Keep it well below rpo_target_seconds x 1000."
  type        = number
  default     = 5000

  validation {
    condition     = var.aurora_replica_lag_alarm_threshold_ms > 0
    error_message = "aurora_replica_lag_alarm_threshold_ms must be positive."
  }
}

variable "primary_network" {
  description = "Network of the primary region: private subnets (at least two AZs) for Aurora and the app Lambda, and their security groups. null = default VPC for Aurora and no VPC for the Lambda (lab only). Tag the subnets drharness:fis-target=region-outage to make them targets of the region-outage experiment."
  type = object({
    subnet_ids                = list(string)
    lambda_security_group_ids = list(string)
    db_security_group_ids     = list(string)
  })
  default = null

  validation {
    condition     = var.primary_network == null || try(length(var.primary_network.subnet_ids) >= 2, false)
    error_message = "primary_network.subnet_ids must list at least two subnets (Aurora needs two availability zones)."
  }
}

variable "secondary_network" {
  description = "Network of the secondary region, same shape as primary_network."
  type = object({
    subnet_ids                = list(string)
    lambda_security_group_ids = list(string)
    db_security_group_ids     = list(string)
  })
  default = null

  validation {
    condition     = var.secondary_network == null || try(length(var.secondary_network.subnet_ids) >= 2, false)
    error_message = "secondary_network.subnet_ids must list at least two subnets (Aurora needs two availability zones)."
  }
}

################################################################################
# DynamoDB global table
################################################################################

variable "create_dynamodb_replica" {
  description = "Create the replica of the table in secondary_region (global tables version 2019.11.21). The table itself is always created in primary_region."
  type        = bool
  default     = true
}

variable "dynamodb_hash_key" {
  description = "Partition key (type S) of the orders table."
  type        = string
  default     = "pk"
}

variable "dynamodb_range_key" {
  description = "Sort key (type S) of the orders table; null = none (the app and the canary key items by the partition key alone)."
  type        = string
  default     = null
}

variable "dynamodb_deletion_protection" {
  description = "Deletion protection on the table."
  type        = bool
  default     = true
}

variable "dynamodb_replication_latency_alarm_threshold_ms" {
  description = "DynamoDB ReplicationLatency (milliseconds, Average over 1 minute) above which the latency alarm fires."
  type        = number
  default     = 5000

  validation {
    condition     = var.dynamodb_replication_latency_alarm_threshold_ms > 0
    error_message = "dynamodb_replication_latency_alarm_threshold_ms must be positive."
  }
}

################################################################################
# S3 cross-region replication
################################################################################

variable "s3_bidirectional_replication" {
  description = "Also replicate secondary -> primary (with replica modification sync), so that objects written after a failover flow back before failback."
  type        = bool
  default     = true
}

variable "s3_noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions expire in the data buckets."
  type        = number
  default     = 90

  validation {
    condition     = var.s3_noncurrent_version_expiration_days >= 1
    error_message = "s3_noncurrent_version_expiration_days must be at least 1."
  }
}

variable "s3_force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets (test stacks only)."
  type        = bool
  default     = false
}

variable "s3_replication_latency_alarm_threshold_s" {
  description = "S3 ReplicationLatency (seconds, Maximum over 1 minute) above which the latency alarm fires. S3 RTC's SLA is 900 s."
  type        = number
  default     = 900

  validation {
    condition     = var.s3_replication_latency_alarm_threshold_s > 0
    error_message = "s3_replication_latency_alarm_threshold_s must be positive."
  }
}

variable "s3_operations_pending_alarm_threshold" {
  description = "S3 OperationsPendingReplication (count, Maximum over 1 minute) above which the backlog alarm fires."
  type        = number
  default     = 1000

  validation {
    condition     = var.s3_operations_pending_alarm_threshold > 0
    error_message = "s3_operations_pending_alarm_threshold must be positive."
  }
}

################################################################################
# Lambda (regional app, failover orchestrator, health check aggregator)
################################################################################

variable "lambda_app_zip" {
  description = "Path of the ONE zip deployed as the regional app in both regions (built by infra/scripts/build-lambda-zips.sh)."
  type        = string

  validation {
    condition     = endswith(var.lambda_app_zip, ".zip")
    error_message = "lambda_app_zip must be the path of a .zip file."
  }
}

variable "lambda_harness_zip" {
  description = "Path of the zip holding failover_orchestrator.py, health_check_aggregator.py and the drharness package (built by infra/scripts/build-lambda-zips.sh)."
  type        = string

  validation {
    condition     = endswith(var.lambda_harness_zip, ".zip")
    error_message = "lambda_harness_zip must be the path of a .zip file."
  }
}

variable "lambda_layer_zip" {
  description = "Optional path of a dependencies layer zip (python/ at its root). Published in both regions and attached to every function. null = no layer."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_layer_zip == null || endswith(coalesce(var.lambda_layer_zip, "x.zip"), ".zip")
    error_message = "lambda_layer_zip must be null or the path of a .zip file."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of every function."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.lambda_runtime))
    error_message = "lambda_runtime must be a Python runtime such as python3.12."
  }
}

variable "lambda_app_handler" {
  description = "Handler of the regional app inside lambda_app_zip."
  type        = string
  default     = "drharness.refapp.handler.lambda_handler"
}

variable "lambda_app_memory_mb" {
  description = "Memory of the regional app function (MB)."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_app_memory_mb >= 128 && var.lambda_app_memory_mb <= 10240
    error_message = "lambda_app_memory_mb must be between 128 and 10240 (Lambda limit)."
  }
}

variable "lambda_app_timeout_s" {
  description = "Timeout of the regional app function; API Gateway HTTP APIs give up after 30 s."
  type        = number
  default     = 10

  validation {
    condition     = var.lambda_app_timeout_s >= 1 && var.lambda_app_timeout_s <= 30
    error_message = "lambda_app_timeout_s must be between 1 and 30 seconds (HTTP API integration limit)."
  }
}

variable "lambda_app_reserved_concurrency" {
  description = "Reserved concurrency of the regional app in each region. The secondary must be able to take the full load after failover."
  type        = number
  default     = 100

  validation {
    condition     = var.lambda_app_reserved_concurrency >= 1
    error_message = "lambda_app_reserved_concurrency must be at least 1."
  }
}

variable "lambda_app_environment" {
  description = "Extra environment variables of the regional app (same in both regions)."
  type        = map(string)
  default     = {}
}

variable "aggregator_schedule_expression" {
  description = "EventBridge Scheduler expression that runs the health check aggregator in each region (it publishes drharness/RegionHealthy)."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate\\([0-9]+ (minute|minutes|hour|hours)\\)|cron\\(.+\\))$", var.aggregator_schedule_expression))
    error_message = "aggregator_schedule_expression must be rate(N minute[s]|hour[s]) or cron(...)."
  }
}

variable "enable_automated_failover" {
  description = "Subscribe the failover orchestrator to the peer-health alarm of its region, so that a failed primary is failed over without a human."
  type        = bool
  default     = true
}

variable "region_health_evaluation_periods" {
  description = "Consecutive 1-minute periods of RegionHealthy < 1 before the region health alarms fire."
  type        = number
  default     = 3

  validation {
    condition     = var.region_health_evaluation_periods >= 1 && var.region_health_evaluation_periods <= 10
    error_message = "region_health_evaluation_periods must be between 1 and 10."
  }
}

variable "dns_health_alarm_evaluation_periods" {
  description = "1-minute periods of RegionHealthy < 1 (as published by the aggregator in the secondary region) before a region's record leaves DNS. The aggregator already confirms an unhealthy verdict with a second look before publishing it; keep this x 60 s within the Route 53 detection budget (health_check_request_interval x health_check_failure_threshold)."
  type        = number
  default     = 1

  validation {
    condition     = var.dns_health_alarm_evaluation_periods >= 1 && var.dns_health_alarm_evaluation_periods <= 5 && floor(var.dns_health_alarm_evaluation_periods) == var.dns_health_alarm_evaluation_periods
    error_message = "dns_health_alarm_evaluation_periods must be a whole number from 1 to 5."
  }
}

variable "dns_health_insufficient_data_status" {
  description = "Route 53 InsufficientDataHealthStatus of the CLOUDWATCH_METRIC health checks on the DNS alarms. LastKnownStatus (default): an alarm without data (aggregator or CloudWatch of the secondary region down) says nothing about the region judged, so it neither fails a healthy region out of DNS nor forgets a failure already seen; the HTTP child check still catches hard outages."
  type        = string
  default     = "LastKnownStatus"

  validation {
    condition     = contains(["Healthy", "Unhealthy", "LastKnownStatus"], var.dns_health_insufficient_data_status)
    error_message = "dns_health_insufficient_data_status must be Healthy, Unhealthy or LastKnownStatus."
  }
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group created here."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

################################################################################
# CloudFront
################################################################################

variable "cloudfront_price_class" {
  description = "CloudFront price class of the edge distribution."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_All", "PriceClass_200", "PriceClass_100"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_All, PriceClass_200 or PriceClass_100."
  }
}

variable "cloudfront_web_acl_arn" {
  description = "ARN of a WAFv2 web ACL (scope CLOUDFRONT, us-east-1) to attach to the distribution; null = none."
  type        = string
  default     = null
}

variable "edge_write_path_patterns" {
  description = "Path patterns whose requests may write (POST/PUT/PATCH/DELETE). CloudFront origin groups only fail over GET/HEAD/OPTIONS, so these go to the origin behind the Route 53 failover name instead."
  type        = list(string)
  default     = ["/orders*"]
}

################################################################################
# Fault Injection Service
################################################################################

variable "fis_experiment_duration" {
  description = "ISO 8601 duration of each FIS fault action (PT1M..PT12H)."
  type        = string
  default     = "PT10M"

  validation {
    condition     = can(regex("^PT([1-9][0-9]*M|([1-9]|1[0-2])H)$", var.fis_experiment_duration))
    error_message = "fis_experiment_duration must be an ISO 8601 duration in minutes or hours between PT1M and PT12H, e.g. PT10M."
  }
}

variable "fis_control_plane_operations" {
  description = "EC2 API operations failed by the control-plane-impairment experiment (aws:fis:inject-api-* supports only the ec2 namespace)."
  type        = string
  default     = "DescribeInstances,DescribeNetworkInterfaces,CreateNetworkInterface,DescribeSubnets"
}

################################################################################
# Drill scheduler
################################################################################

variable "create_drill_scheduler" {
  description = "Create the scheduled drill: an EventBridge schedule in the secondary region starting a CodeBuild project that runs `drharness drill run --target aws`."
  type        = bool
  default     = true
}

variable "drill_schedule_expression" {
  description = "EventBridge Scheduler expression of the drill (default: 10:00 on the first Tuesday of each month)."
  type        = string
  default     = "cron(0 10 ? * 3#1 *)"

  validation {
    condition     = can(regex("^(cron\\(.+\\)|rate\\(.+\\)|at\\(.+\\))$", var.drill_schedule_expression))
    error_message = "drill_schedule_expression must be cron(...), rate(...) or at(...)."
  }
}

variable "drill_schedule_timezone" {
  description = "IANA time zone of drill_schedule_expression."
  type        = string
  default     = "UTC"
}

variable "drill_scenario" {
  description = "Scenario the scheduled drill runs."
  type        = string
  default     = "region-outage"

  validation {
    condition     = contains(["region-outage", "planned-switchover", "aurora-writer-failure", "dynamodb-replication-pause", "s3-replication-pause", "dns-failover", "control-plane-impairment", "failback", "load-during-failover"], var.drill_scenario)
    error_message = "drill_scenario must be one of the scenario names of DESIGN.md section 8."
  }
}

variable "drill_env_dir" {
  description = "Environment directory (relative to the repository root) whose `terraform output -json` the drill reads."
  type        = string
  default     = "infra/environments/staging"
}

variable "drill_source_type" {
  description = "CodeBuild source type of the drharness repository."
  type        = string
  default     = "GITHUB"

  validation {
    condition     = contains(["GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET", "CODECOMMIT", "S3", "GITLAB", "GITLAB_SELF_MANAGED"], var.drill_source_type)
    error_message = "drill_source_type must be a CodeBuild source type with a location (GITHUB, GITHUB_ENTERPRISE, BITBUCKET, CODECOMMIT, S3, GITLAB, GITLAB_SELF_MANAGED)."
  }
}

variable "drill_source_location" {
  description = "Location (clone URL, or bucket/key for S3) of the drharness repository the drill checks out. Required when create_drill_scheduler = true."
  type        = string
  default     = null

  validation {
    condition     = !var.create_drill_scheduler || var.drill_source_location != null
    error_message = "create_drill_scheduler = true needs drill_source_location (the drharness repository the drill checks out)."
  }
}

variable "drill_source_version" {
  description = "Branch, tag or commit the drill checks out."
  type        = string
  default     = "main"
}

variable "drill_terraform_version" {
  description = "Terraform version the drill installs to read the environment's outputs."
  type        = string
  default     = "1.11.4"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.drill_terraform_version))
    error_message = "drill_terraform_version must look like 1.11.4."
  }
}

variable "drill_report_bucket_name" {
  description = "Existing bucket (in the secondary region) that receives drill reports as CodeBuild artifacts; null = reports stay in the build logs."
  type        = string
  default     = null
}

variable "terraform_state_bucket" {
  description = "Bucket of the Terraform state of drill_env_dir (the drill runner may read it); null = no state access granted."
  type        = string
  default     = null
}

variable "terraform_state_key" {
  description = "Key of the state object of drill_env_dir in terraform_state_bucket."
  type        = string
  default     = null
}
