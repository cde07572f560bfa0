################################################################################
# Master credentials
#
# Aurora's managed master password (manage_master_user_password) is not supported for clusters that
# belong to a Global Database, so the password is generated here as an ephemeral value and written
# once, through write-only attributes, to the primary cluster and to a secret that Secrets Manager
# replicates to the secondary region. It never enters Terraform state or plan files.
################################################################################

ephemeral "aws_secretsmanager_random_password" "aurora_master" {
  provider = aws.primary

  password_length     = 40
  exclude_punctuation = true # RDS forbids '/', '@', '"' and spaces; letters and digits are enough at 40 chars
}

resource "aws_secretsmanager_secret" "aurora_master" {
  provider = aws.primary
  #checkov:skip=CKV2_AWS_57:Rotation of a Global Database master password must follow the writer across regions; it is rotated by bumping aurora_master_password_version (README "Rotating the master password").

  name                    = "${var.name_prefix}/aurora/master"
  description             = "Master credentials of the ${local.global_cluster_id} Aurora Global Database (replicated to ${var.secondary_region})."
  kms_key_id              = aws_kms_key.primary.arn
  recovery_window_in_days = 7

  replica {
    region     = var.secondary_region
    kms_key_id = aws_kms_key.secondary.arn
  }

  tags = local.tags
}

resource "aws_secretsmanager_secret_version" "aurora_master" {
  provider = aws.primary

  secret_id = aws_secretsmanager_secret.aurora_master.id
  secret_string_wo = jsonencode({
    engine   = "postgres"
    username = var.aurora_master_username
    password = ephemeral.aws_secretsmanager_random_password.aurora_master.random_password
    port     = var.aurora_port
    dbname   = var.aurora_database_name
  })
  secret_string_wo_version = var.aurora_master_password_version
}

locals {
  # A replica secret keeps the primary's name and ARN suffix, only the region differs.
  secret_arns = {
    primary   = aws_secretsmanager_secret.aurora_master.arn
    secondary = replace(aws_secretsmanager_secret.aurora_master.arn, ":${var.primary_region}:", ":${var.secondary_region}:")
  }
}

################################################################################
# Global cluster
################################################################################

resource "aws_rds_global_cluster" "this" {
  provider = aws.primary

  global_cluster_identifier = local.global_cluster_id
  engine                    = "aurora-postgresql"
  engine_version            = var.aurora_engine_version
  database_name             = var.aurora_database_name
  storage_encrypted         = true
  deletion_protection       = var.aurora_deletion_protection
  tags                      = local.tags
}

################################################################################
# Networking of the regional clusters (only when a network is given)
################################################################################

resource "aws_db_subnet_group" "primary" {
  provider = aws.primary
  count    = var.primary_network == null ? 0 : 1

  name       = local.cluster_ids.primary
  subnet_ids = var.primary_network.subnet_ids
  tags       = local.tags
}

resource "aws_db_subnet_group" "secondary" {
  provider = aws.secondary
  count    = var.secondary_network == null ? 0 : 1

  name       = local.cluster_ids.secondary
  subnet_ids = var.secondary_network.subnet_ids
  tags       = local.tags
}

# RDS would create these on first export, unencrypted and kept forever; create them first instead.
resource "aws_cloudwatch_log_group" "aurora_primary" {
  provider = aws.primary

  name              = "/aws/rds/cluster/${local.cluster_ids.primary}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.primary.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "aurora_secondary" {
  provider = aws.secondary

  name              = "/aws/rds/cluster/${local.cluster_ids.secondary}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.secondary.arn
  tags              = local.tags
}

################################################################################
# Cluster parameter groups (one per region, identical): TLS only, DDL and slow-query logging
################################################################################

locals {
  aurora_parameter_family = "aurora-postgresql${split(".", var.aurora_engine_version)[0]}"
}

resource "aws_rds_cluster_parameter_group" "primary" {
  provider = aws.primary

  name        = local.cluster_ids.primary
  family      = local.aurora_parameter_family
  description = "drharness Aurora PostgreSQL cluster parameters (${var.primary_region})"

  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "log_statement"
    value        = "ddl"
    apply_method = "immediate"
  }

  parameter {
    name         = "log_min_duration_statement"
    value        = "1000" # ms: slow statements
    apply_method = "immediate"
  }

  tags = local.tags
}

resource "aws_rds_cluster_parameter_group" "secondary" {
  provider = aws.secondary

  name        = local.cluster_ids.secondary
  family      = local.aurora_parameter_family
  description = "drharness Aurora PostgreSQL cluster parameters (${var.secondary_region})"

  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "log_statement"
    value        = "ddl"
    apply_method = "immediate"
  }

  parameter {
    name         = "log_min_duration_statement"
    value        = "1000" # ms: slow statements
    apply_method = "immediate"
  }

  tags = local.tags
}

################################################################################
# Primary cluster (writer in steady state)
################################################################################

