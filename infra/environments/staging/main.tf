# Two providers, one per region; the module creates every regional resource with the matching one.
# Global services (IAM, Route 53, CloudFront) go through the primary provider.

provider "aws" {
  alias               = "primary"
  region              = var.primary_region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "drharness"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

provider "aws" {
  alias               = "secondary"
  region              = var.secondary_region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "drharness"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

module "multi_region" {
  source = "../../modules/multi-region"

  providers = {
    aws.primary   = aws.primary
    aws.secondary = aws.secondary
  }

  name_prefix         = var.name_prefix
  primary_region      = var.primary_region
  secondary_region    = var.secondary_region
  allowed_account_ids = var.allowed_account_ids

  rto_target_seconds      = var.rto_target_seconds
  rpo_target_seconds      = var.rpo_target_seconds
  failback_target_seconds = var.failback_target_seconds

  domain_name                    = var.domain_name
  record_name                    = var.record_name
  create_hosted_zone             = var.create_hosted_zone
  hosted_zone_id                 = var.hosted_zone_id
  create_app_custom_domain       = var.create_app_custom_domain
  health_check_request_interval  = var.health_check_request_interval
  health_check_failure_threshold = var.health_check_failure_threshold
  dns_ttl                        = var.dns_ttl

  aurora_engine_version                 = var.aurora_engine_version
  aurora_instance_class                 = var.aurora_instance_class
  aurora_instances_per_region           = var.aurora_instances_per_region
  aurora_deletion_protection            = var.aurora_deletion_protection
  aurora_replica_lag_alarm_threshold_ms = var.aurora_replica_lag_alarm_threshold_ms
  primary_network                       = var.primary_network
  secondary_network                     = var.secondary_network

  create_dynamodb_replica                         = var.create_dynamodb_replica
  dynamodb_deletion_protection                    = var.dynamodb_deletion_protection
  dynamodb_replication_latency_alarm_threshold_ms = var.dynamodb_replication_latency_alarm_threshold_ms

  s3_force_destroy                         = var.s3_force_destroy
  s3_replication_latency_alarm_threshold_s = var.s3_replication_latency_alarm_threshold_s

  lambda_app_zip                 = var.lambda_app_zip
  lambda_harness_zip             = var.lambda_harness_zip
  lambda_layer_zip               = var.lambda_layer_zip
  aggregator_schedule_expression = var.aggregator_schedule_expression
  log_retention_days             = var.log_retention_days

  cloudfront_web_acl_arn = var.cloudfront_web_acl_arn

  create_drill_scheduler    = var.create_drill_scheduler
  drill_schedule_expression = var.drill_schedule_expression
  drill_env_dir             = var.drill_env_dir
  drill_source_location     = var.drill_source_location
  drill_report_bucket_name  = var.drill_report_bucket_name
  terraform_state_bucket    = var.terraform_state_bucket
  terraform_state_key       = var.terraform_state_key

  tags = {
    Environment = var.environment
  }
}
