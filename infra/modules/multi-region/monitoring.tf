################################################################################
# SNS topic per region (alarm notifications, orchestrator trigger, Lambda dead letters)
################################################################################

resource "aws_sns_topic" "primary" {
  provider = aws.primary

  name              = local.topic_name
  kms_master_key_id = aws_kms_key.primary.arn
  tags              = local.tags
}

resource "aws_sns_topic" "secondary" {
  provider = aws.secondary

  name              = local.topic_name
  kms_master_key_id = aws_kms_key.secondary.arn
  tags              = local.tags
}

locals {
  sns_topic_arns = {
    primary   = aws_sns_topic.primary.arn
    secondary = aws_sns_topic.secondary.arn
  }

  alarm_names = {
    for key, region in local.regions : key => {
      aurora_lag       = "${var.name_prefix}-aurora-replication-lag-${region}"
      dynamodb_latency = "${var.name_prefix}-dynamodb-replication-latency-${region}"
      s3_latency       = "${var.name_prefix}-s3-replication-latency-${region}"
      s3_pending       = "${var.name_prefix}-s3-operations-pending-${region}"
      region_health    = "${var.name_prefix}-region-health-${region}"
      peer_health      = "${var.name_prefix}-peer-health-${local.peer[key]}-from-${region}"
      route53_health   = "${var.name_prefix}-route53-health-${region}"
      dns_health       = "${var.name_prefix}-dns-health-${region}"
    }
  }
}

################################################################################
# Aurora Global Database replication lag (emitted for whichever cluster is the secondary)
################################################################################

