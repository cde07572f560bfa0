################################################################################
# The aws Target contract (schema drharness.target/1). `drharness --target aws --env DIR` builds its
# Target from `terraform output -json` of an environment, which re-exports this object unchanged.
################################################################################

locals {
  # Per-region part shared by the contract and the Lambda copy (DRHARNESS_TARGET_JSON).
  target_regions_core = {
    for key, region in local.regions : region => {
      app_url         = local.app_urls[key]
      health_check_id = local.health_check_ids[key]
      aurora = {
        cluster_id      = local.aurora[key].cluster_id
        cluster_arn     = local.aurora[key].cluster_arn
        writer_endpoint = local.aurora[key].writer_endpoint
        reader_endpoint = local.aurora[key].reader_endpoint
        port            = var.aurora_port
        database        = var.aurora_database_name
        username        = var.aurora_master_username
        secret_arn      = local.secret_arns[key]
      }
      dynamodb_table       = local.table_name
      s3_bucket            = local.bucket_names[key]
      lambda_function_name = local.function_names.app
      sns_topic_arn        = local.sns_topic_arns[key]
    }
  }

  target_dns = {
    zone_id                        = local.zone_id
    zone_name                      = var.domain_name
    record_name                    = var.record_name
    ttl                            = var.dns_ttl
    health_check_request_interval  = var.health_check_request_interval
    health_check_failure_threshold = var.health_check_failure_threshold
    # The DNS alarm each failover record's health check follows (monitoring.tf): behind the RTO floor.
    alarm_period_s            = 60
    alarm_datapoints_to_alarm = var.dns_health_alarm_evaluation_periods
  }

  # Longest gap between two aggregator runs (rate() expressions; a cron() schedule is taken as 60 s).
  aggregator_period_s = try(
    tonumber(regex("^rate\\(([0-9]+) minutes?\\)$", var.aggregator_schedule_expression)[0]) * 60,
    tonumber(regex("^rate\\(([0-9]+) hours?\\)$", var.aggregator_schedule_expression)[0]) * 3600,
    60,
  )

  # Read from the resources (not from local.alarm_names) so the contract only lists alarms that exist.
  contract_alarm_names = {
    primary = {
      aurora_lag       = aws_cloudwatch_metric_alarm.aurora_lag_primary.alarm_name
      dynamodb_latency = aws_cloudwatch_metric_alarm.dynamodb_latency_primary.alarm_name
      s3_latency       = aws_cloudwatch_metric_alarm.s3_latency_primary.alarm_name
      region_health    = aws_cloudwatch_metric_alarm.region_health_primary.alarm_name
      dns_health       = aws_cloudwatch_metric_alarm.dns_health_primary.alarm_name
    }
    secondary = {
      aurora_lag       = aws_cloudwatch_metric_alarm.aurora_lag_secondary.alarm_name
      dynamodb_latency = aws_cloudwatch_metric_alarm.dynamodb_latency_secondary.alarm_name
      s3_latency       = aws_cloudwatch_metric_alarm.s3_latency_secondary.alarm_name
      region_health    = aws_cloudwatch_metric_alarm.region_health_secondary.alarm_name
      dns_health       = aws_cloudwatch_metric_alarm.dns_health_secondary.alarm_name
    }
  }

  lambda_target = {
    schema            = "drharness.target/1"
    primary_region    = var.primary_region
    secondary_region  = var.secondary_region
    account_id        = local.account_id
    dns               = local.target_dns
    global_cluster_id = aws_rds_global_cluster.this.id
    regions           = local.target_regions_core
  }

  drharness_target = {
    schema              = "drharness.target/1"
    primary_region      = var.primary_region
    secondary_region    = var.secondary_region
    account_id          = local.account_id
    dns                 = local.target_dns
    global_cluster_id   = aws_rds_global_cluster.this.id
    edge_url            = "https://${aws_cloudfront_distribution.this.domain_name}"
    aggregator_period_s = local.aggregator_period_s
    regions = {
      for key, region in local.regions : region => merge(local.target_regions_core[region], {
        fis_template_ids = local.fis_template_ids[key]
        alarm_names      = local.contract_alarm_names[key]
        # What the failover name resolves to (through its CNAME) while this region serves: the
        # harness maps DNS answers to regions with it.
        dns_answer = local.failover_targets[key]
      })
    }
  }
}

output "drharness_target" {
  description = "The aws Target contract (schema drharness.target/1): every address the harness needs, per region. Keys: schema, primary_region, secondary_region, account_id, dns{zone_id, zone_name, record_name, ttl, health_check_request_interval, health_check_failure_threshold, alarm_period_s, alarm_datapoints_to_alarm}, global_cluster_id, edge_url, aggregator_period_s, regions{<region>{app_url, health_check_id (the CALCULATED check of the failover record), dns_answer, aurora{cluster_id, cluster_arn, writer_endpoint, reader_endpoint, port, database, username, secret_arn}, dynamodb_table, s3_bucket, lambda_function_name, sns_topic_arn, fis_template_ids{<scenario>}, alarm_names{aurora_lag, dynamodb_latency, s3_latency, region_health, dns_health}}}."
  value       = local.drharness_target
}

################################################################################
# Recovery objectives
################################################################################

