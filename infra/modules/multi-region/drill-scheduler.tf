################################################################################
# Scheduled DR drill: EventBridge Scheduler -> CodeBuild -> `drharness drill run --target aws`
#
# Everything lives in the secondary region: a drill takes the primary away, so the thing that runs
# the drill (and reports on it) must not depend on the primary.
################################################################################

locals {
  drill_project_name = "${var.name_prefix}-dr-drill"
  drill_report_dir   = "reports/drill"

  drill_buildspec = yamlencode({
    version = "0.2"
    env     = { shell = "bash" }
    phases = {
      install = {
        "runtime-versions" = { python = "3.12" }
        commands = [
          "curl -fsSL -o /tmp/terraform.zip \"https://releases.hashicorp.com/terraform/$TF_VERSION/terraform_$${TF_VERSION}_linux_amd64.zip\"",
          "curl -fsSL -o /tmp/SHA256SUMS \"https://releases.hashicorp.com/terraform/$TF_VERSION/terraform_$${TF_VERSION}_SHA256SUMS\"",
          "echo \"$(grep linux_amd64.zip /tmp/SHA256SUMS | cut -d' ' -f1)  /tmp/terraform.zip\" | sha256sum -c -",
          "unzip -o /tmp/terraform.zip -d /usr/local/bin",
          "python -m pip install --quiet .",
        ]
      }
      build = {
        commands = [
          "terraform -chdir=\"$DRILL_ENV_DIR\" init -input=false",
          "drharness drill run --scenario \"$DRILL_SCENARIO\" --target aws --env \"$DRILL_ENV_DIR\" --report-dir \"$REPORT_DIR\" --yes",
        ]
      }
    }
    artifacts = {
      files            = ["**/*"]
      "base-directory" = local.drill_report_dir
    }
  })
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
    buildspec       = local.drill_buildspec
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
