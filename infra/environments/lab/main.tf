# The local lab: the same module, with every AWS API pointed at the lab's region gateways (each
# forwards to one moto server and injects that region's faults). As in AWS, the global services
# (IAM, Route 53, CloudFront, and STS here) are served through the us-east-1 gateway, so an outage
# of us-east-1 also takes their control planes away.

variable "lab_endpoint_us_east_1" {
  description = "Base URL of the lab's us-east-1 region gateway (from .drharness/lab.json), e.g. http://127.0.1.1:4566."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.lab_endpoint_us_east_1))
    error_message = "lab_endpoint_us_east_1 must be an http(s) URL."
  }
}

variable "lab_endpoint_us_west_2" {
  description = "Base URL of the lab's us-west-2 region gateway (from .drharness/lab.json), e.g. http://127.0.2.1:4566."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.lab_endpoint_us_west_2))
    error_message = "lab_endpoint_us_west_2 must be an http(s) URL."
  }
}

locals {
  # Regional endpoint of each region; global services always through us-east-1.
  lab_regional = {
    primary   = var.lab_endpoint_us_east_1
    secondary = var.lab_endpoint_us_west_2
  }
  lab_global = var.lab_endpoint_us_east_1
}

provider "aws" {
  alias  = "primary"
  region = var.primary_region

  # moto accepts any credentials; nothing here can reach AWS.
  access_key                  = "lab"
  secret_key                  = "lab"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {
    acm                      = local.lab_regional.primary
    apigateway               = local.lab_regional.primary
    apigatewayv2             = local.lab_regional.primary
    cloudwatch               = local.lab_regional.primary
    logs                     = local.lab_regional.primary
    codebuild                = local.lab_regional.primary
    dynamodb                 = local.lab_regional.primary
    ec2                      = local.lab_regional.primary
    fis                      = local.lab_regional.primary
    kms                      = local.lab_regional.primary
    lambda                   = local.lab_regional.primary
    rds                      = local.lab_regional.primary
    resourcegroupstaggingapi = local.lab_regional.primary
    s3                       = local.lab_regional.primary
    scheduler                = local.lab_regional.primary
    secretsmanager           = local.lab_regional.primary
    sns                      = local.lab_regional.primary
    xray                     = local.lab_regional.primary
    cloudfront               = local.lab_global
    iam                      = local.lab_global
    route53                  = local.lab_global
    sts                      = local.lab_global
  }

  default_tags {
    tags = {
      Project     = "drharness"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region

  access_key                  = "lab"
  secret_key                  = "lab"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {
    acm                      = local.lab_regional.secondary
    apigateway               = local.lab_regional.secondary
    apigatewayv2             = local.lab_regional.secondary
    cloudwatch               = local.lab_regional.secondary
    logs                     = local.lab_regional.secondary
    codebuild                = local.lab_regional.secondary
    dynamodb                 = local.lab_regional.secondary
    ec2                      = local.lab_regional.secondary
    fis                      = local.lab_regional.secondary
    kms                      = local.lab_regional.secondary
    lambda                   = local.lab_regional.secondary
    rds                      = local.lab_regional.secondary
    resourcegroupstaggingapi = local.lab_regional.secondary
    s3                       = local.lab_regional.secondary
    scheduler                = local.lab_regional.secondary
    secretsmanager           = local.lab_regional.secondary
    sns                      = local.lab_regional.secondary
    xray                     = local.lab_regional.secondary
    cloudfront               = local.lab_global
    iam                      = local.lab_global
    route53                  = local.lab_global
    sts                      = local.lab_global
  }

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
  aurora_database_name                  = var.aurora_database_name
  aurora_port                           = var.aurora_port
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
