################################################################################
# S3 data buckets (versioned, SSE-KMS, private, TLS only) in both regions
################################################################################

resource "aws_s3_bucket" "primary" {
  provider = aws.primary
  #checkov:skip=CKV2_AWS_62:No consumer of object events exists; replication is CRR, not notifications.

  bucket        = local.bucket_names.primary
  force_destroy = var.s3_force_destroy
  tags          = merge(local.tags, { (local.fis_tag_key) = "s3-replication-pause" })
}

resource "aws_s3_bucket" "secondary" {
  provider = aws.secondary
  #checkov:skip=CKV2_AWS_62:No consumer of object events exists; replication is CRR, not notifications.

  bucket        = local.bucket_names.secondary
  force_destroy = var.s3_force_destroy
  tags          = merge(local.tags, { (local.fis_tag_key) = "s3-replication-pause" })
}

resource "aws_s3_bucket_versioning" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_versioning" "secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.secondary.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.primary.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.secondary.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.secondary.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "primary" {
  provider = aws.primary

  bucket                  = aws_s3_bucket.primary.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_public_access_block" "secondary" {
  provider = aws.secondary

  bucket                  = aws_s3_bucket.secondary.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_ownership_controls" "secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.secondary.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  rule {
    id     = "noncurrent-versions-and-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.s3_noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.primary]
}

resource "aws_s3_bucket_lifecycle_configuration" "secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.secondary.id
  rule {
    id     = "noncurrent-versions-and-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.s3_noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.secondary]
}

data "aws_iam_policy_document" "bucket_tls_only" {
  provider = aws.primary
  for_each = local.bucket_names

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["arn:${local.partition}:s3:::${each.value}", "arn:${local.partition}:s3:::${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "primary" {
  provider = aws.primary

  bucket     = aws_s3_bucket.primary.id
  policy     = data.aws_iam_policy_document.bucket_tls_only["primary"].json
  depends_on = [aws_s3_bucket_public_access_block.primary]
}

resource "aws_s3_bucket_policy" "secondary" {
  provider = aws.secondary

  bucket     = aws_s3_bucket.secondary.id
  policy     = data.aws_iam_policy_document.bucket_tls_only["secondary"].json
  depends_on = [aws_s3_bucket_public_access_block.secondary]
}

################################################################################
# Server access logs (one log bucket per region; logs stay in their region)
################################################################################

resource "aws_s3_bucket" "logs_primary" {
  provider = aws.primary
  #checkov:skip=CKV_AWS_144:Access logs are regional evidence and are not replicated.
  #checkov:skip=CKV2_AWS_62:No consumer of log object events.
  #checkov:skip=CKV_AWS_145:S3 server access logging only delivers to SSE-S3 (AES256) buckets, not SSE-KMS.

  bucket        = local.log_bucket_names.primary
  force_destroy = var.s3_force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket" "logs_secondary" {
  provider = aws.secondary
  #checkov:skip=CKV_AWS_144:Access logs are regional evidence and are not replicated.
  #checkov:skip=CKV2_AWS_62:No consumer of log object events.
  #checkov:skip=CKV_AWS_145:S3 server access logging only delivers to SSE-S3 (AES256) buckets, not SSE-KMS.

  bucket        = local.log_bucket_names.secondary
  force_destroy = var.s3_force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_versioning" "logs_primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.logs_primary.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_versioning" "logs_secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.logs_secondary.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs_primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.logs_primary.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs_secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.logs_secondary.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "logs_primary" {
  provider = aws.primary

  bucket                  = aws_s3_bucket.logs_primary.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_public_access_block" "logs_secondary" {
  provider = aws.secondary

  bucket                  = aws_s3_bucket.logs_secondary.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs_primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.logs_primary.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_ownership_controls" "logs_secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.logs_secondary.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs_primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.logs_primary.id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.logs_primary]
}

resource "aws_s3_bucket_lifecycle_configuration" "logs_secondary" {
  provider = aws.secondary

  bucket = aws_s3_bucket.logs_secondary.id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.logs_secondary]
}

data "aws_iam_policy_document" "log_bucket" {
  provider = aws.primary
  for_each = local.log_bucket_names

  statement {
    sid       = "S3ServerAccessLogsDelivery"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${each.value}/access/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:s3:::${local.bucket_names[each.key]}"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["arn:${local.partition}:s3:::${each.value}", "arn:${local.partition}:s3:::${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs_primary" {
  provider = aws.primary

  bucket     = aws_s3_bucket.logs_primary.id
  policy     = data.aws_iam_policy_document.log_bucket["primary"].json
  depends_on = [aws_s3_bucket_public_access_block.logs_primary]
}

resource "aws_s3_bucket_policy" "logs_secondary" {
  provider = aws.secondary

  bucket     = aws_s3_bucket.logs_secondary.id
  policy     = data.aws_iam_policy_document.log_bucket["secondary"].json
  depends_on = [aws_s3_bucket_public_access_block.logs_secondary]
}

resource "aws_s3_bucket_logging" "primary" {
  provider = aws.primary

  bucket        = aws_s3_bucket.primary.id
  target_bucket = aws_s3_bucket.logs_primary.id
  target_prefix = "access/"

  # S3 checks the target's delivery permission (its bucket policy) when logging is enabled.
  depends_on = [aws_s3_bucket_policy.logs_primary]
}

resource "aws_s3_bucket_logging" "secondary" {
  provider = aws.secondary

  bucket        = aws_s3_bucket.secondary.id
  target_bucket = aws_s3_bucket.logs_secondary.id
  target_prefix = "access/"

  # S3 checks the target's delivery permission (its bucket policy) when logging is enabled.
  depends_on = [aws_s3_bucket_policy.logs_secondary]
}

################################################################################
# Cross-region replication (RTC 15 min, metrics, delete markers; optional reverse direction)
################################################################################

locals {
  s3_replication_rule_ids = {
    primary   = "to-${var.secondary_region}"
    secondary = "to-${var.primary_region}"
  }
}

resource "aws_s3_bucket_replication_configuration" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  role   = aws_iam_role.s3_replication.arn

  rule {
    id       = local.s3_replication_rule_ids.primary
    status   = "Enabled"
    priority = 1

    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
      replica_modifications {
        status = var.s3_bidirectional_replication ? "Enabled" : "Disabled"
      }
    }

    destination {
      bucket        = aws_s3_bucket.secondary.arn
      storage_class = "STANDARD"

      encryption_configuration {
        replica_kms_key_id = aws_kms_key.secondary.arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  # Both buckets must be versioned before S3 accepts a replication configuration.
  depends_on = [aws_s3_bucket_versioning.primary, aws_s3_bucket_versioning.secondary]
}

resource "aws_s3_bucket_replication_configuration" "secondary" {
  provider = aws.secondary
  count    = var.s3_bidirectional_replication ? 1 : 0

  bucket = aws_s3_bucket.secondary.id
  role   = aws_iam_role.s3_replication.arn

  rule {
    id       = local.s3_replication_rule_ids.secondary
    status   = "Enabled"
    priority = 1

    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
      replica_modifications {
        status = "Enabled"
      }
    }

    destination {
      bucket        = aws_s3_bucket.primary.arn
      storage_class = "STANDARD"

      encryption_configuration {
        replica_kms_key_id = aws_kms_key.primary.arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.primary, aws_s3_bucket_versioning.secondary]
}