resource "aws_cloudwatch_metric_alarm" "aurora_lag_primary" {
  provider = aws.primary

  alarm_name          = local.alarm_names.primary.aurora_lag
  alarm_description   = "Aurora Global Database replication lag into ${local.cluster_ids.primary} above ${var.aurora_replica_lag_alarm_threshold_ms} ms (RPO target ${var.rpo_target_seconds} s). Silent while this cluster is the writer."
  namespace           = "AWS/RDS"
  metric_name         = "AuroraGlobalDBReplicationLag"
  dimensions          = { DBClusterIdentifier = local.cluster_ids.primary }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.aurora_replica_lag_alarm_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "aurora_lag_secondary" {
  provider = aws.secondary

  alarm_name          = local.alarm_names.secondary.aurora_lag
  alarm_description   = "Aurora Global Database replication lag into ${local.cluster_ids.secondary} above ${var.aurora_replica_lag_alarm_threshold_ms} ms (RPO target ${var.rpo_target_seconds} s)."
  namespace           = "AWS/RDS"
  metric_name         = "AuroraGlobalDBReplicationLag"
  dimensions          = { DBClusterIdentifier = local.cluster_ids.secondary }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.aurora_replica_lag_alarm_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

################################################################################
# DynamoDB global table replication latency (emitted in the sending region, per receiving region)
################################################################################

resource "aws_cloudwatch_metric_alarm" "dynamodb_latency_primary" {
  provider = aws.primary

  alarm_name          = local.alarm_names.primary.dynamodb_latency
  alarm_description   = "DynamoDB ${local.table_name} replication ${var.primary_region} -> ${var.secondary_region} above ${var.dynamodb_replication_latency_alarm_threshold_ms} ms."
  namespace           = "AWS/DynamoDB"
  metric_name         = "ReplicationLatency"
  dimensions          = { TableName = local.table_name, ReceivingRegion = var.secondary_region }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dynamodb_replication_latency_alarm_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dynamodb_latency_secondary" {
  provider = aws.secondary

  alarm_name          = local.alarm_names.secondary.dynamodb_latency
  alarm_description   = "DynamoDB ${local.table_name} replication ${var.secondary_region} -> ${var.primary_region} above ${var.dynamodb_replication_latency_alarm_threshold_ms} ms."
  namespace           = "AWS/DynamoDB"
  metric_name         = "ReplicationLatency"
  dimensions          = { TableName = local.table_name, ReceivingRegion = var.primary_region }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dynamodb_replication_latency_alarm_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

################################################################################
# S3 replication latency and backlog (replication metrics, emitted in the source region)
################################################################################

resource "aws_cloudwatch_metric_alarm" "s3_latency_primary" {
  provider = aws.primary

  alarm_name        = local.alarm_names.primary.s3_latency
  alarm_description = "S3 replication ${local.bucket_names.primary} -> ${local.bucket_names.secondary} above ${var.s3_replication_latency_alarm_threshold_s} s."
  namespace         = "AWS/S3"
  metric_name       = "ReplicationLatency"
  dimensions = {
    SourceBucket      = local.bucket_names.primary
    DestinationBucket = local.bucket_names.secondary
    RuleId            = local.s3_replication_rule_ids.primary
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.s3_replication_latency_alarm_threshold_s
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "s3_latency_secondary" {
  provider = aws.secondary

  alarm_name        = local.alarm_names.secondary.s3_latency
  alarm_description = "S3 replication ${local.bucket_names.secondary} -> ${local.bucket_names.primary} above ${var.s3_replication_latency_alarm_threshold_s} s (reverse direction; silent when s3_bidirectional_replication = false)."
  namespace         = "AWS/S3"
  metric_name       = "ReplicationLatency"
  dimensions = {
    SourceBucket      = local.bucket_names.secondary
    DestinationBucket = local.bucket_names.primary
    RuleId            = local.s3_replication_rule_ids.secondary
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.s3_replication_latency_alarm_threshold_s
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "s3_pending_primary" {
  provider = aws.primary

  alarm_name        = local.alarm_names.primary.s3_pending
  alarm_description = "More than ${var.s3_operations_pending_alarm_threshold} operations pending replication ${local.bucket_names.primary} -> ${local.bucket_names.secondary}."
  namespace         = "AWS/S3"
  metric_name       = "OperationsPendingReplication"
  dimensions = {
    SourceBucket      = local.bucket_names.primary
    DestinationBucket = local.bucket_names.secondary
    RuleId            = local.s3_replication_rule_ids.primary
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.s3_operations_pending_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "s3_pending_secondary" {
  provider = aws.secondary

  alarm_name        = local.alarm_names.secondary.s3_pending
  alarm_description = "More than ${var.s3_operations_pending_alarm_threshold} operations pending replication ${local.bucket_names.secondary} -> ${local.bucket_names.primary}."
  namespace         = "AWS/S3"
  metric_name       = "OperationsPendingReplication"
  dimensions = {
    SourceBucket      = local.bucket_names.secondary
    DestinationBucket = local.bucket_names.primary
    RuleId            = local.s3_replication_rule_ids.secondary
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.s3_operations_pending_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

################################################################################
# Aggregated region health (namespace drharness, metric RegionHealthy, dimension Region), published
# every aggregator_schedule_expression by the aggregator of EACH region for BOTH regions
################################################################################

# Self view: region R as seen from R. Missing data is breaching: an aggregator that cannot publish
# from its own region is itself a sign of trouble there.
resource "aws_cloudwatch_metric_alarm" "region_health_primary" {
  provider = aws.primary

  alarm_name          = local.alarm_names.primary.region_health
  alarm_description   = "drharness aggregated health of ${var.primary_region} (seen from ${var.primary_region}) below 1."
  namespace           = "drharness"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.primary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.region_health_evaluation_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "region_health_secondary" {
  provider = aws.secondary

  alarm_name          = local.alarm_names.secondary.region_health
  alarm_description   = "drharness aggregated health of ${var.secondary_region} (seen from ${var.secondary_region}) below 1."
  namespace           = "drharness"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.secondary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.region_health_evaluation_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

# Peer view: the other region as seen from R. In ALARM it wakes R's orchestrator (failover towards
# R) and stops any FIS experiment running in R (never keep injecting faults while the survivor is
# sick). Missing data keeps the last state: a broken aggregator must not trigger a failover.
resource "aws_cloudwatch_metric_alarm" "peer_health_primary" {
  provider = aws.primary

  alarm_name          = local.alarm_names.primary.peer_health
  alarm_description   = "drharness aggregated health of ${var.secondary_region} (seen from ${var.primary_region}) below 1."
  namespace           = "drharness"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.secondary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.region_health_evaluation_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "peer_health_secondary" {
  provider = aws.secondary

  alarm_name          = local.alarm_names.secondary.peer_health
  alarm_description   = "drharness aggregated health of ${var.primary_region} (seen from ${var.secondary_region}) below 1."
  namespace           = "drharness"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.primary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.region_health_evaluation_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

################################################################################
# DNS view: the alarms the failover records' health checks follow (route53-failover.tf). BOTH live in
# the secondary region and read what the secondary's aggregator publishes there, so that an outage of
# the primary region can never leave the alarm that judges the primary without data (static
# stability). Missing data is "missing": INSUFFICIENT_DATA, which Route 53 maps to
# var.dns_health_insufficient_data_status (LastKnownStatus) instead of failing anything over.
################################################################################

resource "aws_cloudwatch_metric_alarm" "dns_health_primary" {
  provider = aws.secondary

  alarm_name          = local.alarm_names.primary.dns_health
  alarm_description   = "drharness aggregated health of ${var.primary_region} (seen from ${var.secondary_region}) below 1: the ${var.primary_region} failover record leaves DNS."
  namespace           = "drharness"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.primary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.dns_health_alarm_evaluation_periods
  datapoints_to_alarm = var.dns_health_alarm_evaluation_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dns_health_secondary" {
  provider = aws.secondary

  alarm_name          = local.alarm_names.secondary.dns_health
  alarm_description   = "drharness aggregated health of ${var.secondary_region} (seen from ${var.secondary_region}) below 1: the ${var.secondary_region} failover record leaves DNS."
  namespace           = "drharness"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.secondary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.dns_health_alarm_evaluation_periods
  datapoints_to_alarm = var.dns_health_alarm_evaluation_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
  tags                = local.tags
}

################################################################################
# Route 53 health check status. Route 53 publishes these metrics only in us-east-1, so these two
# alarms live there (and are informational: failover itself never waits for them).
################################################################################

resource "aws_cloudwatch_metric_alarm" "route53_health_primary" {
  provider = aws.primary

  alarm_name          = local.alarm_names.primary.route53_health
  alarm_description   = "Route 53 health check of ${var.primary_region} (${local.app_hosts.primary}${var.health_check_path}) reports unhealthy."
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  dimensions          = { HealthCheckId = aws_route53_health_check.primary.id }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags

  lifecycle {
    precondition {
      condition     = var.primary_region == "us-east-1"
      error_message = "Route 53 health check metrics exist only in us-east-1; these alarms are created with the primary provider, so primary_region must be us-east-1."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "route53_health_secondary" {
  provider = aws.primary

  alarm_name          = local.alarm_names.secondary.route53_health
  alarm_description   = "Route 53 health check of ${var.secondary_region} (${local.app_hosts.secondary}${var.health_check_path}) reports unhealthy."
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  dimensions          = { HealthCheckId = aws_route53_health_check.secondary.id }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
  tags                = local.tags
}
