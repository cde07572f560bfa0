################################################################################
# IAM: one role per job, least privilege. IAM is global (its control plane lives in us-east-1);
# roles are created with the primary provider and USED in both regions, which does not depend on
# us-east-1 (STS is regional).
#
# Resource "*" appears only where the action has no resource-level permissions (noted inline):
# xray:PutTrace*, cloudwatch:PutMetricData (narrowed by namespace condition), cloudwatch:GetMetricData,
# cloudwatch:ListMetrics, tag:GetResources, s3:ListAllMyBuckets, fis:ListExperiments.
#
# Each policy grants what its component's code calls and nothing else: tests/safety/test_iam_least_privilege.py
# derives the boto3 calls from the source and compares them with these documents.
################################################################################

locals {
  both_regions = [var.primary_region, var.secondary_region]

  arn = {
    table_arns = [for r in local.both_regions : "arn:${local.partition}:dynamodb:${r}:${local.account_id}:table/${local.table_name}"]
    table_and_index_arns = flatten([for r in local.both_regions : [
      "arn:${local.partition}:dynamodb:${r}:${local.account_id}:table/${local.table_name}",
      "arn:${local.partition}:dynamodb:${r}:${local.account_id}:table/${local.table_name}/index/*",
    ]])
    bucket_arns        = [for k, b in local.bucket_names : "arn:${local.partition}:s3:::${b}"]
    bucket_object_arns = [for k, b in local.bucket_names : "arn:${local.partition}:s3:::${b}/*"]
    global_cluster     = "arn:${local.partition}:rds::${local.account_id}:global-cluster:${local.global_cluster_id}"
    cluster_arns       = [for k, r in local.regions : "arn:${local.partition}:rds:${r}:${local.account_id}:cluster:${local.cluster_ids[k]}"]
    alarm_arns         = [for r in local.both_regions : "arn:${local.partition}:cloudwatch:${r}:${local.account_id}:alarm:${var.name_prefix}-*"]
    kms_keys           = values(local.kms_key_arns)
    secrets            = values(local.secret_arns)
    topics             = values(local.sns_topic_arns)
    function_arns = {
      for name, fn in local.function_names : name => [for r in local.both_regions : "arn:${local.partition}:lambda:${r}:${local.account_id}:function:${fn}"]
    }
    function_log_streams = {
      for name, fn in local.function_names : name => [for r in local.both_regions : "arn:${local.partition}:logs:${r}:${local.account_id}:log-group:/aws/lambda/${fn}:*"]
    }
  }
}

data "aws_iam_policy_document" "assume" {
  provider = aws.primary
  for_each = {
    lambda     = "lambda.amazonaws.com"
    codebuild  = "codebuild.amazonaws.com"
    s3         = "s3.amazonaws.com"
    scheduler  = "scheduler.amazonaws.com"
    monitoring = "monitoring.rds.amazonaws.com"
  }

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
    # Confused-deputy guard: only this account's resources may hand the role to the service.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

################################################################################
# Regional app (Lambda): read/write its own table, buckets and DB secret; nothing else
################################################################################

data "aws_iam_policy_document" "app" {
  provider = aws.primary

  statement {
    sid       = "OwnLogStreams"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.arn.function_log_streams.app
  }

  statement {
    sid       = "XRayNoResourceLevel" # X-Ray has no resource-level permissions
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid = "OrdersTable"
    actions = [
      "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
      "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
      "dynamodb:DescribeTable",
    ]
    resources = local.arn.table_and_index_arns
  }

  statement {
    sid       = "OrdersBucketsList"
    actions   = ["s3:ListBucket"]
    resources = local.arn.bucket_arns
  }

  statement {
    sid       = "OrdersBucketsObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"]
    resources = local.arn.bucket_object_arns
  }

  statement {
    sid       = "DatabaseCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.arn.secrets
  }

  statement {
    sid       = "DataKeys" # SSE-KMS of table, buckets, secret and the function's own environment
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.arn.kms_keys
  }
}

