################################################################################
# Scheduled DR drill: EventBridge Scheduler -> CodeBuild -> `drharness drill run --target aws`
#
# Everything lives in the secondary region: a drill takes the primary away, so the thing that runs
# the drill (and reports on it) must not depend on the primary.
################################################################################

locals {
  drill_project_name = "${var.name_prefix}-dr-drill"
  drill_report_dir   = "reports/drill"

  # The buildspec lives in the repository (infra/drill-runner/buildspec.yml, docs/MONTHLY_DRILL.md): it
  # installs drharness, runs the drill with --yes, uploads reports to the history bucket, publishes to SNS.
  drill_buildspec_path = "infra/drill-runner/buildspec.yml"
  drill_history_prefix = "drills/history"
}

resource "aws_cloudwatch_log_group" "drill" {
  provider = aws.secondary
  count    = var.create_drill_scheduler ? 1 : 0

  name              = "/aws/codebuild/${local.drill_project_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.secondary.arn
  tags              = local.tags
}

resource "aws_codebuild_project" "drill" {
  provider = aws.secondary
  count    = var.create_drill_scheduler ? 1 : 0

  name               = local.drill_project_name
  description        = "Monthly DR drill: ${var.drill_scenario} against ${var.drill_env_dir}"
  service_role       = aws_iam_role.drill_runner[0].arn
  build_timeout      = 120 # minutes: RTO 15 + failback 30 + load and checks, with margin
  queued_timeout     = 60
  encryption_key     = aws_kms_key.secondary.arn
  source_version     = var.drill_source_version
  project_visibility = "PRIVATE"

  source {
    type            = var.drill_source_type
    location        = var.drill_source_location
    git_clone_depth = var.drill_source_type == "S3" ? null : 1
    buildspec       = local.drill_buildspec_path
  }

  artifacts {
    type                = var.drill_report_bucket_name == null ? "NO_ARTIFACTS" : "S3"
    location            = var.drill_report_bucket_name
    path                = var.drill_report_bucket_name == null ? null : "drills"
    namespace_type      = var.drill_report_bucket_name == null ? null : "BUILD_ID"
    packaging           = var.drill_report_bucket_name == null ? null : "NONE"
    encryption_disabled = false
  }

  environment {
    type            = "LINUX_CONTAINER"
    compute_type    = "BUILD_GENERAL1_SMALL"
    image           = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    privileged_mode = false

    environment_variable {
      name  = "DRILL_ENV_DIR"
      value = var.drill_env_dir
    }
    environment_variable {
      name  = "DRILL_SCENARIO"
      value = var.drill_scenario
    }
    environment_variable {
      name  = "REPORT_DIR"
      value = local.drill_report_dir
    }
    environment_variable {
      name  = "TF_VERSION"
      value = var.drill_terraform_version
    }
    environment_variable {
      name  = "TF_IN_AUTOMATION"
      value = "1"
    }
    environment_variable {
      name  = "DRILL_HISTORY_BUCKET"
      value = var.drill_report_bucket_name == null ? "" : var.drill_report_bucket_name
    }
    environment_variable {
      name  = "DRILL_SNS_TOPIC_ARN"
      value = aws_sns_topic.secondary.arn
    }
    environment_variable {
      name  = "DRHARNESS_ALLOWED_ACCOUNTS"
      value = local.account_id
    }
    environment_variable {
      name  = "DRHARNESS_ALLOWED_REGIONS"
      value = "${var.primary_region},${var.secondary_region}"
    }
  }

  logs_config {
    cloudwatch_logs {
      status     = "ENABLED"
      group_name = aws_cloudwatch_log_group.drill[0].name
    }
    s3_logs {
      status = "DISABLED"
    }
  }

  tags = local.tags
}

resource "aws_scheduler_schedule" "drill" {
  provider = aws.secondary
  count    = var.create_drill_scheduler ? 1 : 0

  name                         = local.drill_project_name
  description                  = "Start the ${var.drill_scenario} DR drill"
  schedule_expression          = var.drill_schedule_expression
  schedule_expression_timezone = var.drill_schedule_timezone
  kms_key_arn                  = aws_kms_key.secondary.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    # Universal target: the CodeBuild StartBuild API call.
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:codebuild:startBuild"
    role_arn = aws_iam_role.scheduler_drill[0].arn
    input    = jsonencode({ ProjectName = aws_codebuild_project.drill[0].name })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 2
    }
  }
}

# The runner reads past drills back for the trend (`drharness report --history`); writing them is the
# UploadDrillReports statement of iam.tf (s3:PutObject on drills/*).
data "aws_iam_policy_document" "drill_history" {
  provider = aws.primary
  count    = var.create_drill_scheduler && var.drill_report_bucket_name != null ? 1 : 0

  statement {
    sid       = "ListDrillHistory"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.drill_report_bucket_name}"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.drill_history_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadDrillHistory"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${var.drill_report_bucket_name}/${local.drill_history_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "drill_history" {
  provider = aws.primary
  count    = var.create_drill_scheduler && var.drill_report_bucket_name != null ? 1 : 0

  name   = "drill-history-read"
  role   = aws_iam_role.drill_runner[0].id
  policy = data.aws_iam_policy_document.drill_history[0].json
}
