################################################################################
# FIS experiment templates: one per scenario in EACH region (an experiment acts in the region it
# runs in; the secondary's set is what a failback drill uses).
#
# Targets are selected by two tags only: drharness:stack = name_prefix and
# drharness:fis-target = <scenario>. Resources this module creates carry them; subnets (for
# region-outage) are not created here and must be tagged by whoever owns the network.
#
# Every template stops on the peer-health alarm of its region: never keep injecting faults while the
# region that should survive is itself unhealthy. A template whose tags resolve to no target fails
# instead of passing vacuously (empty_target_resolution_mode = "fail").
################################################################################

locals {
  fis_scenarios = {
    for key, region in local.regions : key => {
      "region-outage" = {
        description = "Isolate ${region}: cut its tagged subnets off from ${local.peer[key]} and from everything else (NACL deny-all)."
        target_type = "aws:ec2:subnet"
        target_key  = "Subnets"
        actions = {
          "disrupt-cross-region" = {
            action_id  = "aws:network:route-table-disrupt-cross-region-connectivity"
            parameters = { duration = var.fis_experiment_duration, region = local.peer[key] }
          }
          "disrupt-all-connectivity" = {
            action_id  = "aws:network:disrupt-connectivity"
            parameters = { duration = var.fis_experiment_duration, scope = "all" }
          }
        }
      }
      "aurora-writer-failure" = {
        description = "Fail over the writer instance of the Aurora cluster in ${region} (in-region failover)."
        target_type = "aws:rds:cluster"
        target_key  = "Clusters"
        actions = {
          "failover-writer" = {
            action_id  = "aws:rds:failover-db-cluster"
            parameters = {}
          }
        }
      }
      "dynamodb-replication-pause" = {
        description = "Pause DynamoDB global table replication out of ${region}."
        target_type = "aws:dynamodb:global-table"
        target_key  = "Tables"
        actions = {
          "pause-replication" = {
            action_id  = "aws:dynamodb:global-table-pause-replication"
            parameters = { duration = var.fis_experiment_duration }
          }
        }
      }
      "s3-replication-pause" = {
        description = "Pause S3 replication from the ${region} bucket to ${local.peer[key]}."
        target_type = "aws:s3:bucket"
        target_key  = "Buckets"
        actions = {
          "pause-replication" = {
            action_id  = "aws:s3:bucket-pause-replication"
            parameters = { duration = var.fis_experiment_duration, region = local.peer[key] }
          }
        }
      }
      "control-plane-impairment" = {
        description = "Make ${region} EC2 APIs answer 503 to the failover orchestrator role (FIS injects API errors for the ec2 namespace only)."
        target_type = "aws:iam:role"
        target_key  = "Roles"
        actions = {
          "api-unavailable" = {
            action_id = "aws:fis:inject-api-unavailable-error"
            parameters = {
              duration   = var.fis_experiment_duration
              service    = "ec2"
              operations = var.fis_control_plane_operations
              percentage = "100"
            }
          }
        }
      }
    }
  }
}

resource "aws_fis_experiment_template" "primary" {
  provider = aws.primary
  for_each = local.fis_scenarios.primary

  description = "drharness ${each.key} (${var.primary_region}): ${each.value.description}"
  role_arn    = aws_iam_role.fis.arn

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = aws_cloudwatch_metric_alarm.peer_health_primary.arn
  }

  target {
    name           = "targets"
    resource_type  = each.value.target_type
    selection_mode = "ALL"

    resource_tag {
      key   = "drharness:stack"
      value = var.name_prefix
    }

    resource_tag {
      key   = local.fis_tag_key
      value = each.key
    }
  }

  dynamic "action" {
    for_each = each.value.actions
    content {
      name      = action.key
      action_id = action.value.action_id

      target {
        key   = each.value.target_key
        value = "targets"
      }

      dynamic "parameter" {
        for_each = action.value.parameters
        content {
          key   = parameter.key
          value = parameter.value
        }
      }
    }
  }

  experiment_options {
    account_targeting            = "single-account"
    empty_target_resolution_mode = "fail"
  }

  tags = merge(local.tags, { Name = "${var.name_prefix}-${each.key}-${var.primary_region}", "drharness:scenario" = each.key })
}

resource "aws_fis_experiment_template" "secondary" {
  provider = aws.secondary
  for_each = local.fis_scenarios.secondary

  description = "drharness ${each.key} (${var.secondary_region}): ${each.value.description}"
  role_arn    = aws_iam_role.fis.arn

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = aws_cloudwatch_metric_alarm.peer_health_secondary.arn
  }

  target {
    name           = "targets"
    resource_type  = each.value.target_type
    selection_mode = "ALL"

    resource_tag {
      key   = "drharness:stack"
      value = var.name_prefix
    }

    resource_tag {
      key   = local.fis_tag_key
      value = each.key
    }
  }

  dynamic "action" {
    for_each = each.value.actions
    content {
      name      = action.key
      action_id = action.value.action_id

      target {
        key   = each.value.target_key
        value = "targets"
      }

      dynamic "parameter" {
        for_each = action.value.parameters
        content {
          key   = parameter.key
          value = parameter.value
        }
      }
    }
  }

  experiment_options {
    account_targeting            = "single-account"
    empty_target_resolution_mode = "fail"
  }

  tags = merge(local.tags, { Name = "${var.name_prefix}-${each.key}-${var.secondary_region}", "drharness:scenario" = each.key })
}

locals {
  fis_template_ids = {
    primary   = { for scenario, t in aws_fis_experiment_template.primary : scenario => t.id }
    secondary = { for scenario, t in aws_fis_experiment_template.secondary : scenario => t.id }
  }
}