resource "aws_iam_role" "app" {
  provider = aws.primary

  name               = "${var.name_prefix}-app"
  description        = "drharness regional app Lambda (both regions)"
  assume_role_policy = data.aws_iam_policy_document.assume["lambda"].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "app" {
  provider = aws.primary

  name   = "app"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}

# ENI management for a Lambda in a VPC (AWS-managed, the documented minimum).
resource "aws_iam_role_policy_attachment" "app_vpc" {
  provider = aws.primary
  count    = var.primary_network != null || var.secondary_network != null ? 1 : 0

  role       = aws_iam_role.app.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

################################################################################
# Failover orchestrator: promote the secondary (global failover/switchover), steer DNS health
# checks, report; it cannot touch data
################################################################################

data "aws_iam_policy_document" "orchestrator" {
  provider = aws.primary

  statement {
    sid       = "OwnLogStreams"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.arn.function_log_streams.orchestrator
  }

  statement {
    sid       = "XRayNoResourceLevel"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "GlobalDatabaseFailover" # unplanned (FailoverGlobalCluster, AllowDataLoss) and planned (Switchover)
    actions   = ["rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"]
    resources = concat([local.arn.global_cluster], local.arn.cluster_arns)
  }

  # No Route 53 permission at all: DNS moves by health checks, and the orchestrator watches the answer
  # through DNS itself (tests/safety/test_iam_least_privilege.py derives what it calls).
  statement {
    sid       = "GlobalDatabaseRead"
    actions   = ["rds:DescribeGlobalClusters"]
    resources = concat([local.arn.global_cluster], local.arn.cluster_arns)
  }

  statement {
    sid       = "ReplicaReadiness" # the aggregator's checks: table status, bucket reachable (HeadBucket)
    actions   = ["dynamodb:DescribeTable", "s3:ListBucket"]
    resources = concat(local.arn.table_arns, local.arn.bucket_arns)
  }

  statement {
    sid       = "DrainBacklogObjects" # failback drain: HEAD of objects missing on the other side
    actions   = ["s3:GetObject"]
    resources = local.arn.bucket_object_arns
  }

  statement {
    sid = "FenceAndDriftCheck" # fence the old primary's app (concurrency 0), restore it, compare both regions
    actions = [
      "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionConcurrency",
      "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
    ]
    resources = local.arn.function_arns.app
  }

  statement {
    sid       = "MetricsOwnNamespaceOnly" # PutMetricData has no resource-level permissions
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["drharness"]
    }
  }

  statement {
    sid       = "Notify" # progress events and its own dead letters
    actions   = ["sns:Publish"]
    resources = local.arn.topics
  }

  statement {
    sid       = "TopicAndEnvKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.arn.kms_keys
  }
}

resource "aws_iam_role" "orchestrator" {
  provider = aws.primary

  name               = "${var.name_prefix}-failover-orchestrator"
  description        = "drharness failover orchestrator Lambda (both regions)"
  assume_role_policy = data.aws_iam_policy_document.assume["lambda"].json
  # Target of the control-plane-impairment FIS experiment.
  tags = merge(local.tags, { (local.fis_tag_key) = "control-plane-impairment" })
}

resource "aws_iam_role_policy" "orchestrator" {
  provider = aws.primary

  name   = "orchestrator"
  role   = aws_iam_role.orchestrator.id
  policy = data.aws_iam_policy_document.orchestrator.json
}

################################################################################
# Health check aggregator: read-only over the stack, writes only drharness/* metrics
################################################################################

data "aws_iam_policy_document" "aggregator" {
  provider = aws.primary

  statement {
    sid       = "OwnLogStreams"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.arn.function_log_streams.aggregator
  }

  statement {
    sid       = "XRayNoResourceLevel"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "StoreChecks" # table status, bucket reachable (HeadBucket)
    actions   = ["dynamodb:DescribeTable", "s3:ListBucket"]
    resources = concat(local.arn.table_arns, local.arn.bucket_arns)
  }

  statement {
    sid       = "AppFunctionCheck"
    actions   = ["lambda:GetFunction"]
    resources = local.arn.function_arns.app
  }

  statement {
    sid       = "MetricsOwnNamespaceOnly"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["drharness"]
    }
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sns:Publish"]
    resources = local.arn.topics
  }

  statement {
    sid       = "TopicAndEnvKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.arn.kms_keys
  }
}