resource "aws_rds_cluster" "primary" {
  provider = aws.primary
  #checkov:skip=CKV2_AWS_8:Backups are Aurora automated backups (aurora_backup_retention_days) plus the cross-region copy that the Global Database itself is; an AWS Backup plan is an account-level concern outside this module.

  cluster_identifier        = local.cluster_ids.primary
  global_cluster_identifier = aws_rds_global_cluster.this.id
  engine                    = aws_rds_global_cluster.this.engine
  engine_version            = aws_rds_global_cluster.this.engine_version
  database_name             = var.aurora_database_name
  port                      = var.aurora_port

  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.primary.name

  master_username            = var.aurora_master_username
  master_password_wo         = ephemeral.aws_secretsmanager_random_password.aurora_master.random_password
  master_password_wo_version = var.aurora_master_password_version

  db_subnet_group_name   = try(aws_db_subnet_group.primary[0].name, null)
  vpc_security_group_ids = try(var.primary_network.db_security_group_ids, null)

  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.primary.arn
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  backup_retention_period             = var.aurora_backup_retention_days
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.aurora_deletion_protection
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "${local.cluster_ids.primary}-final"
  tags                                = merge(local.tags, { (local.fis_tag_key) = "aurora-writer-failure" })

  lifecycle {
    # After a global failover/switchover AWS rewrites the membership of both clusters; Terraform must
    # not try to re-attach or re-create them (hashicorp/terraform-provider-aws#7697).
    ignore_changes = [global_cluster_identifier, replication_source_identifier]
  }

  depends_on = [aws_cloudwatch_log_group.aurora_primary]
}

resource "aws_rds_cluster_instance" "primary" {
  provider = aws.primary
  count    = var.aurora_instances_per_region

  identifier                            = "${local.cluster_ids.primary}-${count.index + 1}"
  cluster_identifier                    = aws_rds_cluster.primary.id
  engine                                = aws_rds_cluster.primary.engine
  engine_version                        = aws_rds_cluster.primary.engine_version
  instance_class                        = var.aurora_instance_class
  db_subnet_group_name                  = try(aws_db_subnet_group.primary[0].name, null)
  publicly_accessible                   = false
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.primary.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  promotion_tier                        = count.index
  copy_tags_to_snapshot                 = true
  tags                                  = local.tags
}

################################################################################
# Secondary cluster (headless until promoted; same instance count and class as the primary)
################################################################################

resource "aws_rds_cluster" "secondary" {
  provider = aws.secondary
  #checkov:skip=CKV2_AWS_8:Backups are Aurora automated backups plus the Global Database itself; AWS Backup plans are account-level.

  cluster_identifier        = local.cluster_ids.secondary
  global_cluster_identifier = aws_rds_global_cluster.this.id
  engine                    = aws_rds_global_cluster.this.engine
  engine_version            = aws_rds_global_cluster.this.engine_version
  port                      = var.aurora_port

  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.secondary.name

  db_subnet_group_name   = try(aws_db_subnet_group.secondary[0].name, null)
  vpc_security_group_ids = try(var.secondary_network.db_security_group_ids, null)

  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.secondary.arn
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  backup_retention_period             = var.aurora_backup_retention_days
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.aurora_deletion_protection
  # A secondary member of a Global Database cannot take a final snapshot; the primary's covers the data.
  skip_final_snapshot = true
  tags                = merge(local.tags, { (local.fis_tag_key) = "aurora-writer-failure" })

  lifecycle {
    ignore_changes = [global_cluster_identifier, replication_source_identifier]
  }

  # A secondary can only join once the primary has a writer instance.
  depends_on = [aws_rds_cluster_instance.primary, aws_cloudwatch_log_group.aurora_secondary]
}

resource "aws_rds_cluster_instance" "secondary" {
  provider = aws.secondary
  count    = var.aurora_instances_per_region

  identifier                            = "${local.cluster_ids.secondary}-${count.index + 1}"
  cluster_identifier                    = aws_rds_cluster.secondary.id
  engine                                = aws_rds_cluster.secondary.engine
  engine_version                        = aws_rds_cluster.secondary.engine_version
  instance_class                        = var.aurora_instance_class
  db_subnet_group_name                  = try(aws_db_subnet_group.secondary[0].name, null)
  publicly_accessible                   = false
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.secondary.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  promotion_tier                        = count.index
  copy_tags_to_snapshot                 = true
  tags                                  = local.tags
}

locals {
  aurora = {
    primary = {
      cluster_id      = aws_rds_cluster.primary.cluster_identifier
      cluster_arn     = aws_rds_cluster.primary.arn
      writer_endpoint = aws_rds_cluster.primary.endpoint
      reader_endpoint = aws_rds_cluster.primary.reader_endpoint
    }
    secondary = {
      cluster_id      = aws_rds_cluster.secondary.cluster_identifier
      cluster_arn     = aws_rds_cluster.secondary.arn
      writer_endpoint = aws_rds_cluster.secondary.endpoint
      reader_endpoint = aws_rds_cluster.secondary.reader_endpoint
    }
  }
}
