################################################################################
# DynamoDB global table (version 2019.11.21: one aws_dynamodb_table with replica blocks)
################################################################################

resource "aws_dynamodb_table" "this" {
  provider = aws.primary

  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = var.dynamodb_hash_key
  range_key    = var.dynamodb_range_key

  # Global tables replicate through the stream; NEW_AND_OLD_IMAGES is also what the lab's
  # replicator and the consistency checker read.
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = var.dynamodb_hash_key
    type = "S"
  }

  dynamic "attribute" {
    for_each = var.dynamodb_range_key == null ? [] : [var.dynamodb_range_key]

    content {
      name = attribute.value
      type = "S"
    }
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.primary.arn
  }

  point_in_time_recovery {
    enabled = true
  }

  dynamic "replica" {
    for_each = var.create_dynamodb_replica ? [var.secondary_region] : []

    content {
      region_name            = replica.value
      kms_key_arn            = aws_kms_key.secondary.arn
      point_in_time_recovery = true
      propagate_tags         = true
    }
  }

  tags = merge(local.tags, { (local.fis_tag_key) = "dynamodb-replication-pause" })
}