resource "aws_iam_role" "aggregator" {
  provider = aws.primary

  name               = "${var.name_prefix}-health-check-aggregator"
  description        = "drharness health check aggregator Lambda (both regions)"
  assume_role_policy = data.aws_iam_policy_document.assume["lambda"].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "aggregator" {
  provider = aws.primary

  name   = "aggregator"
  role   = aws_iam_role.aggregator.id
  policy = data.aws_iam_policy_document.aggregator.json
}

################################################################################
# FIS: exactly the permissions of the five actions used, on this stack's resources
################################################################################

data "aws_iam_policy_document" "fis_assume" {
  provider = aws.primary

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["fis.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:fis:*:${local.account_id}:experiment/*"]
    }
  }
}

data "aws_iam_policy_document" "fis" {
  provider = aws.primary

  statement {
    sid       = "AuroraWriterFailure"
    actions   = ["rds:FailoverDBCluster", "rds:DescribeDBClusters"]
    resources = local.arn.cluster_arns
  }

  statement {
    sid = "DynamoDBReplicationPause" # pauses by a temporary resource policy on the replica
    actions = [
      "dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy", "dynamodb:GetResourcePolicy",
      "dynamodb:DescribeTable", "dynamodb:InjectError",
    ]
    resources = local.arn.table_arns
  }

  statement {
    sid       = "S3ReplicationPause"
    actions   = ["s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration", "s3:PauseReplication"]
    resources = local.arn.bucket_arns
  }

  statement {
    sid       = "S3ReplicationPausePassesReplicationRole" # PutReplicationConfiguration re-passes the role
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.s3_replication.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["s3.amazonaws.com"]
    }
  }

  statement {
    sid       = "ControlPlaneImpairmentEc2Only"
    actions   = ["fis:InjectApiUnavailableError"]
    resources = ["arn:${local.partition}:fis:*:${local.account_id}:experiment/*"]
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "fis:Service"
      values   = ["ec2"]
    }
  }

  statement {
    sid       = "TargetResolutionNoResourceLevel" # tag:GetResources and s3:ListAllMyBuckets have none
    actions   = ["tag:GetResources", "s3:ListAllMyBuckets"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "fis" {
  provider = aws.primary

  name               = "${var.name_prefix}-fis"
  description        = "drharness FIS experiments (both regions)"
  assume_role_policy = data.aws_iam_policy_document.fis_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "fis" {
  provider = aws.primary

  name   = "fis"
  role   = aws_iam_role.fis.id
  policy = data.aws_iam_policy_document.fis.json
}

# Network actions (route-table and NACL disruption): the AWS-managed policy is the documented
# minimum and confines writes to resources FIS itself tagged managedByFIS.
resource "aws_iam_role_policy_attachment" "fis_network" {
  provider = aws.primary

  role       = aws_iam_role.fis.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSFaultInjectionSimulatorNetworkAccess"
}

################################################################################
# Drill runner (CodeBuild): start/stop this stack's experiments, run canary traffic, read the
# stack, invoke the orchestrator/aggregator, and drive failover/failback like an operator would
################################################################################

data "aws_iam_policy_document" "drill_runner" {
  provider = aws.primary
  count    = var.create_drill_scheduler ? 1 : 0

  statement {
    sid       = "BuildLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${var.secondary_region}:${local.account_id}:log-group:/aws/codebuild/${local.drill_project_name}:*"]
  }

  statement {
    sid     = "RunThisStacksExperiments"
    actions = ["fis:StartExperiment", "fis:GetExperimentTemplate"]
    resources = concat(
      [for k, id in local.fis_template_ids.primary : "arn:${local.partition}:fis:${var.primary_region}:${local.account_id}:experiment-template/${id}"],
      [for k, id in local.fis_template_ids.secondary : "arn:${local.partition}:fis:${var.secondary_region}:${local.account_id}:experiment-template/${id}"],
      [for r in local.both_regions : "arn:${local.partition}:fis:${r}:${local.account_id}:experiment/*"],
    )
  }

  statement {
    sid       = "FollowAndHaltExperiments" # `drharness halt` must be able to stop every running fault
    actions   = ["fis:GetExperiment", "fis:StopExperiment", "fis:TagResource"]
    resources = [for r in local.both_regions : "arn:${local.partition}:fis:${r}:${local.account_id}:experiment/*"]
  }

  statement {
    sid       = "ListExperimentsNoResourceLevel"
    actions   = ["fis:ListExperiments"]
    resources = ["*"]
  }

  statement {
    sid = "OrchestratorInProcess" # the drill runs the orchestrator in-process: fence, unfence, drift check
    actions = [
      "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionConcurrency",
      "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
    ]
    resources = local.arn.function_arns.app
  }

  statement {
    sid       = "OperatorFailoverAndFailback"
    actions   = ["rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"]
    resources = concat([local.arn.global_cluster], local.arn.cluster_arns)
  }

  statement {
    sid       = "ReadDatabaseState"
    actions   = ["rds:DescribeGlobalClusters"]
    resources = concat([local.arn.global_cluster], local.arn.cluster_arns)
  }

  statement {
    sid = "CanaryAndConsistencyTable"
    actions = [
      "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchGetItem",
      "dynamodb:DescribeTable", # DeleteItem: the drill lock's release and the lag monitor's markers
    ]
    resources = local.arn.table_and_index_arns
  }

  statement {
    sid       = "CanaryAndConsistencyBuckets"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetReplicationConfiguration"]
    resources = local.arn.bucket_arns
  }

  statement {
    sid       = "CanaryAndConsistencyObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectVersionTagging", "s3:PutObject", "s3:DeleteObjectVersion"]
    resources = local.arn.bucket_object_arns
  }

  statement {
    sid       = "DatabaseCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.arn.secrets
  }

  statement {
    sid       = "DataKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.arn.kms_keys
  }

  statement {
    sid       = "AlarmsRead"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = local.arn.alarm_arns
  }

  statement {
    sid       = "ReplicationMetricsNoResourceLevel" # read-only
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]
    resources = ["*"]
  }

  statement {
    sid       = "HealthMetricOwnNamespaceOnly" # `drharness health` publishes RegionHealthy
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["drharness"]
    }
  }

  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = local.arn.topics
  }

  dynamic "statement" {
    for_each = var.terraform_state_bucket == null ? [] : [var.terraform_state_bucket]
    content {
      sid       = "ReadEnvironmentStateBucket"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${local.partition}:s3:::${statement.value}"]
    }
  }

  dynamic "statement" {
    for_each = var.terraform_state_bucket == null ? [] : [var.terraform_state_bucket]
    content {
      sid       = "ReadEnvironmentState" # `terraform output -json` of drill_env_dir
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::${statement.value}/${coalesce(var.terraform_state_key, "*")}"]
    }
  }

  dynamic "statement" {
    for_each = var.drill_report_bucket_name == null ? [] : [var.drill_report_bucket_name]
    content {
      sid       = "UploadDrillReports"
      actions   = ["s3:PutObject"]
      resources = ["arn:${local.partition}:s3:::${statement.value}/drills/*"]
    }
  }
}

