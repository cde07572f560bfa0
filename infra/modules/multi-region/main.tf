################################################################################
# Identity and shared names
################################################################################

data "aws_caller_identity" "current" {
  provider = aws.primary
}

data "aws_partition" "current" {
  provider = aws.primary
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Keys "primary"/"secondary" are the module's own; region names are values, so a swap of the two
  # regions is a change of variables, not of resource addresses.
  regions = {
    primary   = var.primary_region
    secondary = var.secondary_region
  }
  peer = {
    primary   = var.secondary_region
    secondary = var.primary_region
  }

  # FIS experiments select their targets by these tags only (never by ARN wildcards).
  fis_tag_key = "drharness:fis-target"
  stack_tag   = { "drharness:stack" = var.name_prefix }
  tags        = merge(var.tags, local.stack_tag)

  # Names shared with the local lab (src/drharness/lab/config.py resource_names()).
  global_cluster_id = "${var.name_prefix}-global"
  table_name        = "${var.name_prefix}-orders"
  cluster_ids = {
    primary   = "${var.name_prefix}-${var.primary_region}"
    secondary = "${var.name_prefix}-${var.secondary_region}"
  }
  bucket_names = {
    primary   = "${var.name_prefix}-orders-${local.account_id}-${var.primary_region}"
    secondary = "${var.name_prefix}-orders-${local.account_id}-${var.secondary_region}"
  }
  log_bucket_names = {
    primary   = "${var.name_prefix}-s3-logs-${local.account_id}-${var.primary_region}"
    secondary = "${var.name_prefix}-s3-logs-${local.account_id}-${var.secondary_region}"
  }
  function_names = {
    app          = "${var.name_prefix}-app"
    orchestrator = "${var.name_prefix}-failover-orchestrator"
    aggregator   = "${var.name_prefix}-health-check-aggregator"
  }
  topic_name = "${var.name_prefix}-dr-events"
}

check "allowed_account" {
  assert {
    condition     = length(var.allowed_account_ids) == 0 || contains(var.allowed_account_ids, data.aws_caller_identity.current.account_id)
    error_message = "The credentials in use belong to an account that is not in allowed_account_ids."
  }
}

################################################################################
# KMS: one customer managed key per region for every store, log group and topic
################################################################################

data "aws_iam_policy_document" "kms" {
  provider = aws.primary
  for_each = local.regions

  # Key policies must name the key as "*"; the root statement delegates to IAM policies, which are
  # scoped per role in iam.tf.
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; root delegation is the AWS default.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; root delegation is the AWS default.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself.
  statement {
    sid       = "AccountAdministersKeyThroughIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsThisStacksLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${each.value}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${each.value}:${local.account_id}:log-group:/aws/lambda/${var.name_prefix}-*",
        "arn:${local.partition}:logs:${each.value}:${local.account_id}:log-group:/aws/apigateway/${var.name_prefix}-*",
        "arn:${local.partition}:logs:${each.value}:${local.account_id}:log-group:/aws/codebuild/${var.name_prefix}-*",
        "arn:${local.partition}:logs:${each.value}:${local.account_id}:log-group:/aws/rds/cluster/${var.name_prefix}-*",
      ]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "primary" {
  provider = aws.primary

  description             = "${var.name_prefix} data key in ${var.primary_region} (Aurora, DynamoDB, S3, SNS, Lambda env, logs)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms["primary"].json
  tags                    = local.tags
}

resource "aws_kms_alias" "primary" {
  provider = aws.primary

  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.primary.key_id
}

resource "aws_kms_key" "secondary" {
  provider = aws.secondary

  description             = "${var.name_prefix} data key in ${var.secondary_region} (Aurora, DynamoDB, S3, SNS, Lambda env, logs)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms["secondary"].json
  tags                    = local.tags
}

resource "aws_kms_alias" "secondary" {
  provider = aws.secondary

  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.secondary.key_id
}

locals {
  kms_key_arns = {
    primary   = aws_kms_key.primary.arn
    secondary = aws_kms_key.secondary.arn
  }
}