output "slo" {
  description = "Recovery objectives the drill judges against: rto_s, rpo_s, failback_s (seconds)."
  value = {
    rto_s      = var.rto_target_seconds
    rpo_s      = var.rpo_target_seconds
    failback_s = var.failback_target_seconds
  }
}

################################################################################
# Individual outputs
################################################################################

output "account_id" {
  description = "AWS account id the stack is deployed in."
  value       = local.account_id
}

output "primary_region" {
  description = "Region holding the writer in steady state."
  value       = var.primary_region
}

output "secondary_region" {
  description = "Disaster-recovery region."
  value       = var.secondary_region
}

output "hosted_zone_id" {
  description = "Route 53 hosted zone id holding the failover record."
  value       = local.zone_id
}

output "hosted_zone_name_servers" {
  description = "Name servers of the created zone (delegate domain_name to them); empty when an existing zone is used."
  value       = var.create_hosted_zone ? aws_route53_zone.this[0].name_servers : []
}

output "record_name" {
  description = "Failover DNS name clients resolve."
  value       = var.record_name
}

output "health_check_ids" {
  description = "Route 53 health check id per region: the CALCULATED check of the failover record (HTTP /health AND the aggregated verdict)."
  value       = { for key, region in local.regions : region => local.health_check_ids[key] }
}

output "http_health_check_ids" {
  description = "Route 53 HTTPS /health check id per region (a child of the failover record's CALCULATED check)."
  value       = { for key, region in local.regions : region => local.http_health_check_ids[key] }
}

output "app_urls" {
  description = "HTTPS base URL of the regional app (HTTP API default endpoint) per region."
  value       = { for key, region in local.regions : region => local.app_urls[key] }
}

output "edge_url" {
  description = "HTTPS URL of the CloudFront distribution with origin failover."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}"
}

output "cloudfront_distribution_id" {
  description = "Id of the CloudFront distribution."
  value       = aws_cloudfront_distribution.this.id
}

output "global_cluster_id" {
  description = "Aurora Global Database identifier."
  value       = aws_rds_global_cluster.this.id
}

output "global_cluster_writer_endpoint" {
  description = "Aurora Global Database writer endpoint (follows the writer across regions on switchover/failover)."
  value       = aws_rds_global_cluster.this.endpoint
}

output "aurora_clusters" {
  description = "Per region: cluster_id, cluster_arn, writer_endpoint, reader_endpoint."
  value       = { for key, region in local.regions : region => local.aurora[key] }
}

output "aurora_secret_arns" {
  description = "Secrets Manager ARN of the master credentials per region (the secondary's is the replica)."
  value       = { for key, region in local.regions : region => local.secret_arns[key] }
}

output "dynamodb_table_name" {
  description = "Name of the DynamoDB global table (same in both regions)."
  value       = aws_dynamodb_table.this.name
}

output "dynamodb_table_arn" {
  description = "ARN of the DynamoDB table in the primary region."
  value       = aws_dynamodb_table.this.arn
}

output "dynamodb_stream_arn" {
  description = "Stream ARN of the DynamoDB table in the primary region (NEW_AND_OLD_IMAGES)."
  value       = aws_dynamodb_table.this.stream_arn
}

output "s3_bucket_names" {
  description = "Data bucket name per region."
  value       = { for key, region in local.regions : region => local.bucket_names[key] }
}

output "lambda_function_names" {
  description = "Function names (same in both regions): app, orchestrator, aggregator."
  value       = local.function_names
}

output "sns_topic_arns" {
  description = "DR events topic ARN per region."
  value       = { for key, region in local.regions : region => local.sns_topic_arns[key] }
}

output "fis_template_ids" {
  description = "FIS experiment template id per region and scenario."
  value       = { for key, region in local.regions : region => local.fis_template_ids[key] }
}

output "alarm_names" {
  description = "CloudWatch alarm names per region (aurora_lag, dynamodb_latency, s3_latency, s3_pending, region_health, peer_health, route53_health, dns_health; the route53_health alarms of both regions live in us-east-1, the dns_health alarms of both regions in the secondary region)."
  value       = { for key, region in local.regions : region => local.alarm_names[key] }
}

output "kms_key_arns" {
  description = "Customer managed KMS key ARN per region."
  value       = { for key, region in local.regions : region => local.kms_key_arns[key] }
}

output "iam_role_arns" {
  description = "ARNs of the roles created here: app, orchestrator, aggregator, fis, drill_runner (null when the drill scheduler is off), s3_replication."
  value = {
    app            = aws_iam_role.app.arn
    orchestrator   = aws_iam_role.orchestrator.arn
    aggregator     = aws_iam_role.aggregator.arn
    fis            = aws_iam_role.fis.arn
    drill_runner   = try(aws_iam_role.drill_runner[0].arn, null)
    s3_replication = aws_iam_role.s3_replication.arn
  }
}

output "drill" {
  description = "Scheduled drill: CodeBuild project name, schedule expression and region (null project when create_drill_scheduler = false)."
  value = {
    project_name        = try(aws_codebuild_project.drill[0].name, null)
    schedule_expression = var.drill_schedule_expression
    region              = var.secondary_region
    scenario            = var.drill_scenario
    env_dir             = var.drill_env_dir
  }
}