resource "aws_iam_role" "drill_runner" {
  provider = aws.primary
  count    = var.create_drill_scheduler ? 1 : 0

  name               = "${var.name_prefix}-drill-runner"
  description        = "drharness scheduled DR drill (CodeBuild in ${var.secondary_region})"
  assume_role_policy = data.aws_iam_policy_document.assume["codebuild"].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "drill_runner" {
  provider = aws.primary
  count    = var.create_drill_scheduler ? 1 : 0

  name   = "drill-runner"
  role   = aws_iam_role.drill_runner[0].id
  policy = data.aws_iam_policy_document.drill_runner[0].json
}

################################################################################
# Service roles: S3 replication, RDS enhanced monitoring, EventBridge Scheduler
################################################################################

data "aws_iam_policy_document" "s3_replication" {
  provider = aws.primary

  statement {
    sid       = "SourceBuckets"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = local.arn.bucket_arns
  }

  statement {
    sid       = "SourceObjects"
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = local.arn.bucket_object_arns
  }

  statement {
    sid       = "DestinationObjects"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = local.arn.bucket_object_arns
  }

  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = local.arn.kms_keys
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = [for r in local.both_regions : "s3.${r}.amazonaws.com"]
    }
  }

  statement {
    sid       = "EncryptDestination"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = local.arn.kms_keys
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = [for r in local.both_regions : "s3.${r}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "s3_replication" {
  provider = aws.primary

  name               = "${var.name_prefix}-s3-replication"
  description        = "drharness S3 cross-region replication (both directions)"
  assume_role_policy = data.aws_iam_policy_document.assume["s3"].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "s3_replication" {
  provider = aws.primary

  name   = "s3-replication"
  role   = aws_iam_role.s3_replication.id
  policy = data.aws_iam_policy_document.s3_replication.json
}

resource "aws_iam_role" "rds_monitoring" {
  provider = aws.primary

  name               = "${var.name_prefix}-rds-monitoring"
  description        = "RDS enhanced monitoring of the drharness Aurora instances"
  assume_role_policy = data.aws_iam_policy_document.assume["monitoring"].json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  provider = aws.primary

  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

data "aws_iam_policy_document" "scheduler_aggregator" {
  provider = aws.primary

  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = local.arn.function_arns.aggregator
  }

  statement {
    sid       = "ScheduleEncryptedWithCmk"
    actions   = ["kms:Decrypt"]
    resources = local.arn.kms_keys
  }
}

resource "aws_iam_role" "scheduler_aggregator" {
  provider = aws.primary

  name               = "${var.name_prefix}-scheduler-aggregator"
  description        = "EventBridge Scheduler: invoke the drharness health check aggregator"
  assume_role_policy = data.aws_iam_policy_document.assume["scheduler"].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler_aggregator" {
  provider = aws.primary

  name   = "invoke-aggregator"
  role   = aws_iam_role.scheduler_aggregator.id
  policy = data.aws_iam_policy_document.scheduler_aggregator.json
}

data "aws_iam_policy_document" "scheduler_drill" {
  provider = aws.primary
  count    = var.create_drill_scheduler ? 1 : 0

  statement {
    actions   = ["codebuild:StartBuild"]
    resources = ["arn:${local.partition}:codebuild:${var.secondary_region}:${local.account_id}:project/${local.drill_project_name}"]
  }

  statement {
    sid       = "ScheduleEncryptedWithCmk"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secondary.arn]
  }
}

resource "aws_iam_role" "scheduler_drill" {
  provider = aws.primary
  count    = var.create_drill_scheduler ? 1 : 0

  name               = "${var.name_prefix}-scheduler-drill"
  description        = "EventBridge Scheduler: start the drharness DR drill build"
  assume_role_policy = data.aws_iam_policy_document.assume["scheduler"].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler_drill" {
  provider = aws.primary
  count    = var.create_drill_scheduler ? 1 : 0

  name   = "start-drill"
  role   = aws_iam_role.scheduler_drill[0].id
  policy = data.aws_iam_policy_document.scheduler_drill[0].json
}
